"""Quantitative indicators (量化指标) of a target: target values as written → comparable specs.

A target value (指标值) is read as one of (plan year Y):

* a number with a comparator and a unit as written: ``≥560个``, ``不少于560个``, ``560个以上``
  (``ge``); ``≤5次``, ``不超过5次``, ``5次以内`` (``le``); ``>90%`` (``gt``); ``<5%`` (``lt``);
* a bare number (``100%``, ``5个``) or ``=100%``: a level to reach, so it reads ``ge`` —
  reaching *or exceeding* it meets it (113% of a 100% completion rate is not a failure);
* a range ``90%-95%`` / ``90-95%`` / ``90至95%`` (``between``, both ends included);
* a time indicator — anything :func:`engine.calendar.deadlines.parse_deadline` accepts (``10-11月份``,
  ``12月底前``, ``6月30日前``) — ``by`` with the due date in Y;
* ``长期`` (``ongoing``).

Units are kept as written (``2.5万个`` is 2.5 with unit ``万个``) and never converted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from engine.calendar.deadlines import DeadlinePhraseError, parse_deadline

__all__ = ["COMPARATORS", "IndicatorError", "IndicatorSpec", "is_met", "parse_indicator", "parse_indicator_lines"]

COMPARATORS = ("ge", "le", "gt", "lt", "eq", "between", "by", "ongoing")
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


class IndicatorError(ValueError):
    """Text that cannot be read as an indicator; ``text`` is as written, ``reason`` says why."""

    def __init__(self, text: str, reason: str | None = None, *, subject: str = "指标值") -> None:
        self.text = text
        self.reason = reason
        # The message names the text so a person can find and fix the cell.
        super().__init__(f"无法识别的{subject}：“{text}”" + (f"（{reason}）" if reason else ""))


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


def _normalise(text: str) -> str:
    """Half-width digits and symbols, no blanks at all (people type "≥ 560 个")."""
    return re.sub(r"\s+", "", text.translate(_WIDTH))


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
    for word, comparator in _PREFIXES:
        if text.startswith(word):
            text, found, reach = text[len(word):], [comparator], word in _REACH
            break
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


def _actual_number(actual: object) -> Decimal:
    """A reported value → its number: 580, "580", "580个", "92.5%", "≥600", "25,000"."""
    if isinstance(actual, bool):  # True is not a count
        raise IndicatorError(str(actual), "应为数字", subject="实际完成值")
    if isinstance(actual, (int, Decimal)):
        number = Decimal(actual)
    elif isinstance(actual, float):
        number = Decimal(str(actual))  # 92.5, not 92.5000000000000071…
    elif isinstance(actual, str):
        try:
            body = _strip_comparator(_normalise(actual))[0]
        except ValueError:
            body = ""
        match = _SINGLE.fullmatch(body)
        if match is None or _NOT_UNIT.search(match["unit"]):
            raise IndicatorError(actual, "应为数字，如“580”“580个”或“92.5%”", subject="实际完成值")
        number = _number(match["a"])
    else:
        raise IndicatorError(str(actual), "应为数字", subject="实际完成值")
    if not number.is_finite():
        raise IndicatorError(str(actual), "应为数字", subject="实际完成值")
    return number


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

    Numeric comparators take a number or a string holding one ("580个", "92.5%", "≥600");
    units are not converted and a different unit is not an error. ``by`` takes a completion
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
    if spec.comparator == "by":
        assert spec.due is not None
        return _actual_date(actual, spec.due.year) <= spec.due
    number, target = _actual_number(actual), spec.value
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
