"""Reading an assessment table (绩效目标考评表) from .xlsx, .csv or .yaml into plain rows.

Columns are found by their Chinese header (English aliases work too), in any order, on any of
the first rows (a title row above the header is normal). Merged cells in a spreadsheet count
as their top-left value in every cell they cover; the caller carries blank category and
indicator cells down, as a person reads the table.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.workflow import yamlsource

#: Our column → the headers that name it (Chinese as the table writes it, then English).
COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("编号", "序号", "code"),
    "category": ("类别", "目标类别", "category"),
    "indicator": ("一级指标", "指标", "indicator"),
    "basis": ("依据", "目标依据", "basis"),
    "text": ("年度目标", "年度工作目标", "目标内容", "target", "text"),
    "weight": ("权重分值", "权重", "分值", "weight"),
    "deadline": ("完成时限", "时限", "deadline"),
    "leaders": ("分管领导", "分管局领导", "leaders", "leader"),
    "sections": ("责任科室", "责任单位", "sections", "section"),
    "persons": ("科室责任人", "责任人", "persons", "person"),
    "indicators": ("量化指标", "绩效指标", "indicators"),
    "checkpoints": ("节点", "阶段节点", "checkpoints"),
}
REQUIRED = ("code", "text", "weight", "deadline")
EXTRA = "extra"  # a row's cells under headers of no column above: {header: text}
#: Columns the system computes and writes into its own tables (the report's scores): never plan data.
RESULT_COLUMNS = ("状态", "自评分", "得分", "扣分", "扣分理由", "加分", "指标计分")
LABELS = {key: names[0] for key, names in COLUMNS.items()}
HEADER_SCAN_ROWS = 10


class PlanFileError(Exception):
    """The file cannot be read as a table at all (wrong type, no header, bad encoding)."""


@dataclass
class RawRow:
    """One table row: its number in the file (1-based, as a spreadsheet shows it) and its cells."""

    number: int
    cells: dict[str, Any]


@dataclass
class RawTable:
    rows: list[RawRow]
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # plan data a YAML file gives (plan, milestones)


def _norm(header: Any) -> str:
    return re.sub(r"\s+", "", str(header or "")).lower()


_ALIASES = {_norm(name): key for key, names in COLUMNS.items() for name in names}
_RESULTS = {_norm(name) for name in RESULT_COLUMNS}


def _header_map(row: list[Any]) -> dict[int, str]:
    found: dict[int, str] = {}
    for index, cell in enumerate(row):
        key = _ALIASES.get(_norm(cell))
        if key and key not in found.values():
            found[index] = key
    return found


def _to_rows(matrix: list[list[Any]], filename: str) -> RawTable:
    for header_index, row in enumerate(matrix[:HEADER_SCAN_ROWS]):
        mapping = _header_map(row)
        if {"code", "text"} <= set(mapping.values()):
            break
    else:
        from engine.plans import indicator_table  # 一级/二级/三级指标 and 指标值: the other kind of table

        levels = indicator_table.from_matrix(matrix, filename)
        if levels is not None:
            return levels
        raise PlanFileError(f"{filename}：前 {HEADER_SCAN_ROWS} 行中找不到表头（至少需要“编号”和“年度目标”两列）")
    missing = [LABELS[key] for key in REQUIRED if key not in mapping.values()]
    if missing:
        raise PlanFileError(f"{filename}：第 {header_index + 1} 行表头缺少列：{'、'.join(missing)}")
    # A merged title row repeats its text in every cell it spans: keep each text once.
    title = " ".join(dict.fromkeys(str(c).strip() for r in matrix[:header_index] for c in r if c not in (None, "")))
    # Columns the engine does not read (考评依据, 备注 …) are kept with the target as written.
    extras = {index: str(cell).strip() for index, cell in enumerate(matrix[header_index])
              if index not in mapping and _text(cell) and _norm(cell) not in _RESULTS}
    rows = []
    for offset, row in enumerate(matrix[header_index + 1:], start=header_index + 2):
        cells: dict[str, Any] = {key: _text(row[index]) if index < len(row) else "" for index, key in mapping.items()}
        extra = {name: _text(row[index]) for index, name in extras.items() if index < len(row) and _text(row[index])}
        if any(cells.values()):
            cells[EXTRA] = extra
            rows.append(RawRow(offset, cells))
    return RawTable(rows, title)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\x00", "").strip()


def _read_csv(data: bytes, filename: str) -> RawTable:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PlanFileError(f"{filename}：无法识别文件编码（支持 UTF-8 与 GB18030）")
    return _to_rows(list(csv.reader(io.StringIO(text, newline=""))), filename)


#: What a plan's spreadsheet may hold, checked from its zip directory before a cell is read.
MAX_XLSX_UNPACKED_BYTES = 32 * 1_048_576
MAX_XLSX_CELLS = 100_000
MAX_XLSX_PARTS = 1_000


def _check_xlsx(data: bytes, filename: str) -> None:
    """Refuse a spreadsheet that unpacks to more than the limits (a zip bomb) before opening it."""
    import zipfile
    import zlib

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise PlanFileError(f"{filename}：不是可读取的 xlsx 文件（{exc}）") from exc
    unpacked = sum(p.file_size for p in parts)
    if len(parts) > MAX_XLSX_PARTS or unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise TableTooLarge(f"{filename}：解压后 {unpacked / 1_048_576:.1f} MiB、{len(parts)} 个部件，"
                            f"超过上限（{MAX_XLSX_UNPACKED_BYTES // 1_048_576} MiB、{MAX_XLSX_PARTS} 个部件）",
                            f"xlsx 解压后最多 {MAX_XLSX_UNPACKED_BYTES // 1_048_576} MiB")
    cells = 0
    for part in parts:
        if not (part.filename.startswith("xl/worksheets/") and part.filename.endswith(".xml")):
            continue
        try:
            with archive.open(part) as stream:
                carry = b""
                while chunk := stream.read(1_048_576):
                    text = carry + chunk
                    cut = text.rfind(b"<")  # a tag is never split: the part from the last "<" waits for the next chunk
                    cut = len(text) if cut < 0 else cut
                    cells += len(_CELL_TAG.findall(text, 0, cut))
                    carry = text[cut:]
                    if cells > MAX_XLSX_CELLS:
                        raise TableTooLarge(f"{filename}：单元格超过 {MAX_XLSX_CELLS} 个",
                                            f"xlsx 最多 {MAX_XLSX_CELLS} 个单元格")
                cells += len(_CELL_TAG.findall(carry))
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise PlanFileError(f"{filename}：不是可读取的 xlsx 文件（{exc}）") from exc
    if cells > MAX_XLSX_CELLS:
        raise TableTooLarge(f"{filename}：单元格超过 {MAX_XLSX_CELLS} 个", f"xlsx 最多 {MAX_XLSX_CELLS} 个单元格")


_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s>/]")


class TableTooLarge(PlanFileError):
    """A file over a stated size limit (``limit`` says which)."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message, limit)
        self.limit = limit

    def __str__(self) -> str:
        return self.args[0]


def _read_xlsx(data: bytes, filename: str) -> RawTable:
    from openpyxl import load_workbook

    _check_xlsx(data, filename)
    try:
        book = load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise PlanFileError(f"{filename}：不是可读取的 xlsx 文件（{exc}）") from exc
    sheet = book.worksheets[0]
    matrix = [list(row) for row in sheet.iter_rows(values_only=True)]
    # A merged range holds its value in the top-left cell only: spread it over the range.
    for merged in sheet.merged_cells.ranges:
        value = matrix[merged.min_row - 1][merged.min_col - 1]
        for r in range(merged.min_row - 1, merged.max_row):
            for c in range(merged.min_col - 1, merged.max_col):
                matrix[r][c] = value
    return _to_rows(matrix, filename)


def _read_yaml(data: bytes, filename: str) -> RawTable:
    try:
        doc, where = yamlsource.load(data.decode("utf-8-sig"), filename)
    except yamlsource.YamlSyntaxError as exc:
        raise PlanFileError(str(exc.problem)) from exc
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{filename}：YAML 文件应为 UTF-8 编码") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("targets"), list):
        raise PlanFileError(f"{filename}：YAML 计划应包含 targets 列表")
    rows = []
    for index, item in enumerate(doc["targets"]):
        if not isinstance(item, dict):
            raise PlanFileError(f"{filename}:{where.line(['targets', index])}: 每个目标应为键值对")
        cells: dict[str, Any] = {EXTRA: {}}
        for key, value in item.items():
            column = _ALIASES.get(_norm(key))
            if key == EXTRA and isinstance(value, dict):  # extra: {考评依据: …, 备注: …}
                cells[EXTRA] = {str(k): _yaml_cell(v) for k, v in value.items() if _yaml_cell(v)}
                continue
            if column is None:
                raise PlanFileError(f"{filename}:{where.line(['targets', index, key])}: 未知字段“{key}”"
                                    f"（表中其他列请写在 extra 下）")
            cells[column] = value if column == "indicators" and isinstance(value, list) else _yaml_cell(value)
        rows.append(RawRow(where.line(["targets", index]), cells))
    aliases = doc.get("aliases")
    if aliases is not None and not (isinstance(aliases, dict) and all(isinstance(v, str) for v in aliases.values())):
        raise PlanFileError(f"{filename}:{where.line(['aliases'])}: aliases 应为“简称: 全称”的键值对")
    meta = {key: doc[key] for key in ("plan", "milestones", "aliases") if key in doc}
    return RawTable(rows, str((doc.get("plan") or {}).get("title", "")), meta)


def _yaml_cell(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return _text(value)


def _read_docx(data: bytes, filename: str) -> RawTable:
    from engine.plans.word import read_docx

    return read_docx(data, filename)


def _read_xls(data: bytes, filename: str) -> RawTable:
    from engine.plans.xls import read_xls

    return read_xls(data, filename)


READERS = {".csv": _read_csv, ".xlsx": _read_xlsx, ".yaml": _read_yaml, ".yml": _read_yaml, ".docx": _read_docx,
           ".xls": _read_xls}


def read(data: bytes, filename: str) -> RawTable:
    """The rows of a plan file; the type follows the file name's ending."""
    reader = READERS.get(Path(filename).suffix.lower())
    if reader is None:
        raise PlanFileError(f"{filename}：不支持的文件类型（支持 .xlsx、.xls、.docx、.csv、.yaml）")
    return reader(data, filename)
