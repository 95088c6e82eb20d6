"""The three-level indicator table (部门整体支出绩效目标表): functions and their quantitative indicators.

A county bureau's expenditure targets come as a table of its core functions (职能1: 教育督导 …),
each with indicators in three levels — 一级指标 (产出指标, 效益指标, 满意度指标), 二级指标 (数量指标,
质量指标, 时效指标, 社会效益指标 …) and 三级指标, the concrete indicator with its value (指标值:
``≥560个``, ``100%``, ``10-11月份``, ``长期``). Each function becomes a target whose indicators keep
all three levels in their names (``产出指标/数量指标/创新创业课程开设数量``).

The table has no weights: they come from a rule given at import (:func:`weigh`), never guessed —
``equal`` (every function the same share of 100) or points per first-level indicator
(``产出=50,效益=30,满意度=20``: each first-level indicator's points shared equally by the functions
that have it). Nor does it name leaders: the import is told who signs (``leader``).
"""
from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

from engine.plans.table import PlanFileError, RawRow, RawTable, _norm

LEVEL_HEADERS = ("一级指标", "二级指标", "三级指标")
VALUE_HEADERS = ("指标值", "目标值", "年度指标值")
#: The label of a third-level indicator's number, in its own cell or before the name: 指标1: / 指标2：
NUMBER_LABEL = re.compile(r"^\s*指标\s*\d+\s*[:：]?\s*")
FUNCTION = re.compile(r"^\s*(职能\s*\d+)\s*[:：]?\s*(.*)$", re.S)
UNIT_NAME = re.compile(r"^(部门[（(]单位[）)]名称|部门名称|单位名称)$")
LEVEL_SEPARATOR = "/"
CATEGORY = "核心职能"
DEFAULT_DEADLINE = "12月底前"  # the budget year: the expenditure targets hold until its end
SCAN_ROWS = 20


def _header(matrix: list[list[Any]]) -> tuple[int, dict[str, int], list[int]] | None:
    """The header row, the column of each level and of the value, and the columns 三级指标 spans."""
    for index, row in enumerate(matrix[:SCAN_ROWS]):
        cells = [_norm(c) for c in row]
        if not all(h in cells for h in LEVEL_HEADERS) or not any(h in cells for h in VALUE_HEADERS):
            continue
        columns = {h: cells.index(h) for h in LEVEL_HEADERS}
        columns["value"] = next(cells.index(h) for h in VALUE_HEADERS if h in cells)
        third = [i for i, c in enumerate(cells) if c == "三级指标"]
        # A merged 三级指标 header spans the number label and the name; so may a blank cell after it.
        third += [i for i in range(third[-1] + 1, columns["value"]) if not cells[i]]
        return index, columns, third
    return None


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _meta(rows: list[list[Any]]) -> tuple[str, str]:
    """The unit (部门名称 …, the cell after the label) and the table's title (the first line with a year)."""
    org = title = ""
    for row in rows:
        cells = [_text(c) for c in row]
        for i, cell in enumerate(cells):
            if UNIT_NAME.match(_norm(cell)) and not org:
                org = next((c for c in cells[i + 1:] if c and _norm(c) != _norm(cell)), "")
            if not title and re.search(r"20\d{2}\s*年", cell) and len(cell) <= 60:
                title = cell
    return org, title


def levels_of(name: str) -> tuple[str, ...]:
    """An indicator name's levels: (一级, 二级, 三级) for a three-level table's indicator, else (name,)."""
    parts = tuple(part.strip() for part in name.split(LEVEL_SEPARATOR))
    return parts if len(parts) == 3 and all(parts) else (name,)


def titled(org: str, title: str) -> str:
    """The plan title: the table's title, with the unit in front when the title does not name it."""
    return title if not org or title.startswith(org) else f"{org}{title}"


def from_matrix(matrix: list[list[Any]], filename: str) -> RawTable | None:
    """The functions of a three-level indicator table as rows without weights; ``None`` for another table."""
    found = _header(matrix)
    if found is None:
        return None
    header_index, columns, third = found
    first = min(columns.values())
    org, title = _meta(matrix[:header_index])
    functions: dict[str, dict[str, Any]] = {}
    function = level1 = level2 = ""
    for number, row in enumerate(matrix[header_index + 1:], start=header_index + 2):
        cells = [_text(c) for c in row] + [""] * (len(matrix[header_index]) - len(row))
        left = next((c for c in reversed(cells[:first]) if c), "")
        if left and left != function:
            function, level1, level2 = left, "", ""
        if cells[columns["一级指标"]] and cells[columns["一级指标"]] != level1:
            level1, level2 = cells[columns["一级指标"]], ""
        if cells[columns["二级指标"]]:
            level2 = cells[columns["二级指标"]]
        names = [NUMBER_LABEL.sub("", cells[i]) for i in third if i < len(cells)]
        name = next((n for n in reversed(names) if n), "")
        value = cells[columns["value"]]
        if not name and not value:
            continue
        if not function:
            raise PlanFileError(f"{filename}：第 {number} 行的指标“{name}”不属于任何职能（左侧应写“职能1：…”）")
        if not (name and value and level1 and level2):
            missing = "、".join(label for label, v in (("一级指标", level1), ("二级指标", level2), ("三级指标", name),
                                                      ("指标值", value)) if not v)
            raise PlanFileError(f"{filename}：第 {number} 行缺少{missing}")
        entry = functions.setdefault(function, {"row": number, "levels": [], "lines": []})
        line_name = LEVEL_SEPARATOR.join((level1, level2, name.replace("：", "").replace(":", "")))
        entry["lines"].append(f"{line_name}：{value}")
        if level1 not in entry["levels"]:
            entry["levels"].append(level1)
    if not functions:
        raise PlanFileError(f"{filename}：三级指标表中没有职能和指标（表头在第 {header_index + 1} 行）")
    rows = []
    for position, (function, entry) in enumerate(functions.items(), start=1):
        match = FUNCTION.match(function)
        code, name = (re.sub(r"\s+", "", match.group(1)), match.group(2).strip()) if match else (f"职能{position}", function)
        rows.append(RawRow(entry["row"], {
            "code": code, "category": CATEGORY, "indicator": "、".join(entry["levels"]), "text": name or function,
            "weight": "", "deadline": DEFAULT_DEADLINE, "sections": org, "leaders": "", "persons": "",
            "indicators": "\n".join(entry["lines"]),
        }))
    meta = {"levels": {row.cells["code"]: row.cells["indicator"].split("、") for row in rows},
            "plan": {"org": org} if org else {}}
    return RawTable(rows, titled(org, title), meta)


def weigh(table: RawTable, weights: str | None, *, leader: str | None = None, section: str | None = None) -> RawTable:
    """The table's functions with weights from ``weights`` (``equal`` or ``产出=50,效益=30,满意度=20``).

    Refused (:class:`PlanFileError`) without a rule, with points that do not add up to 100, or
    with a first-level indicator the rule leaves out or names wrongly; also without a leader.
    """
    levels: dict[str, list[str]] = table.meta["levels"]
    if not weights:
        raise PlanFileError("三级指标表没有权重：导入时请给出权重规则，如 --weights equal（各职能均分 100 分）"
                            f"或 --weights {'=…,'.join(_short(l) for l in _all_levels(levels))}=…（按一级指标分配，合计 100）")
    if not (leader or "").strip():
        raise PlanFileError("三级指标表没有写分管领导：导入时请用 --leader 指定审签的领导")
    shares = _equal(levels) if weights.strip().lower() == "equal" else _by_level(levels, weights)
    rows = []
    for row in table.rows:
        cells = dict(row.cells, weight=f"{shares[row.cells['code']]:f}", leaders=leader.strip())
        if section:
            cells["sections"] = section
        rows.append(RawRow(row.number, cells))
    return replace(table, rows=rows)


def _short(level: str) -> str:
    return level[:-2] if level.endswith("指标") and len(level) > 2 else level


def _all_levels(levels: dict[str, list[str]]) -> list[str]:
    return list(dict.fromkeys(level for found in levels.values() for level in found))


def _split(total_hundredths: int, parts: int) -> list[Decimal]:
    """``total`` in ``parts`` shares of whole hundredths that add up exactly (the first ones take the rest)."""
    base, rest = divmod(total_hundredths, parts)
    return [Decimal(base + (1 if i < rest else 0)) / 100 for i in range(parts)]


def _equal(levels: dict[str, list[str]]) -> dict[str, Decimal]:
    return dict(zip(levels, _split(10000, len(levels))))


def _by_level(levels: dict[str, list[str]], rule: str) -> dict[str, Decimal]:
    points: dict[str, Decimal] = {}
    names = _all_levels(levels)
    for part in re.split(r"[,，;；]", rule):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        level = next((n for n in names if n == key.strip() or _short(n) == key.strip()), None)
        if level is None:
            raise PlanFileError(f"--weights 中的“{key.strip()}”不是表中的一级指标（表中有：{'、'.join(names)}）")
        try:
            points[level] = Decimal(value.strip())
        except ArithmeticError:
            raise PlanFileError(f"--weights 中“{key.strip()}”的分值不是数字：“{value.strip()}”") from None
    left_out = [n for n in names if n not in points]
    if left_out:
        raise PlanFileError(f"--weights 没有给出一级指标“{'、'.join(left_out)}”的分值")
    total = sum(points.values(), Decimal(0))
    if total != 100:
        raise PlanFileError(f"--weights 各一级指标分值合计为 {total:g}，应为 100")
    out = {code: Decimal(0) for code in levels}
    for level, value in points.items():
        holders = [code for code, found in levels.items() if level in found]
        for code, share in zip(holders, _split(int(value * 100), len(holders))):
            out[code] += share
    return out


def complete(table: RawTable, *, weights: str | None = None, leader: str | None = None,
             section: str | None = None) -> RawTable:
    """A table read from any file, ready for the importer: a three-level table gets its weights from the rule."""
    if table.meta.get("levels"):
        return weigh(table, weights, leader=leader, section=section)
    if weights:
        raise PlanFileError("权重规则（--weights）只用于三级指标表；考评表的权重写在“权重分值”列")
    return table
