/* 评分表: the computed score of each row and the sheet's totals, updated as the office types.
   The page works without this file: the server computes the same on saving. */
(function () {
  "use strict";
  var table = document.querySelector("table.scores");
  if (!table) { return; }
  var total = document.getElementById("sheet-total");
  var weightOut = document.getElementById("sheet-weight");
  var rateOut = document.getElementById("sheet-rate");
  var cents = function (x) { return Math.round(x * 100) / 100; };
  var text = function (x) { return String(cents(x)); };

  function rowScore(row) {
    var weight = parseFloat(row.dataset.weight);
    var score = row.querySelector("input.score").value.trim();
    var points = row.querySelector("input.points").value.trim();
    if (!score && !points) { return null; }
    var value = score ? parseFloat(score) : weight - parseFloat(points || "0");
    if (isNaN(value) || value < 0 || value > weight) { return NaN; }
    return value;
  }

  function update() {
    var sum = parseFloat(total.dataset.score) || 0;
    var weight = parseFloat(total.dataset.weight) || 0;
    table.querySelectorAll("tr.open").forEach(function (row) {
      var value = rowScore(row);
      var out = row.querySelector("output.computed");
      if (value === null) { out.textContent = "—"; return; }
      if (isNaN(value)) { out.textContent = "有误"; return; }
      out.textContent = text(value);
      sum += value;
      weight += parseFloat(row.dataset.weight);
    });
    total.textContent = text(sum);
    weightOut.textContent = text(weight);
    rateOut.textContent = weight ? text(Math.min(100, sum / weight * 100)) : "—";
  }

  table.addEventListener("input", update);
  update();
})();
