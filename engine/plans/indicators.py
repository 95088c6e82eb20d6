"""Quantitative indicators (量化指标) of a target: target values as written → comparable specs.

A target value (指标值) is read as one of (plan year Y):

* a number with a comparator and a unit as written: ``≥560个``, ``不少于560个``, ``560个以上``
  (``ge``); ``≤5次``, ``不超过5次``, ``5次以内`` (``le``); ``>90%`` (``gt``); ``<5%`` (``lt``);
* a bare number (``100%``, ``5个``) or ``=100%``: a level to reach, so it reads ``ge`` —
  reaching *or exceeding* it meets it (113% of a 100% completion rate is not a failure);
* a range ``90%-95%`` / ``90-95%`` / ``90至95%`` (``between``, both ends included);
* a time indicator — anything :func:`engine.calendar.deadlines.parse_deadline` accepts (``10-11月份``,
  ``12月底前``, ``6月30日前``) — ``by`` with the due date in Y;
* ``长期`` (``ongoing``);
* a qualitative indicator (定性指标) — ``完成``, ``达到省定标准``, ``通过验收``, ``是/否`` — (``words``):
  met by the matching words (``是``, ``已完成``, ``通过``), not met by their negation (``否``, ``未完成``).

Units are kept as written (``2.5万个`` is 2.5 with unit ``万个``) and compared in one unit:
a multiplier (千, 万, 十万, 百万, 千万, 亿) scales the number and the rest is the unit proper
(``万个`` is 10 000 ``个``); ``%``, ``百分比``, ``百分点`` and ``‰`` (a tenth of a per cent) are one
unit of rates. A reported ``1.2万人`` meets ``≥11800人``; ``15000万元`` does not meet ``≥2亿元``;
a reported unit other than the target's (``3人`` against ``≥2.5万个``) is refused
(:class:`UnitMismatch`, naming both), never compared. A bare reported number is read in the
target's unit as written (``2.6`` against ``≥2.5万个`` is 2.6万个).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime
from decimal import Decimal

from engine.calendar.deadlines import DeadlinePhraseError, parse_deadline
from engine.workflow import rules

__all__ = ["COMPARATORS", "IndicatorError", "IndicatorSpec", "UnitMismatch", "in_target_unit", "is_met", "judge",
           "parse_indicator", "parse_indicator_lines", "split_unit"]

COMPARATORS = ("ge", "le", "gt", "lt", "eq", "between", "by", "ongoing", "words")
_NUMERIC = frozenset({"ge", "le", "gt", "lt", "eq", "between"})

# Longest first, so "大于等于" wins over "大于" and ">=" over ">".
_PREFIXES: tuple[tuple[str, str], ...] = tuple(sorted(
    {
        "≥": "ge", ">=": "ge", "不低于": "ge", "不少于": "ge", "不小于": "ge", "大于等于": "ge",
        "至少": "ge", "达到": "ge", "=": "ge", "==": "ge",
        "≤": "le", "<=": "le", "不高于": "le", "不超过": "le", "不多于": "le", "不大于": "le",
        "小于等于": "le", "至多": "le",
        ">": "gt", "大于": "gt", "高于": "gt", "超过": "gt", "多于": "gt",
        "<": "lt", "小于": "lt", "低于": "lt", "少于": "lt",
    }.items(),
    key=lambda item: -len(item[0]),
))
#: The prefixes as one pattern, tried in the same order (the longest that matches wins).
_PREFIX = re.compile("|".join(re.escape(word) for word, _ in _PREFIXES))
_PREFIX_OF = dict(_PREFIXES)
_REACH = frozenset({"=", "==", "达到"})  # a level to reach, labelled 达到 like a bare number
_SUFFIXES: tuple[tuple[str, str], ...] = (("及以上", "ge"), ("以上", "ge"), ("及以下", "le"), ("以下", "le"), ("以内", "le"))

_NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_DASH = r"(?:[-‐‑‒–—―~〜]+|至|到)"
_UNIT = r"[^0-9.,<>=≥≤~〜\-‐‑‒–—―至到]*"
_SINGLE = re.compile(rf"(?P<a>{_NUMBER})(?P<unit>{_UNIT})")
_RANGE = re.compile(rf"(?P<a>{_NUMBER})(?P<unit_a>{_UNIT}){_DASH}(?P<b>{_NUMBER})(?P<unit>{_UNIT})")
# Never part of a unit: date words ("12月底前后" is a broken date) and approximations ("560个左右").
_NOT_UNIT = re.compile(r"[底前后旬以约余]|左右")
_ISO_DATE = re.compile(r"(?P<y>[0-9]{4})[-/.](?P<m>[0-9]{1,2})[-/.](?P<d>[0-9]{1,2})")

# Full-width ASCII (１２，％＞) → half-width; the other look-alikes people type for ≥ and ≤.
_WIDTH: dict[int, int | str] = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_WIDTH.update({ord("≧"): "≥", ord("⩾"): "≥", ord("≦"): "≤", ord("⩽"): "≤"})
# Reported values of an ongoing indicator that mean "not being done".
_NO = frozenset({"否", "无", "未完成", "未开展", "未启动", "未落实", "尚未完成", "尚未开展"})
# Multipliers written before a unit, longest first ("千万" before "千"); rates are one unit, "%".
_MULTIPLIERS = (("千万", 10**7), ("百万", 10**6), ("十万", 10**5), ("万", 10**4), ("亿", 10**8), ("千", 10**3))
_RATES = {"%": Decimal(1), "百分比": Decimal(1), "百分点": Decimal(1), "‰": Decimal("0.1")}
_PER_CENT = re.compile(rf"百分之({_NUMBER})")
# A qualitative target value names an outcome: 完成, 达到省定标准, 通过验收, 是/否.
_QUALITATIVE = re.compile(r"完成|达到|达标|通过|验收|合格|符合|落实|建成|实现|是否|是/否")
_NEGATION = re.compile(r"^(?:否|无|没有|没|未能|未|尚未|不)")
_YES = frozenset({"是", "有", "完成", "已完成", "全部完成", "按时完成", "达标", "已达标", "合格", "通过", "已通过", "达到",
                  "已达到", "符合", "已落实", "落实", "建成", "已建成", "实现", "已实现"})


class IndicatorError(ValueError):
    """Text that cannot be read as an indicator; ``text`` is as written, ``reason`` says why."""

    def __init__(self, text: str, reason: str | None = None, *, subject: str = "指标值") -> None:
        self.text = text
        self.reason = reason
        # The message names the text so a person can find and fix the cell.
        super().__init__(f"无法识别的{subject}：“{text}”" + (f"（{reason}）" if reason else ""))


class UnitMismatch(IndicatorError):
    """A reported value in another unit than its target's (``3人`` against ``≥2.5万个``)."""

    def __init__(self, text: str, unit: str, target_unit: str, target: str) -> None:
        self.unit, self.target_unit = unit, target_unit
        super().__init__(text, f"单位“{unit}”与指标值“{target}”的单位“{target_unit}”不一致，无法比较", subject="实际完成值")


@dataclass(frozen=True)
class IndicatorSpec:
    """A target value as written and what it means; see the module docstring for the grammar."""

    raw: str  # as written, e.g. "≥560个"
    comparator: str  # one of COMPARATORS
    value: Decimal | None  # the number; None for "by" and "ongoing"
    value_to: Decimal | None = None  # upper end for "between"
    unit: str = ""  # as written after the number: "个", "%", "人次", "万个" …
    due: date | None = None  # for "by": done by the end of that day
    label: str = ""  # a short Chinese reading; derived from the fields when left empty

    def __post_init__(self) -> None:
        if self.comparator not in COMPARATORS:
            raise ValueError(f"unknown comparator {self.comparator!r}")
        if self.comparator in _NUMERIC and self.value is None:
            raise ValueError(f"comparator {self.comparator!r} needs a value")
        if self.comparator == "between" and (self.value_to is None or self.value is None or self.value_to < self.value):
            raise ValueError("between needs value <= value_to")
        if self.comparator == "by" and self.due is None:
            raise ValueError("comparator 'by' needs a due date")
        if not self.label:
            label = _label(self.comparator, self.value, self.value_to, self.unit, self.due)
            object.__setattr__(self, "label", label)


_BLANKS = re.compile(r"\s+")
#: How many texts each reading remembers: a plan's indicators repeat their values (100%, 长期, 12月底前).
_REMEMBERED = 2048


def _normalise(text: str) -> str:
    """Half-width digits and symbols, no blanks at all (people type "≥ 560 个"); 百分之90 → 90%."""
    return _PER_CENT.sub(r"\1%", _BLANKS.sub("", text.translate(_WIDTH)))


@lru_cache(maxsize=1024)
def split_unit(unit: str) -> tuple[str, Decimal]:
    """A unit as written → (the unit proper, the factor of its multiplier): 万个 → (个, 10000),
    亿元 → (元, 100000000), ‰ → (%, 0.1), 人次 → (人次, 1), 万 → ("", 10000)."""
    if unit in _RATES:
        return "%", _RATES[unit]
    for word, factor in _MULTIPLIERS:
        if unit.startswith(word):
            rest = unit[len(word):]
            return ("%", _RATES[rest] * factor) if rest in _RATES else (rest, Decimal(factor))
    return unit, Decimal(1)


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _show(value: Decimal | None) -> str:
    return format(value, "f") if value is not None else ""


def _label(comparator: str, value: Decimal | None, value_to: Decimal | None, unit: str, due: date | None,
           plan_year: int | None = None, *, reach: bool = False) -> str:
    """A short reading: 不少于560个, 不超过5次, 达到100%, 11月30日前完成, 长期."""
    n, rate = _show(value), unit.endswith("%")
    if comparator == "ongoing":
        return "长期"
    if comparator == "words":
        return "定性指标"
    if comparator == "by":
        assert due is not None  # IndicatorSpec checks this first
        year = "" if due.year == plan_year else f"{due.year}年"
        return f"{year}{due.month}月{due.day}日前完成"
    if comparator == "between":
        return f"在{n}{unit}至{_show(value_to)}{unit}之间"
    if comparator == "ge" and reach:
        return f"达到{n}{unit}"
    words = {"ge": ("不少于", "不低于"), "le": ("不超过", "不高于"), "gt": ("超过", "高于"), "lt": ("少于", "低于"),
             "eq": ("等于", "等于")}
    return f"{words[comparator][rate]}{n}{unit}"


def _strip_comparator(text: str) -> tuple[str, str | None, bool]:
    """The text without its comparator words, the comparator they say (None if none), and
    whether it only says "reach" (a bare number, "=", "达到"); ValueError if they contradict."""
    found: list[str] = []
    reach = True
    prefix = _PREFIX.match(text)
    if prefix:
        word = prefix.group()
        text, found, reach = text[len(word):], [_PREFIX_OF[word]], word in _REACH
    for word, comparator in _SUFFIXES:
        if text.endswith(word):
            text, reach = text[: -len(word)], False
            found.append(comparator)
            break
    if len(set(found)) > 1:  # "≥5个以内" contradicts itself
        raise ValueError("比较符前后矛盾")
    return text, (found[0] if found else None), reach


def _numeric(raw: str, text: str) -> IndicatorSpec:
    """A number or range target value (already normalised) → spec; IndicatorError otherwise."""
    if _QUALITATIVE.search(text) and not re.search(r"[0-9]", text):  # 达到省定标准: words, not a number
        return IndicatorSpec(raw, "words", None, label=raw)
    try:
        body, comparator, reach = _strip_comparator(text)
    except ValueError as exc:
        raise IndicatorError(raw, str(exc)) from None
    single = _SINGLE.fullmatch(body)
    if single and _NOT_UNIT.search(single["unit"]):
        raise IndicatorError(raw, f"“{single['unit']}”不是单位")
    if single:
        comparator, value, unit = comparator or "ge", _number(single["a"]), single["unit"]
        return IndicatorSpec(raw, comparator, value, None, unit, label=_label(comparator, value, None, unit, None,
                                                                            reach=reach))
    pair = _RANGE.fullmatch(body)
    if pair is None:
        raise IndicatorError(raw)
    if comparator is not None:
        raise IndicatorError(raw, "区间不能再带比较符")
    low, high, unit = _number(pair["a"]), _number(pair["b"]), pair["unit"]
    if _NOT_UNIT.search(unit):
        raise IndicatorError(raw, f"“{unit}”不是单位")
    if pair["unit_a"] not in ("", unit):
        raise IndicatorError(raw, "区间两端的单位不一致")
    if low > high:
        raise IndicatorError(raw, "区间下限大于上限")
    return IndicatorSpec(raw, "between", low, high, unit, label=_label("between", low, high, unit, None))


def parse_indicator(raw: str, plan_year: int) -> IndicatorSpec:
    """Parse a target value (指标值) of a plan for ``plan_year``; see the module docstring.

    ``raw`` is kept as written (without surrounding blanks). A bare number reads ``ge``:
    it is a level to reach, and reaching or exceeding it meets it. Raises
    :class:`IndicatorError` naming the text for anything outside the grammar.
    """
    if not isinstance(raw, str):
        raise TypeError(f"expected a str target value, got {type(raw).__name__}")
    return _parse(raw, plan_year)


@lru_cache(maxsize=_REMEMBERED)
def _parse(raw: str, plan_year: int) -> IndicatorSpec:
    """:func:`parse_indicator` of a text, read once per text and year (a spec is immutable)."""
    raw = raw.strip()
    text = _normalise(raw)
    if not text:
        raise IndicatorError(raw)
    try:
        deadline = parse_deadline(text, plan_year)  # time first: "10-11月份" is not a range of 月份
    except DeadlinePhraseError as exc:
        if exc.reason:  # a date that does not exist ("2月30日前"): say why rather than read a number
            raise IndicatorError(raw, exc.reason) from None
        return _numeric(raw, text)
    if deadline.kind == "ongoing":
        return IndicatorSpec(raw, "ongoing", None, label="长期")
    if deadline.kind == "monthly":  # every month; is_met can only judge the year's last occurrence
        return IndicatorSpec(raw, "by", None, due=deadline.due, label=f"每月{deadline.monthly_day}日前完成")
    return IndicatorSpec(raw, "by", None, due=deadline.due, label=_label("by", None, None, "", deadline.due, plan_year))


def _actual_number(actual: object) -> tuple[Decimal, str]:
    """A reported value → its number and unit as written: 580, "580", "580个", "92.5%", "≥600", "1.2万人"."""
    if isinstance(actual, bool):  # True is not a count
        raise IndicatorError(str(actual), "应为数字", subject="实际完成值")
    if isinstance(actual, (int, Decimal)):
        number = Decimal(actual)
    elif isinstance(actual, float):
        number = Decimal(str(actual))  # 92.5, not 92.5000000000000071…
    elif isinstance(actual, str):
        number, unit = _reported_number(actual)
    else:
        raise IndicatorError(str(actual), "应为数字", subject="实际完成值")
    if not number.is_finite():
        raise IndicatorError(str(actual), "应为数字", subject="实际完成值")
    return number, unit if isinstance(actual, str) else ""


@lru_cache(maxsize=_REMEMBERED)
def _reported_number(actual: str) -> tuple[Decimal, str]:
    """A reported text's number and unit as written, read once per text."""
    try:
        body = _strip_comparator(_normalise(actual))[0]
    except ValueError:
        body = ""
    match = _SINGLE.fullmatch(body)
    if match is None or _NOT_UNIT.search(match["unit"]):
        raise IndicatorError(actual, "应为数字，如“580”“580个”或“92.5%”", subject="实际完成值")
    return _number(match["a"]), match["unit"]


def in_target_unit(spec: IndicatorSpec, actual: object) -> Decimal:
    """A reported number in the unit ``spec`` is written in: "1.2万人" for ``≥11800人`` is 12000,
    "15000万元" for ``≥2亿元`` is 1.5. A bare number is already in that unit. Raises
    :class:`UnitMismatch` for another unit (个 against 人) and :class:`IndicatorError` for text
    that holds no number."""
    number, unit = _actual_number(actual)
    if not unit:
        return number
    base, factor = split_unit(unit)
    target_base, target_factor = split_unit(spec.unit)
    if base and base != target_base and (target_base or spec.unit):
        raise UnitMismatch(str(actual), base, target_base or spec.unit, spec.raw)
    return number * factor / target_factor


def _words_met(spec: IndicatorSpec, actual: object) -> bool:
    """A qualitative indicator: met by 是 / 已完成 / the target's own words, not met by their negation."""
    if isinstance(actual, bool):
        return actual
    text = _normalise(actual).rstrip("。.！!") if isinstance(actual, str) else ""
    if text and (text in _NO or _NEGATION.match(text)):
        return False
    core, said = _normalise(spec.raw), text.removeprefix("已").removeprefix("全部")
    if text in _YES or (said and (said in core or core in text)):
        return True
    raise IndicatorError(str(actual), f"应写明是否达到“{spec.raw}”，如“是”“已完成”或“未完成”", subject="实际完成值")


def _actual_date(actual: object, year: int) -> date:
    """A completion date: a date, "2024-11-15" (or / .), or a phrase such as "11月15日"."""
    if isinstance(actual, datetime):
        return actual.date()
    if isinstance(actual, date):
        return actual
    if isinstance(actual, str):
        text = _normalise(actual)
        iso = _ISO_DATE.fullmatch(text)
        try:
            if iso:
                return date(int(iso["y"]), int(iso["m"]), int(iso["d"]))
            due = parse_deadline(text, year).due
        except (ValueError, DeadlinePhraseError):
            due = None
        if due is not None:
            return due
    raise IndicatorError(str(actual), "应为完成日期，如“2024-11-15”或“11月15日”", subject="完成日期")


def is_met(spec: IndicatorSpec, actual: object) -> bool | None:
    """Whether a reported ``actual`` meets ``spec``; None when nothing is reported (None or blank).

    Numeric comparators take a number or a string holding one ("580个", "92.5%", "≥600",
    "1.2万人"), compared in the target's unit (see :func:`in_target_unit`; another unit raises
    :class:`UnitMismatch`). ``words`` takes 是 / 否 or words such as 已完成, 未通过验收. ``by`` takes a completion
    date (a ``date``, an ISO string or a phrase like "11月15日", read in the due date's year)
    and is met on or before the due date. ``ongoing`` is met by any truthy report except
    否 / 未完成 / 未开展 and the like. Raises :class:`IndicatorError` for an unreadable actual.
    """
    if actual is None or (isinstance(actual, str) and not actual.strip()):
        return None
    if spec.comparator == "ongoing":
        if isinstance(actual, str):
            return _normalise(actual) not in _NO
        return bool(actual)
    if spec.comparator == "words":
        return _words_met(spec, actual)
    if spec.comparator == "by":
        assert spec.due is not None
        return _actual_date(actual, spec.due.year) <= spec.due
    return _meets(spec, in_target_unit(spec, actual))


def judge(spec: IndicatorSpec, actual: object) -> tuple[bool | None, Decimal | None]:
    """:func:`is_met`, and for a numeric ``spec`` with a reported number that number in the target's
    unit (else ``None``): read once for those that need both (the score sheet's 指标计分)."""
    if spec.comparator in _NUMERIC and not (actual is None or (isinstance(actual, str) and not actual.strip())):
        number = in_target_unit(spec, actual)
        return _meets(spec, number), number
    return is_met(spec, actual), None


def _meets(spec: IndicatorSpec, number: Decimal) -> bool:
    target = spec.value
    assert target is not None
    if spec.comparator == "between":
        assert spec.value_to is not None
        return target <= number <= spec.value_to
    return {"ge": number >= target, "le": number <= target, "gt": number > target, "lt": number < target,
            "eq": number == target}[spec.comparator]


def parse_indicator_lines(cell: str, plan_year: int) -> list[tuple[str, IndicatorSpec]]:
    """A cell of indicators, one "名称：目标值" per line (full-width or ASCII colon) → [(name, spec)].

    Blank lines are skipped. A line without a colon or name, an unreadable value, or a
    name given twice raises :class:`IndicatorError` naming the line.
    """
    result: list[tuple[str, IndicatorSpec]] = []
    for line in (cell or "").splitlines():
        line = line.strip()
        if not line:
            continue
        match = re.match(r"(?P<name>[^:：]*)[:：](?P<value>.*)", line)
        if match is None:
            raise IndicatorError(line, "应写作“名称：目标值”", subject="量化指标")
        name = match["name"].strip()
        if not name:
            raise IndicatorError(line, "缺少指标名称", subject="量化指标")
        if any(name == seen for seen, _ in result):
            raise IndicatorError(line, f"指标名称“{name}”重复", subject="量化指标")
        try:
            spec = parse_indicator(match["value"], plan_year)
        except IndicatorError as exc:
            raise IndicatorError(line, exc.reason or f"无法识别的指标值“{exc.text}”", subject="量化指标") from None
        result.append((name, spec))
    return result


def unit_problem(raw: str, actual: object, plan_year: int) -> str | None:
    """Why a reported ``actual`` for the target value ``raw`` cannot stand: its unit is not the
    target's (the door refuses it, naming both); None otherwise — other unreadable reports are
    shown beside the indicator instead."""
    if actual is None or (isinstance(actual, str) and not actual.strip()):
        return None
    try:
        is_met(parse_indicator(raw, plan_year), actual)
    except UnitMismatch as exc:
        return str(exc)
    except IndicatorError:
        return None
    return None


if unit_problem not in rules.INDICATOR_READERS:  # the door refuses a report in another unit
    rules.INDICATOR_READERS.append(unit_problem)
