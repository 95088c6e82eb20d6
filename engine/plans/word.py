"""Reading an assessment table from a Word document (.docx), as the bureau issues it.

The plan's annex is a Word table: merged cells (类别, 一级指标 and 依据 span many rows), cells
with several lines (two leaders, three sections), a title above it, and often the header
repeated where the table crosses a page or continues in a second table. A merged cell counts
as its value in every cell it covers (as in a spreadsheet); a cell's paragraphs and line
breaks become new lines. The document's title and year (``泉州市教育局2024年度绩效工作方案``)
are read from the paragraphs where they stand and offered as the plan's title.
"""
from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from engine.plans import indicator_table
from engine.plans.table import (
    _ALIASES,
    HEADER_SCAN_ROWS,
    LABELS,
    REQUIRED,
    PlanFileError,
    RawRow,
    RawTable,
    _header_map,
    _norm,
    _to_rows,
)

#: A heading that names a plan's year: 泉州市教育局2024年度绩效工作方案, 泉港区2017年教育工作要点.
TITLE = re.compile(r"^\s*.{0,60}?20\d{2}\s*年.{0,40}$")
TITLE_WORDS = re.compile(r"方案|要点|计划|考评表|目标表|批复表|任务")
HEADERS_LOOKED_FOR = "、".join(LABELS[key] for key in REQUIRED)


def open_docx(data: bytes, filename: str) -> Any:
    """The python-docx document, or :class:`PlanFileError` saying the file is not a Word document."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        return docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise PlanFileError(f"{filename}：不是可读取的 Word 文档（.docx）：{exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a broken package fails deep inside lxml or zipfile
        raise PlanFileError(f"{filename}：不是可读取的 Word 文档（.docx）：{exc}") from exc


def paragraphs(document: Any) -> list[str]:
    """The body's paragraphs as text, in order (tables left out)."""
    return [p.text for p in document.paragraphs]


def document_title(lines: list[str]) -> str:
    """The first heading that names a year and says what the document is; else the first with a year."""
    candidates = [line.strip() for line in lines if line.strip() and TITLE.match(line.strip())]
    named = [line for line in candidates if TITLE_WORDS.search(line) and not re.search(r"[。；]$", line)]
    # A notice that forwards the plan (关于印发《…》的通知) names it; the plan's own heading is the title.
    own = [line for line in named if not re.search(r"《|关于|通知$", line)]
    return (own or named or candidates or [""])[0]


def table_matrix(table: Any) -> list[list[str]]:
    """Every row of a Word table as its cells' text; a merged cell repeats in every cell it covers.

    Walks the grid once with lxml (python-docx's own ``row.cells`` looks up each vertically
    merged cell from the top of the table: half a minute for a thousand rows).
    """
    from docx.oxml.ns import qn

    tr_tag, tc_tag, val = qn("w:tr"), qn("w:tc"), qn("w:val")
    matrix: list[list[str]] = []
    above: dict[int, str] = {}  # grid column → the text of the merged cell that covers it
    for tr in table._tbl.iterchildren(tr_tag):
        before = tr.find(f"{_W}trPr/{_W}gridBefore")
        row: list[str] = [""] * (int(before.get(val)) if before is not None else 0)
        for tc in tr.iterchildren(tc_tag):
            span = tc.find(f"{_W}tcPr/{_W}gridSpan")
            merge = tc.find(f"{_W}tcPr/{_W}vMerge")
            if merge is not None and merge.get(val, "continue") == "continue":
                text = above.get(len(row), "")
            else:
                text = _cell_text(tc)
            for _ in range(int(span.get(val)) if span is not None else 1):
                above[len(row)] = text
                row.append(text)
        matrix.append(row)
    return matrix


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_BREAKS = {f"{_W}br", f"{_W}cr"}


def _paragraph_text(p: Any) -> str:
    parts = []
    for node in p.iter(f"{_W}t", f"{_W}br", f"{_W}cr", f"{_W}tab"):
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag in _BREAKS:
            parts.append("\n")
        else:
            parts.append("\t")
    return "".join(parts)


def _cell_text(tc: Any) -> str:
    # Paragraphs and line breaks both start a new line; blank lines inside a cell are dropped.
    text = "\n".join(_paragraph_text(p) for p in tc.iter(f"{_W}p"))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # A narrow column written top to bottom (重/点/工/作/目/标/︵/68分/︶) is one word, not a list.
    if len(lines) >= 3 and sum(len(line) == 1 for line in lines) * 3 >= len(lines) * 2:
        return "".join(lines)
    return "\n".join(lines)


def read_docx(data: bytes, filename: str) -> RawTable:
    """The assessment table of a .docx: its rows, and the document's title."""
    document = open_docx(data, filename)
    matrices = [table_matrix(t) for t in document.tables]
    title = document_title(paragraphs(document))
    return rows_of_tables(matrices, filename, title)


def rows_of_tables(matrices: list[list[list[str]]], filename: str, title: str) -> RawTable:
    """The first table with an assessment header, continued by the tables after it that repeat it."""
    if not matrices:
        raise PlanFileError(f"{filename}：文档中没有表格（查找的是表头含{HEADERS_LOOKED_FOR}的考评表）；"
                            "文字版的工作要点请先用 kaoping draft-plan 整理成考评表草稿")
    if not any(any(cell for cell in row) for m in matrices for row in m):
        raise PlanFileError(f"{filename}：文档中的表格都是空的（查找的是表头含{HEADERS_LOOKED_FOR}的考评表）")
    problems = []
    for index, matrix in enumerate(matrices):
        try:
            found = _to_rows(matrix, f"{filename} 第 {index + 1} 个表格")
        except PlanFileError as exc:
            problems.append(str(exc))
            continue
        if found.meta.get("levels"):
            if not re.search(r"20\d{2}\s*年", found.title):  # the title stands above the table
                found.title = indicator_table.titled(found.meta["plan"].get("org", ""), title)
            return found
        header = _header_row(matrix)
        rows = [row for row in found.rows if not _repeats_header(row.cells)]
        # A table that crosses into the next one (same header, or none and as many columns) continues.
        offset = len(matrix)
        for following in matrices[index + 1:]:
            more = _continuation(following, header, len(matrix[0]) if matrix else 0, offset)
            if more is None:
                break
            rows.extend(more)
            offset += len(following)
        return RawTable(rows, title or found.title, found.meta)
    raise PlanFileError(f"{filename}：没有找到考评表（表头应含{HEADERS_LOOKED_FOR}）；" + "；".join(problems))


def _header_row(matrix: list[list[str]]) -> list[str]:
    for row in matrix[:HEADER_SCAN_ROWS]:
        if {"code", "text"} <= set(_header_map(row).values()):
            return row
    return []


def _repeats_header(cells: dict[str, Any]) -> bool:
    """A header row repeated inside the table (where it crosses a page): every cell is its own label."""
    filled = [(key, value) for key, value in cells.items() if value]
    return bool(filled) and all(_ALIASES.get(_norm(value)) == key for key, value in filled)


def _continuation(matrix: list[list[str]], header: list[str], width: int, offset: int) -> list[RawRow] | None:
    if not matrix:
        return []
    mapping = _header_map(header)
    start = 0
    if _header_row(matrix):
        if _header_map(_header_row(matrix)) != mapping:
            return None
        start = matrix.index(_header_row(matrix)) + 1
    elif len(matrix[0]) != width:
        return None
    rows = []
    for number, row in enumerate(matrix[start:], start=offset + start + 1):
        cells = {key: (row[i].strip() if i < len(row) else "") for i, key in mapping.items()}
        if any(cells.values()) and not _repeats_header(cells):
            rows.append(RawRow(number, cells))
    return rows
