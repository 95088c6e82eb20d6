"""Writing a plan back out as the assessment table (.xlsx), merged cells and all.

The columns are those of the seed's 绩效目标考评表; ``extra`` adds columns (e.g. scores)
after them. What this writes, :mod:`engine.plans.table` reads back as the same plan.
"""
from __future__ import annotations

import gc
import io
import re
import threading
from contextlib import contextmanager
from datetime import date
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from engine.plans import target_checkpoints
from engine.store.models import Indicator, Plan, Target
from engine.workflow.targets import Parties, parties_for

HEADERS = ("编号", "类别", "一级指标", "依据", "年度目标", "权重分值", "完成时限", "分管领导", "责任科室", "科室责任人")
WIDTHS = (9, 12, 30, 30, 50, 8, 10, 10, 10, 10)
#: Every cell of the table: wrapped, centred vertically, thin grey borders.
CELL = {"text_wrap": True, "valign": "vcenter", "border": 1, "border_color": "#999999"}


def _number(value: Decimal | None) -> Any:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


_CODE_PART = re.compile(r"\d+|[^\d\s\-－‐‑–—.．。·、_/]+")


def code_key(code: str) -> tuple:
    """A sort key for target codes of any form: ``1-1-2`` < ``1-1-10`` < ``2-1`` < ``D-1`` < ``动态1``.

    Digit runs compare as numbers and other runs as text, separators (dashes, dots) aside;
    each part is a (kind, number, text) triple, so a number never meets a string in a
    comparison (``D-1`` beside ``1-1`` used to raise). The code itself breaks ties.
    """
    parts = tuple((0, int(p), "") if p.isdecimal() else (1, 0, p) for p in _CODE_PART.findall(code or ""))
    return parts, code or ""


def plan_rows(session: Session, plan: Plan, known: Sequence[tuple[Target, Parties, Sequence[Any]]] | None = None
              ) -> list[tuple[Target, list[Any]]]:
    """Each target of the plan in code order, with its cells in the table's column order (``known``: the
    plan's targets in code order with their parties and indicators in order, already read, e.g. by the
    score sheet; an indicator is anything with its ``name`` and ``raw``)."""
    out = []
    if known is None:
        found = sorted(session.exec(select(Target).where(Target.plan_id == plan.id, Target.workflow == "target")).all(),
                       key=lambda t: code_key(t.code))
        parties = parties_for(session, [t.id for t in found])  # two queries for the whole table, not two per row
        indicators: dict[int, list[Any]] = {t.id: [] for t in found}
        if found:
            for row in session.exec(select(Indicator).where(Indicator.target_id.in_(list(indicators)))
                                    .order_by(Indicator.position)):
                indicators[row.target_id].append(row)
    else:
        found = [t for t, _, _ in known]
        parties, indicators = {t.id: p for t, p, _ in known}, {t.id: rows for t, _, rows in known}
    for t in found:
        p = parties[t.id]
        points = plan.categories.get(t.category)
        category = f"{t.category}（{points:g}分）" if points is not None and t.category else t.category
        out.append((t, [t.code, category, t.indicator, t.basis, t.text, _number(t.weight), t.deadline_phrase,
                        "\n".join(p.leaders), "\n".join(p.sections), "\n".join(p.persons),
                        "\n".join(f"{i.name}：{i.raw}" for i in indicators[t.id]), t.extra_columns or {},
                        _checkpoint_cell(t)]))
    return out


def _checkpoint_cell(target: Target) -> str:
    """The 节点 cell: the checkpoints the deadline phrase does not give (those it gives come back with it)."""
    lines = []
    for c in target_checkpoints.normalise(target.checkpoints):
        if c["by"]:
            day = date.fromisoformat(c["date"])
            lines.append(f"{day.month}月{day.day}日前" + (f"：{c['what']}" if c["what"] else ""))
    return "\n".join(lines)


#: How many files are being made with the cycle collector held off (:func:`collector_paused`), and whether it
#: ran when the first of them began.
_pauses = 0
_resume = False
_pausing = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector held off while a file is made. What the file is made of (rows, cells, strings) lives
    until it is written, so a full collection frees none of it, only walks it — ever more of it, again and
    again as it grows (a second of a 10,000-target table's). Reference counting frees everything else as ever;
    the collector runs again, as it was, once the last file being made is done."""
    global _pauses, _resume
    with _pausing:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pausing:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


@collector_paused()
def write_xlsx(session: Session, plan_id: int, extra: Sequence[tuple[str, Callable[[Target], Any]]] = (),
               footer: Sequence[tuple[str, Any, str]] = (),
               sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = (),
               known: Sequence[tuple[Target, Parties, Sequence[Any]]] | None = None) -> bytes:
    """The plan as an .xlsx assessment table (category and indicator cells merged down).

    ``extra`` adds columns after the table's own; ``footer`` adds total rows (label, weight,
    note), which an import skips as the real table's 合计 rows; ``sheets`` adds worksheets after
    the table (name, header, rows), plain cells; ``known``: the targets, parties and indicators already read
    (:func:`plan_rows`).
    """
    import xlsxwriter

    plan = session.get(Plan, plan_id)
    rows = plan_rows(session, plan, known)
    with_indicators = any(cells[10] for _, cells in rows)
    # The columns of the imported table the engine does not read, in the order first seen: written back.
    kept = list(dict.fromkeys(name for _, cells in rows for name in cells[11]))
    with_checkpoints = any(cells[12] for _, cells in rows)
    headers = list(HEADERS) + (["量化指标"] if with_indicators else []) + (["节点"] if with_checkpoints else []) + kept \
        + [name for name, _ in extra]
    buffer = io.BytesIO()
    # XlsxWriter writes the sheet's XML straight from the values (no cell objects); text stays text,
    # never a formula, number or link.
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                        "strings_to_urls": False})
    plain, bold = book.add_format(CELL), book.add_format(CELL | {"bold": True})
    sheet = book.add_worksheet("绩效目标考评表")
    for index, width in enumerate(list(WIDTHS) + [16] * (len(headers) - len(WIDTHS))):
        sheet.set_column(index, index, width)
    sheet.merge_range(0, 0, 0, len(headers) - 1, plan.title,
                      book.add_format({"bold": True, "font_size": 14, "align": "center"}))
    for column, name in enumerate(headers):
        sheet.write_string(1, column, name, bold)
    # Each merge where it starts (row: [(column, last row)]) and the rows it covers below (row: [column]).
    merges: dict[int, list[tuple[int, int]]] = {}
    covered: dict[int, list[int]] = {}
    for first_row, column, last_row in _merge_groups(rows):
        merges.setdefault(first_row - 1, []).append((column - 1, last_row - 1))
        for r in range(first_row, last_row):
            covered.setdefault(r, []).append(column - 1)
    for number, (target, cells) in enumerate(rows, start=2):
        values = cells[:10] + ([cells[10]] if with_indicators else []) + ([cells[12]] if with_checkpoints else []) \
            + [_plain(cells[11].get(name)) for name in kept] + [_plain(get(target)) for _, get in extra]
        for column, last in merges.get(number, ()):
            sheet.merge_range(number, column, last, column, "", plain)
        for column in covered.get(number, ()):  # under a merge: its empty styled cell
            values[column] = None
        sheet.write_row(number, 0, values, plain)
    for offset, (label, weight, note) in enumerate(footer, start=len(rows) + 2):
        values = [None, label, None, None, note, weight]
        sheet.write_row(offset, 0, [_plain(v) for v in values + [None] * (len(headers) - len(values))], plain)
    for name, header, table in sheets:
        more = book.add_worksheet(name)
        for r, values in enumerate([header, *table]):
            more.write_row(r, 0, [_plain(v) for v in values])
    book.close()
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """A value as its cell is written by type: text, numbers and truth values as they are, a Decimal as a float,
    anything else as its text (``None`` and "" make an empty styled cell)."""
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    return float(value) if isinstance(value, Decimal) else str(value)


def _merge_groups(rows) -> list[tuple[int, int, int]]:
    """The merges of the table (first row, column, last row): the category cells over each category's
    rows, and indicator and basis over each indicator's."""
    first = 3  # rows 1 and 2 are the title and the header
    out = []
    for column, key in ((2, lambda c: c[1]), (3, lambda c: (c[1], c[2])), (4, lambda c: (c[1], c[2], c[3]))):
        start = 0
        for i in range(1, len(rows) + 1):
            if i == len(rows) or key(rows[i][1]) != key(rows[start][1]):
                if i - start > 1:
                    out.append((first + start, column, first + i - 1))
                start = i
    return out