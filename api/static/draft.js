// The plan import page: a guessed or to-fill cell loses its mark once someone edits it; the count follows.
(function () {
  "use strict";
  var form = document.getElementById("draft-form");
  if (!form) { return; }
  var counter = document.getElementById("guessed-count");
  function remaining() {
    return form.querySelectorAll("td.cell-guessed, td.cell-to-fill").length;
  }
  function show() { if (counter) { counter.textContent = String(remaining()); } }
  form.addEventListener("input", function (event) {
    var cell = event.target.closest("td");
    if (!cell || !(cell.classList.contains("cell-guessed") || cell.classList.contains("cell-to-fill"))) { return; }
    cell.classList.remove("cell-guessed", "cell-to-fill");
    cell.classList.add("cell-edited");
    var label = cell.querySelector(".mark-label");
    if (label) { label.textContent = "已修改"; }
    var row = cell.closest("tr");
    var marks = row.querySelector("input[name$='.how']");
    if (marks) {
      var column = cell.getAttribute("data-column");
      marks.value = marks.value.split(";").filter(function (part) {
        return part && part.split("=")[0] !== column;
      }).join(";") + ";" + column + "=已修改";
    }
    show();
  });
  show();
})();
