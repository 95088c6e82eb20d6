"""A draft assessment table from a work-point document in prose, each cell marked read or guessed.

Each numbered task becomes a target: its code from the numbering (``2-7`` for （二）7.), its group
heading the category, its first sentence the indicator, the rest the target text, the document
the basis; responsible units, leaders and persons where the text names them; the first time
phrase as the deadline (else 12月底前, guessed); the quantitative goals in the text proposed as
indicators. Weights are never guessed: the office fills them in, with whatever else is blank,
and imports the table. The draft is written as an .xlsx in the import's own columns plus a
column 识别情况 that says, for each cell, whether it was read, guessed or is to be filled in.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from engine.plans import prose
from engine.plans.table import LABELS, PlanFileError, RawRow, RawTable

READ, GUESSED, TO_FILL = "读取", "推测", "待填"
COLUMNS = ("code", "category", "indicator", "basis", "text", "weight", "deadline", "leaders", "sections", "persons",
           "indicators")
NOTE_HEADER = "识别情况"
DEFAULT_DEADLINE = "12月底前"
FILLS = {GUESSED: "FFF2CC", TO_FILL: "F8CBAD"}


@dataclass
class DraftRow:
    """One target of the draft: its cells (column → text) and how each was found (column → 读取/推测/待填)."""

    cells: dict[str, str]
    how: dict[str, str] = field(default_factory=dict)

    def note(self) -> str:
        """The 识别情况 cell: 读取：编号、类别…；推测：完成时限…；待填：权重分值…"""
        groups = {kind: [LABELS[c] for c in COLUMNS if self.how.get(c) == kind] for kind in (READ, GUESSED, TO_FILL)}
        return "；".join(f"{kind}：{'、'.join(names)}" for kind, names in groups.items() if names)


@dataclass
class Draft:
    title: str
    org: str
    year: int
    rows: list[DraftRow]

    def groups(self) -> list[str]:
        return list(dict.fromkeys(row.cells["category"] for row in self.rows))


def from_document(data: bytes, filename: str, *, plan_year: int | None = None) -> Draft:
    """The draft table of a work-point document (.docx or .txt); refused when it has no numbered tasks."""
    points = prose.work_points(prose.read_lines(data, filename))
    if not points.tasks:
        raise PlanFileError(f"{filename}：没有找到编号的工作任务（查找的是“（一）…”分组下以“1.”“2.”开头的段落）")
    year = plan_year or points.year
    if not year:
        raise PlanFileError(f"{filename}：无法从标题中看出年度，请指定计划年度")
    return Draft(points.title, points.org, year, [_row(task, points, year) for task in points.tasks])


def _row(task: prose.Task, points: prose.WorkPoints, year: int) -> DraftRow:
    named, text = prose.units(task.text)
    indicator, rest = prose.first_sentence(text)
    phrase = prose.deadline(text, year)
    quantities = prose.quantities(text, year)
    code = f"{task.group_index}-{task.number}" if task.group_index else str(task.number)
    cells = {"code": code, "category": task.group, "indicator": indicator, "basis": points.title,
             "text": rest or indicator, "weight": "", "deadline": phrase or DEFAULT_DEADLINE,
             "leaders": "\n".join(named["leaders"]), "sections": "\n".join(named["sections"]),
             "persons": "\n".join(named["persons"]), "indicators": "\n".join(f"{n}：{v}" for n, v in quantities)}
    how = {column: READ for column in ("code", "category", "indicator", "basis", "text")}
    how["deadline"] = READ if phrase else GUESSED
    how["indicators"] = GUESSED if quantities else ""
    how["weight"] = TO_FILL
    for column in ("leaders", "sections", "persons"):
        how[column] = READ if cells[column] else TO_FILL
    return DraftRow(cells, how)


def write_xlsx(draft: Draft) -> bytes:
    """The draft as an .xlsx the import reads: a title row, the header, one row per target; guessed and
    to-fill cells shaded, and the 识别情况 column saying so in words."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = "考评表（草稿）"
    sheet.append([draft.title])
    sheet.append([LABELS[c] for c in COLUMNS] + [NOTE_HEADER])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    fills = {kind: PatternFill("solid", fgColor=color) for kind, color in FILLS.items()}
    wrap = Alignment(wrap_text=True, vertical="top")
    for number, row in enumerate(draft.rows, start=3):
        sheet.append([row.cells[c] for c in COLUMNS] + [row.note()])
        for index, column in enumerate(COLUMNS, start=1):
            cell = sheet.cell(row=number, column=index)
            cell.alignment = wrap
            if row.how.get(column) in fills:
                cell.fill = fills[row.how[column]]
    for letter, width in zip("ABCDEFGHIJKL", (8, 24, 30, 20, 60, 8, 12, 12, 16, 12, 30, 40)):
        sheet.column_dimensions[letter].width = width
    legend = book.create_sheet("说明")
    legend.append(["颜色", "含义"])
    legend.append(["黄色", "推测（由文中推断，请核对）"])
    legend.append(["橙色", "待填（文中没有，请补全：权重分值、分管领导、责任科室、科室责任人）"])
    legend.append(["单位", draft.org or "（未识别，导入时请指定）"])
    legend["A2"].fill, legend["A3"].fill = fills[GUESSED], fills[TO_FILL]
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_table(rows: list[dict[str, str]], title: str) -> RawTable:
    """Rows edited on a page (column → text) as the table the importer reads; blank rows dropped."""
    kept = [RawRow(n, {c: (row.get(c) or "").strip() for c in COLUMNS})
            for n, row in enumerate(rows, start=1) if any((row.get(c) or "").strip() for c in COLUMNS)]
    return RawTable(kept, title)


def from_upload(data: bytes, filename: str, *, plan_year: int | None = None, weights: str | None = None,
                leader: str | None = None, section: str | None = None) -> Draft:
    """Any plan file as rows to review: a table's cells as read, or a prose document's draft.

    A .txt is prose; a .docx is read as a table first and as prose when it holds no assessment
    table; the other kinds are tables (a three-level table takes its weights from ``weights``).
    """
    import re

    from engine.plans import indicator_table
    from engine.plans.table import read

    lower = filename.lower()
    if lower.endswith(".txt"):
        return from_document(data, filename, plan_year=plan_year)
    try:
        table = indicator_table.complete(read(data, filename), weights=weights, leader=leader, section=section)
    except PlanFileError as exc:
        if not lower.endswith(".docx") or "三级指标" in str(exc) or "--weights" in str(exc):
            raise
        try:
            return from_document(data, filename, plan_year=plan_year)
        except PlanFileError as prose_error:
            raise PlanFileError(f"{exc}；按工作要点读取也不成：{prose_error}") from prose_error
    rows = []
    for raw in table.rows:
        cells = {c: _cell(raw.cells.get(c)) for c in COLUMNS}
        rows.append(DraftRow(cells, {c: READ for c in COLUMNS if cells[c]}))
    found = re.search(r"(20\d{2})\s*年", table.title)
    org = (table.meta.get("plan") or {}).get("org") or ""
    year = plan_year or (table.meta.get("plan") or {}).get("year") or (int(found.group(1)) if found else 0)
    return Draft(table.title, str(org), int(year or 0), rows)


def _cell(value) -> str:
    if isinstance(value, list):  # a YAML plan's indicators: [{name, value}, …]
        return "\n".join(f"{i.get('name', '')}：{i.get('value', '')}" for i in value if isinstance(i, dict))
    return "" if value is None else str(value)
