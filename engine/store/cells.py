"""Spreadsheet cells that never run: a person's text reaches a cell as text, never as a formula.

One helper for every sheet and CSV file the engine writes (the plan table, the report, the audit
export): a value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be
taken for a formula (CSV injection, a live ``=HYPERLINK(…)``).
"""
from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """For CSV: text a spreadsheet would run as a formula gets a leading apostrophe; other values as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def as_text(cell) -> None:
    """For an openpyxl cell (write-only or not): a string value is stored as a string, never a formula."""
    if isinstance(cell.value, str):
        cell.data_type = "s"


def sheet_as_text(sheet) -> None:
    """Every string cell of a worksheet stored as text (call after filling it, before saving)."""
    for row in sheet.iter_rows():
        for cell in row:
            as_text(cell)
