"""Reading an assessment table from an old Excel file (.xls, Excel 97–2003), with xlrd.

The same layout as the .xlsx: the header on any of the first rows, a title above it, merged
cells counting as their top-left value in every cell they cover.
"""
from __future__ import annotations

from engine.plans.table import PlanFileError, RawTable, _to_rows


def read_xls(data: bytes, filename: str) -> RawTable:
    """The rows of the first sheet of a .xls file."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True)
    except Exception as exc:  # noqa: BLE001 - xlrd raises its own and struct/zip errors for a broken file
        raise PlanFileError(f"{filename}：不是可读取的 .xls 文件（{exc}）") from exc
    if not book.nsheets:
        raise PlanFileError(f"{filename}：工作簿中没有工作表")
    sheet = book.sheet_by_index(0)
    matrix = [sheet.row_values(r) for r in range(sheet.nrows)]
    for row in matrix:
        row.extend([""] * (sheet.ncols - len(row)))
    for rlo, rhi, clo, chi in sheet.merged_cells:
        value = matrix[rlo][clo]
        for r in range(rlo, rhi):
            for c in range(clo, chi):
                matrix[r][c] = value
    return _to_rows(matrix, filename)
