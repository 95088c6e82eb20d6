"""Importing a plan's assessment table: validate every row first, then write all or nothing.

Re-importing the same plan (same organisation and year) updates targets by code and never
duplicates them. Every change to an existing target is written to the audit chain as an
amendment; a change to a target that has already left its initial state is refused unless
forced.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.calendar import clock
from engine.calendar.deadlines import DeadlinePhraseError, parse_deadline
from engine.store.errors import DomainError
from engine.plans import target_checkpoints
from engine.plans.indicators import IndicatorError, parse_indicator_lines
from engine.plans.table import EXTRA, LABELS, RawTable, read

#: Subtotal and total rows of a table (合  计, 绩效目标考评得分): not targets.
TOTAL_ROW = re.compile(r"^\s*(合\s*计|小\s*计|总\s*计|绩效目标考评得分)")
NAME_SEPARATORS = frozenset("\n\r、，,;；/ \t\u3000")
#: Brackets and quotes inside which a separator belongs to the name: 各县(市、区)教育局 is one.
OPENING = {"（": "）", "(": ")", "〔": "〕", "【": "】", "《": "》", "“": "”", "‘": "’", "「": "」", "『": "』",
           "[": "]", "\"": "\"", "'": "'"}
POINTS = re.compile(r"[（(︵]\s*(\d+(?:\.\d+)?)\s*分\s*[）)︶]")
EVERY = {"sections": "各科室", "leaders": "各分管领导", "persons": "各科长"}
PLAN_TOTAL = Decimal(100)
CODE_MAX_LENGTH = 120  # as long as the code column (Target.code)
#: The evaluation milestones of seed 000 §4(4); plan data, editable after import.
DEFAULT_MILESTONES = (
    ("self_assessment_signed", "自评结果经分管领导审签后报送局绩效办", "12月30日前"),
    ("evaluation", "局绩效办综合评估、逐项评分、确定等级", "1月上旬"),
    ("summary", "年度绩效评估回顾总结并上报", "1月中旬"),
)
CHANGED_FIELDS = ("category", "indicator", "indicator_points", "basis", "text", "weight", "deadline_phrase", "due_date",
                  "extra_columns", "checkpoints")


@dataclass(frozen=True)
class RowError:
    """A reason the import is refused: the row (0: the file as a whole), the column, why."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else "整个文件"
        return f"{where}［{self.column}］：{self.reason}"


class ImportRefused(DomainError):
    """The plan was not imported; ``errors`` lists every row error. Nothing was written."""

    code = "import_refused"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"计划未导入：{len(errors)} 处错误", errors=[e.__dict__ for e in errors])
        self.errors = errors


@dataclass
class TargetDraft:
    row: int
    code: str
    category: str
    category_points: Decimal | None
    indicator: str
    indicator_points: Decimal | None
    basis: str
    text: str
    weight: Decimal
    deadline_phrase: str
    due_date: date | None
    sections: list[str]
    leaders: list[str]
    persons: list[str]
    indicators: list[tuple[str, str]] = field(default_factory=list)  # (name, value as written)
    extra_columns: dict[str, str] = field(default_factory=dict)  # columns the engine does not read, as written
    #: Earlier dates of a phrase naming several, then the 节点 column's ``{date, what, by}``.
    checkpoints: list[date | dict[str, str]] = field(default_factory=list)


@dataclass
class PlanDraft:
    org: str
    year: int
    title: str
    categories: dict[str, Decimal]
    milestones: list[tuple[str, str, str, date]]
    targets: list[TargetDraft]
    errors: list[RowError]
    aliases: dict[str, str] = field(default_factory=dict)  # section as written → the section it is
    #: The workflow id the plan's targets run on (``None``: the plan's own, ``target`` for a new plan).
    workflow: str | None = None


@dataclass
class ImportResult:
    plan_id: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Targets handed down (下达) to child organisations by this import.
    handed_down: int = 0


def split_names(cell: str, aliases: dict[str, str] | None = None) -> list[str]:
    """Names in one cell: separated by newlines, 、, ，, commas, slashes or spaces, in order, without repeats.

    A separator inside brackets or quotes is part of the name; ``aliases`` maps a name as
    written to the name it stands for (民管 → 民管科).
    """
    aliases = aliases or {}
    return list(dict.fromkeys(aliases.get(n, n) for n in _names(str(cell or "")) if n))


def _names(cell: str, brackets: bool = True) -> list[str]:
    names, current, closing = [], [], []
    for char in cell:
        if brackets and closing and char == closing[-1]:
            closing.pop()
        elif brackets and char in OPENING:
            closing.append(OPENING[char])
        elif not closing and char in NAME_SEPARATORS:
            names.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if closing:  # a bracket never closed (a typing slip): it must not swallow the rest of the cell
        return _names(cell, brackets=False)
    return [*names, "".join(current).strip()]


def points_of(text: str) -> Decimal | None:
    """The points written inside an indicator or category text, e.g. （5分） → 5."""
    match = POINTS.search(text or "")
    return Decimal(match.group(1)) if match else None


def category_name(text: str) -> str:
    return POINTS.sub("", text or "").strip()


def _year_and_org(table: RawTable, filename: str, plan_year: int | None, org: str | None,
                  errors: list[RowError]) -> tuple[int, str]:
    meta = table.meta.get("plan") or {}
    found = re.search(r"(20\d{2})\s*年", table.title) or re.search(r"(20\d{2})", filename)
    year = plan_year or meta.get("year") or (int(found.group(1)) if found else None)
    if not year:
        errors.append(RowError(0, "计划年度", "无法从文件中看出计划年度，请用 --plan-year 指定"))
        year = clock.today().year
    title_org = re.match(r"\s*(.+?)\s*20\d{2}\s*年", table.title)
    org = org or meta.get("org") or (title_org.group(1) if title_org else "")
    if not org:
        errors.append(RowError(0, "单位", "无法从文件中看出单位名称，请用 --org 指定"))
    return int(year), org


def read_file(data: bytes, filename: str, *, plan_year: int | None = None, org: str | None = None,
              aliases: dict[str, str] | None = None, weights: str | None = None, leader: str | None = None,
              section: str | None = None) -> PlanDraft:
    """Read and validate a plan file's bytes (what an upload runs in a limited child process);
    ``weights``, ``leader`` and ``section`` complete a three-level indicator table."""
    from engine.plans import indicator_table

    table = indicator_table.complete(read(data, filename), weights=weights, leader=leader, section=section)
    return parse(table, filename, plan_year=plan_year, org=org, aliases=aliases)


def parse(table: RawTable, filename: str, *, plan_year: int | None = None, org: str | None = None,
          aliases: dict[str, str] | None = None, progress: Callable[[int], None] | None = None) -> PlanDraft:
    """Validate every row of ``table``; the draft's ``errors`` list every problem found.

    ``aliases`` (with the YAML plan's ``aliases:``, which they override) merge sections
    written in two ways: ``{"民管": "民管科"}``.
    """
    errors: list[RowError] = []
    year, org = _year_and_org(table, filename, plan_year, org, errors)
    aliases = _aliases({**(table.meta.get("aliases") or {}), **(aliases or {})}, errors)
    drafts: list[TargetDraft] = []
    seen: dict[str, int] = {}
    category = indicator = basis = ""
    for raw in table.rows:
        c = raw.cells
        if not c.get("code") and any(TOTAL_ROW.match(str(v)) for v in c.values() if v):
            continue
        if c.get("category"):
            category, indicator, basis = c["category"], c.get("indicator", ""), c.get("basis", "")
        elif c.get("indicator"):  # a new indicator under the same category
            indicator, basis = c["indicator"], c.get("basis", "")
        elif c.get("basis"):
            basis = c["basis"]
        draft = _row(raw.number, c, category, indicator, basis, year, errors, aliases)
        if draft.code in seen:
            errors.append(RowError(raw.number, LABELS["code"], f"编号 {draft.code} 与第 {seen[draft.code]} 行重复"))
        elif draft.code:
            seen[draft.code] = raw.number
        drafts.append(draft)
        if progress:
            progress(1)
    if not drafts:
        errors.append(RowError(0, LABELS["code"], "文件中没有目标行"))
    _expand_every(drafts)
    categories = _check_points(drafts, errors)
    return PlanDraft(org, year, table.title or f"{org}{year}年度绩效目标考评表", categories,
                     _milestones(table.meta.get("milestones"), year, errors), drafts, errors, aliases)


def parse_aliases(items: list[str]) -> dict[str, str]:
    """``["民管=民管科", …]`` (the CLI's and the upload form's way of writing them) as a mapping."""
    out = {}
    for item in items:
        for part in re.split(r"[\n,，;；]+", item or ""):
            if part.strip():
                short, _, full = part.partition("=")
                out[short.strip()] = full.strip()
    return out


def _aliases(given: dict[Any, Any], errors: list[RowError]) -> dict[str, str]:
    aliases = {str(k).strip(): str(v).strip() for k, v in given.items()}
    for short, full in aliases.items():
        if not short or not full or short == full:
            errors.append(RowError(0, "科室别名", f"别名“{short}={full}”应写成“简称=全称”，且两者不同"))
        elif full in aliases:
            errors.append(RowError(0, "科室别名", f"“{full}”本身又是别名：请直接写“{short}={aliases[full]}”"))
    return aliases


def _row(number: int, c: dict[str, Any], category: str, indicator: str, basis: str, year: int,
         errors: list[RowError], aliases: dict[str, str]) -> TargetDraft:
    def refuse(column: str, reason: str) -> None:
        errors.append(RowError(number, LABELS[column], reason))

    code = c.get("code", "")
    if not code:
        refuse("code", "编号为空")
    elif len(code) > CODE_MAX_LENGTH:
        refuse("code", f"编号不能超过 {CODE_MAX_LENGTH} 个字符")
    text = c.get("text", "")
    if not text:
        refuse("text", "年度目标为空")
    weight = Decimal(0)
    try:
        weight = Decimal(str(c.get("weight", "")).strip())
        if not weight.is_finite() or weight < 0:
            raise InvalidOperation
    except InvalidOperation:
        refuse("weight", f"权重分值不是有效数字：“{c.get('weight', '')}”")
        weight = Decimal(0)
    # Somebody must do the work and somebody must sign it, or the target can never move on.
    if not split_names(c.get("sections", "")):
        refuse("sections", "责任科室为空")
    if not split_names(c.get("leaders", "")):
        refuse("leaders", "分管领导为空（自评须由分管领导审签）")
    phrase, due, checkpoints = c.get("deadline", ""), None, []
    try:
        deadline = parse_deadline(phrase, year)
        due, checkpoints = deadline.due, list(deadline.checkpoints)
    except DeadlinePhraseError as exc:
        refuse("deadline", str(exc))
    try:
        checkpoints += target_checkpoints.parse_cell(str(c.get("checkpoints") or ""), year)
    except ValueError as exc:
        refuse("checkpoints", str(exc))
    indicators: list[tuple[str, str]] = []
    cell = c.get("indicators") or ""
    if isinstance(cell, list):  # YAML: [{name, value}, …]
        cell = "\n".join(f"{i.get('name', '')}：{i.get('value', '')}" for i in cell if isinstance(i, dict))
    try:
        indicators = [(name, spec.raw) for name, spec in parse_indicator_lines(cell, year)]
    except IndicatorError as exc:
        refuse("indicators", str(exc))
    return TargetDraft(
        row=number, code=code, category=category_name(category), category_points=points_of(category), indicator=indicator,
        indicator_points=points_of(indicator), basis=basis, text=text, weight=weight, deadline_phrase=phrase,
        due_date=due, sections=split_names(c.get("sections", ""), aliases), leaders=split_names(c.get("leaders", "")),
        persons=split_names(c.get("persons", "")), indicators=indicators, extra_columns=dict(c.get(EXTRA) or {}),
        checkpoints=checkpoints,
    )


def _expand_every(drafts: list[TargetDraft]) -> None:
    """各科室 / 各分管领导 / 各科长: every section, leader or section head the plan names."""
    for attr, word in EVERY.items():
        everyone = list(dict.fromkeys(n for d in drafts for n in getattr(d, attr) if n != word))
        for d in drafts:
            names = getattr(d, attr)
            if word in names:
                at = names.index(word)
                setattr(d, attr, list(dict.fromkeys(names[:at] + everyone + names[at + 1:])))


def _check_points(drafts: list[TargetDraft], errors: list[RowError]) -> dict[str, Decimal]:
    """Weights must add up to each category's and indicator's points, and the plan's to 100.

    Returns each category's points (as written; the sum of its weights where none are written).
    """
    groups: dict[tuple[str, str], list[TargetDraft]] = {}
    written: dict[tuple[str, str], Decimal | None] = {}
    for d in drafts:
        for key, points in ((("类别", d.category), d.category_points), (("一级指标", d.indicator), d.indicator_points)):
            if key[1]:
                groups.setdefault(key, []).append(d)
                if written.get(key) is None:
                    written[key] = points
    for (kind, name), members in groups.items():
        weight, points = sum((d.weight for d in members), Decimal(0)), written.get((kind, name))
        if points is not None and weight != points:
            label = name if len(name) <= 20 else name[:20] + "…"
            errors.append(RowError(members[0].row, LABELS["weight"],
                                   f"{kind}“{label}”的权重合计为 {weight:g}，与其分值 {points:g} 不符"))
    total = sum((d.weight for d in drafts), Decimal(0))
    if drafts and total != PLAN_TOTAL:
        errors.append(RowError(0, LABELS["weight"], f"计划权重合计为 {total:g}，应为 {PLAN_TOTAL:g}"))
    return {name: written.get(("类别", name)) or sum((d.weight for d in members), Decimal(0))
            for (kind, name), members in groups.items() if kind == "类别"}


def _milestones(given: Any, year: int, errors: list[RowError]) -> list[tuple[str, str, str, date]]:
    """The plan's milestones: the defaults of seed 000, with any a YAML plan gives instead."""
    phrases = {key: (label, phrase) for key, label, phrase in DEFAULT_MILESTONES}
    for key, value in (given or {}).items():
        label = phrases.get(key, (key, ""))[0]
        if isinstance(value, dict):
            label, value = value.get("label", label), value.get("phrase", "")
        phrases[str(key)] = (label, str(value))
    out = []
    for key, (label, phrase) in phrases.items():
        try:
            due = parse_deadline(phrase, year, rolls_over=True).due
        except DeadlinePhraseError as exc:
            errors.append(RowError(0, "里程碑", f"{key}：{exc}"))
            continue
        if due is not None:
            out.append((key, label, phrase, due))
    return out
