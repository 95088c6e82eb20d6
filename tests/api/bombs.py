"""Hostile plan files: a YAML alias bomb and zip-bomb spreadsheets, built small, unpacking huge."""
from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook


def yaml_bomb(levels: int = 9, fan: int = 9) -> bytes:
    """Nested aliases: ``fan ** levels`` strings from a file of well under a kilobyte."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * fan) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fan) + "]")
    lines.append(f"targets: [{{编号: '1', 年度目标: *l{levels - 1}, 权重分值: 1, 完成时限: 12月底}}]")
    return ("\n".join(lines) + "\n").encode()


def xlsx_bomb(cells: int, padding: int = 0) -> bytes:
    """A real xlsx whose first sheet holds ``cells`` cells (each padded by ``padding`` spaces of text)."""
    book = Workbook()
    book.active.append(["编号", "年度目标"])
    plain = io.BytesIO()
    book.save(plain)
    columns = 20
    value = "x" + " " * padding
    rows = []
    for row in range(1, cells // columns + 1):
        rows.append(f'<row r="{row}">' + "".join(f'<c r="{_col(c)}{row}" t="inlineStr"><is><t>{value}</t></is></c>'
                                                  for c in range(columns)) + "</row>")
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             + "".join(rows) + "</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for item in source.infolist():
            data = sheet.encode() if item.filename == "xl/worksheets/sheet1.xml" else source.read(item)
            bomb.writestr(item.filename, data)
    return out.getvalue()


def _col(index: int) -> str:
    return chr(ord("A") + index)
