"""Writing real Word (.docx) and old Excel (.xls) files for the import tests, as bureaus make them.

Tables get vertically merged cells where a column carries down (a blank cell under a value
merges with it), cells with several lines (paragraphs and line breaks), a title and prose
above them; prose documents are paragraphs.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

MERGE_DOWN = (1, 2, 3)  # 类别, 一级指标, 依据 in the assessment table's column order


def merge_runs(rows: Sequence[Sequence[str]], columns: Iterable[int]) -> list[tuple[int, int, int]]:
    """(column, first row, last row) of each run of a value followed by blanks, per column.

    A run ends where the column, or one to its left among ``columns``, starts a new value.
    """
    columns = sorted(columns)
    runs = []
    for column in columns:
        left = [c for c in columns if c < column]
        start = 0
        for index in range(1, len(rows) + 1):
            ends = index == len(rows) or rows[index][column] or any(rows[index][c] for c in left)
            if ends:
                if index - 1 > start:
                    runs.append((column, start, index - 1))
                start = index
    return runs


def _set(cell, text: str, paragraphs: bool) -> None:
    lines = str(text).split("\n")
    if paragraphs and len(lines) > 1:  # one paragraph per line, as Word users type them
        cell.text = lines[0]
        for line in lines[1:]:
            cell.add_paragraph(line)
    else:  # line breaks inside one paragraph (Shift+Enter)
        cell.text = str(text)


def docx_bytes(*, before: Sequence[str] = (), tables: Sequence[dict] = (), after: Sequence[str] = ()) -> bytes:
    """A .docx with paragraphs ``before``, then each table, then ``after``.

    A table is ``{"rows": [[…], …], "merge": [(col, first, last), …], "paragraph_columns": {…},
    "caption": "…"}``; merged ranges hold the text of their first row.
    """
    import docx

    document = docx.Document()
    for line in before:
        document.add_paragraph(line)
    for spec in tables:
        if spec.get("caption"):
            document.add_paragraph(spec["caption"])
        rows = spec["rows"]
        width = max((len(r) for r in rows), default=0)
        table = document.add_table(rows=len(rows), cols=width)
        merged = set()
        for column, first, last in spec.get("merge", ()):
            cell = table.cell(first, column).merge(table.cell(last, column))
            _set(cell, rows[first][column], False)
            merged.update((r, column) for r in range(first, last + 1))
        for r, row in enumerate(rows):
            cells = table.rows[r].cells
            for c, value in enumerate(row):
                if (r, c) not in merged and value != "":
                    _set(cells[c], value, c in spec.get("paragraph_columns", ()))
        for column, first, last in spec.get("hmerge", ()):  # (row, first column, last column)
            table.cell(column, first).merge(table.cell(column, last))
    for line in after:
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(title: str, rows: Sequence[Sequence[str]], merge: Iterable[tuple[int, int, int]], offset: int = 1) -> bytes:
    """The same table as an .xlsx: a title row, then ``rows`` (header first), merged as given."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([title])
    for row in rows:
        sheet.append(list(row))
    for column, first, last in merge:
        sheet.merge_cells(start_row=first + offset + 1, start_column=column + 1, end_row=last + offset + 1,
                          end_column=column + 1)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xls_bytes(title: str, rows: Sequence[Sequence[str]], merge: Iterable[tuple[int, int, int]]) -> bytes:
    """The same table as an old Excel .xls (xlwt), merged ranges written once."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("考评表")
    sheet.write_merge(0, 0, 0, max(len(r) for r in rows) - 1, title)
    covered = {}
    for column, first, last in merge:
        covered.update({(r, column): (first, last) for r in range(first, last + 1)})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            span = covered.get((r, c))
            if span is None:
                sheet.write(r + 1, c, value)
            elif span[0] == r:
                sheet.write_merge(r + 1, span[1] + 1, c, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
