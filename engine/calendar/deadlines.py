"""Chinese deadline phrases (完成时限) → due dates in the plan's year.

Dates are local dates in Asia/Shanghai; a due date means "by the end of that day".
Supported (plan year Y; an explicit "YYYY年" prefix overrides Y):

* ``12月底前`` / ``12月底`` / ``12月末`` → last day of the month;
* ``3月上旬`` → 3/10, ``3月中旬`` → 3/20, ``3月下旬`` → last day of the month;
* ``3月25日前`` / ``3月25日`` / ``2024年12月30日前`` → that day;
* ``5月-10月``, ``5月--10月``, ``5—10月``, ``10-11月份``, ``5月至10月`` → last day of the
  final month (kind ``range``);
* ``X月`` / ``X月份`` → last day of the month;
* ``年底前`` / ``年内`` → Y-12-31; ``全年`` / ``下半年`` → Y-12-31 and ``上半年`` → Y-06-30
  (kind ``range``);
* ``一季度`` / ``第一季度`` … ``第四季度`` (``季度末``, ``季度底``) → the quarter's last day (kind ``range``);
* ``长期`` → no due date (kind ``ongoing``, never overdue);
* ``每月25日前`` → kind ``monthly``; ``due`` is its last occurrence in Y; ``月小结`` → every month's end;
* ``每季度末`` / ``季分析`` → kind ``quarterly``: due 31 December, the other quarter ends as checkpoints;
  ``半年评估`` / ``每半年`` → due 31 December, 30 June a checkpoint; ``年度总结`` → Y-12-31;
* several phrases joined by 、，和 or 及 (``3月25日、9月25日前``) → due at the last date, the earlier
  dates are ``checkpoints``.

A phrase outside this grammar is refused with the nearest accepted form as a suggestion.

``X月前`` is refused on purpose: it reads both as "before X begins" and "by the end of X".
"""
from __future__ import annotations

import calendar
import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

__all__ = ["Deadline", "DeadlinePhraseError", "parse_deadline"]

KINDS = ("date", "range", "ongoing", "monthly", "quarterly")

# Months of the following year's work: the bureau evaluates in "1月上旬" after the plan year.
_ROLLOVER_MONTHS = frozenset({1, 2})


class DeadlinePhraseError(ValueError):
    """A 完成时限 phrase that cannot be turned into a date; ``phrase`` is the text as written.

    ``suggestion`` may be given as a function: the nearest accepted form is then looked for only when
    the error is shown (a phrase tried as a date and then read otherwise, e.g. an indicator's ``≥560个``,
    costs no search)."""

    def __init__(self, phrase: str, reason: str | None = None,
                 suggestion: str | Callable[[], str | None] | None = None) -> None:
        self.phrase = phrase
        self.reason = reason
        self._suggestion = suggestion
        super().__init__(phrase)

    @property
    def suggestion(self) -> str | None:
        if callable(self._suggestion):
            self._suggestion = self._suggestion()
        return self._suggestion

    def __reduce__(self):
        """Pickled (to another process) with its suggestion found."""
        return type(self), (self.phrase, self.reason, self.suggestion)

    def __str__(self) -> str:
        # Recognised but impossible phrases (2月30日) say why; unknown ones name the nearest accepted form.
        if self.reason:
            return f"完成时限无效：“{self.phrase}”（{self.reason}）"
        suggestion = self.suggestion
        return f"无法识别的完成时限：“{self.phrase}”" + (f"（可写作“{suggestion}”）" if suggestion else "")


@dataclass(frozen=True)
class Deadline:
    """A parsed 完成时限."""

    phrase: str  # as written
    due: date | None  # None for 长期 (ongoing, never overdue)
    kind: str  # "date" | "range" | "ongoing" | "monthly"
    monthly_day: int | None = None  # for 每月N日前
    checkpoints: tuple[date, ...] = ()  # the earlier dates of a phrase naming several (3月25日、9月25日前)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown deadline kind {self.kind!r}")

    def occurrences(self, year: int) -> list[date]:
        """The due dates falling in ``year``.

        Monthly: the day in each month of ``year`` (clamped to the month's end, so 每月31日
        is 30 April); otherwise ``[due]``, or ``[]`` for 长期.
        """
        if self.kind == "monthly" and self.monthly_day is not None:
            return [_clamped(year, month, self.monthly_day) for month in range(1, 13)]
        if self.kind == "quarterly":
            return [_month_end(year, month) for month in (3, 6, 9, 12)]
        return sorted({*self.checkpoints, self.due}) if self.due is not None else list(self.checkpoints)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _normalise(phrase: str) -> str:
    """Canonical spelling: half-width digits and dashes, no blanks, no 份, 之前/以前 → 前."""
    text = unicodedata.normalize("NFKC", phrase)  # １２ → 12, － → -, ～ → ~
    text = re.sub(r"\s+", "", text)
    text = text.replace("月份", "月")
    return text.replace("之前", "前").replace("以前", "前")


_YEAR = r"(?:(?P<year>[0-9]{4})年)?"
_DASH = r"(?:[-‐‑‒–—―~〜]+|至|到)"

# (pattern, handler name); tried in order, the whole normalised phrase must match.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), name)
    for p, name in (
        (r"长期", "ongoing"),
        (r"每月(?P<day>[0-9]{1,2})[日号]前?", "monthly"),
        (r"每?月小结|每月[底末]前?", "month_rhythm"),
        (r"(?:每季度?(?:[底末]前?)?|季(?:度?分析|小结))", "quarterly"),
        (r"(?:每半年|半年(?:评估|总结|小结))", "half_yearly"),
        (r"年度总结", "year_end"),
        (_YEAR + r"第?(?P<quarter>[一二三四1-4])季度?(?:[底末])?前?", "quarter"),
        (r"(?P<year>[0-9]{4})?年(?:年)?[底末]前?", "year_end"),
        (r"(?P<year>[0-9]{4})?年内", "year_end"),
        (_YEAR + r"全年", "whole_year"),
        (_YEAR + r"(?P<half>[上下])半年(?:[底末])?前?", "half_year"),
        (_YEAR + r"(?P<month>[0-9]{1,2})月?" + _DASH + r"(?P<month2>[0-9]{1,2})月(?:[底末])?前?", "range"),
        (_YEAR + r"(?P<month>[0-9]{1,2})月[底末]前?", "month_end"),
        (_YEAR + r"(?P<month>[0-9]{1,2})月(?P<dekad>[上中下])旬前?", "dekad"),
        (_YEAR + r"(?P<month>[0-9]{1,2})月(?P<day>[0-9]{1,2})[日号]前?", "day"),
        (_YEAR + r"(?P<month>[0-9]{1,2})月", "month_end"),
        (_YEAR + r"(?P<month>[0-9]{1,2})月前", "ambiguous"),
    )
)


#: Every form above names a month, a year, a quarter or 长期: a phrase without one of these matches none.
_TIME_WORD = re.compile(r"[月年季期]")


def _month(phrase: str, value: str) -> int:
    month = int(value)
    if not 1 <= month <= 12:
        raise DeadlinePhraseError(phrase, f"月份{month}不存在")
    return month


def _year_for(phrase: str, explicit: str | None, plan_year: int, month: int, rolls_over: bool) -> int:
    """The year a month-based phrase lands in."""
    if explicit is not None:
        year = int(explicit)
        if not 1 <= year <= 9999:
            raise DeadlinePhraseError(phrase, f"年份{year}不存在")
        return year
    # Milestones after the plan year's work (年度评估 in 1月上旬) belong to Y+1.
    if rolls_over and month in _ROLLOVER_MONTHS:
        return plan_year + 1
    return plan_year


def _day(phrase: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DeadlinePhraseError(phrase, f"{year}年{month}月没有{day}日") from None


def parse_deadline(phrase: str, plan_year: int, *, rolls_over: bool = False) -> Deadline:
    """Parse a 完成时限 phrase of a plan for ``plan_year``.

    ``rolls_over=True`` is for milestones that follow the plan year's work: a phrase
    naming January or February without an explicit year then lands in ``plan_year + 1``.
    Raises :class:`DeadlinePhraseError` for anything outside the grammar (see the module
    docstring) or for dates that do not exist (2月30日).
    """
    if not isinstance(phrase, str):
        raise TypeError(f"expected a str phrase, got {type(phrase).__name__}")
    text = _normalise(phrase)
    if not _TIME_WORD.search(text):  # no form can match: refused without trying each (an indicator's ≥560个)
        raise DeadlinePhraseError(phrase, suggestion=lambda: suggest(text, plan_year))
    parts = [p for p in _JOINERS.split(text) if p]
    if len(parts) > 1:
        return _several(phrase, parts, plan_year, rolls_over)
    for pattern, kind in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return _build(phrase, kind, match.groupdict(), plan_year, rolls_over)
    raise DeadlinePhraseError(phrase, suggestion=lambda: suggest(text, plan_year))


_JOINERS = re.compile(r"[、，,;；和及]+")


def _several(phrase: str, parts: list[str], plan_year: int, rolls_over: bool) -> Deadline:
    """``3月25日、9月25日前``: due at the last date; every earlier date is a checkpoint."""
    dates: set[date] = set()
    for part in parts:
        try:
            dates.update(parse_deadline(part, plan_year, rolls_over=rolls_over).occurrences(plan_year))
        except DeadlinePhraseError as exc:
            if exc.reason:
                raise DeadlinePhraseError(phrase, f"“{part}”：{exc.reason}") from None
            raise DeadlinePhraseError(phrase, suggestion=_fixed(parts, part, exc)) from None
    if not dates:
        raise DeadlinePhraseError(phrase, "“长期”不能与具体日期并列")
    due = max(dates)
    return Deadline(phrase, due, "date", checkpoints=tuple(sorted(dates - {due})))


def _fixed(parts: list[str], part: str, exc: DeadlinePhraseError) -> Callable[[], str]:
    """The phrase with its refused ``part`` replaced by that part's suggestion, when it is asked for."""
    return lambda: "、".join(exc.suggestion if p == part else p for p in parts)


#: Accepted forms, nearest first by spelling, to suggest for a phrase that is refused ({m}: its month).
_EXAMPLES = ("{m}月底前", "{m}月30日前", "{m}月上旬", "{m}月中旬", "{m}月下旬", "5月至{m}月", "第一季度", "第四季度",
             "每季度末", "上半年", "下半年", "年底前", "年内", "长期", "每月25日前", "3月25日、9月25日前")
_SEASONS = {"春季": "3月至5月", "夏季": "6月至8月", "秋季": "9月至11月", "冬季": "12月底前", "年初": "1月底前",
            "年中": "6月底前", "年末": "年底前", "季末": "每季度末", "月末": "12月底前"}
_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
             "十一": 11, "十二": 12}


def suggest(text: str, plan_year: int) -> str:
    """The accepted form nearest to ``text``: its Chinese numerals as digits when that parses, else the closest example."""
    for word, value in sorted(_NUMERALS.items(), key=lambda kv: -len(kv[0])):
        text_digits = re.sub(f"{word}(?=月)", str(value), text)
        if text_digits != text:
            try:
                parse_deadline(text_digits, plan_year)
                return text_digits
            except DeadlinePhraseError:
                break
    quarter = re.fullmatch(r"[Qq]([1-4])", text)
    if quarter:
        return f"第{'一二三四'[int(quarter.group(1)) - 1]}季度"
    season = next((form for word, form in _SEASONS.items() if word in text), None)
    if season:
        return season
    month = re.search(r"([0-9]{1,2})月", text)
    m = month.group(1) if month and 1 <= int(month.group(1)) <= 12 else "12"
    examples = [e.format(m=m) for e in _EXAMPLES]
    close = difflib.get_close_matches(text, examples, n=1, cutoff=0.3)
    return close[0] if close else "12月底前"


def _build(phrase: str, kind: str, g: dict[str, str | None], plan_year: int, rolls_over: bool) -> Deadline:
    """Turn one matched pattern into a :class:`Deadline`."""
    if kind == "ambiguous":
        month = g["month"]
        raise DeadlinePhraseError(phrase, f"“{month}月前”有歧义，请写“{month}月底前”或“{month}月1日前”")
    if kind == "ongoing":
        return Deadline(phrase, None, "ongoing")
    if kind == "month_rhythm":  # 月小结: at every month's end
        return Deadline(phrase, date(plan_year, 12, 31), "monthly", monthly_day=31)
    if kind == "quarterly":
        ends = tuple(_month_end(plan_year, m) for m in (3, 6, 9))
        return Deadline(phrase, date(plan_year, 12, 31), "quarterly", checkpoints=ends)
    if kind == "half_yearly":
        return Deadline(phrase, date(plan_year, 12, 31), "date", checkpoints=(date(plan_year, 6, 30),))
    if kind == "quarter":
        quarter = g["quarter"] or "1"
        last = 3 * ("一二三四".index(quarter) if quarter in "一二三四" else int(quarter) - 1) + 3
        year = _year_for(phrase, g.get("year"), plan_year, last, rolls_over)
        return Deadline(phrase, _month_end(year, last), "range")
    if kind == "monthly":
        day = int(g["day"] or 0)
        if not 1 <= day <= 31:
            raise DeadlinePhraseError(phrase, f"每月没有{day}日")
        return Deadline(phrase, date(plan_year, 12, day), "monthly", monthly_day=day)
    if kind in ("year_end", "whole_year", "half_year"):
        year = _year_for(phrase, g.get("year"), plan_year, 12, rolls_over)
        if kind == "half_year" and g["half"] == "上":
            return Deadline(phrase, date(year, 6, 30), "range")
        return Deadline(phrase, date(year, 12, 31), "date" if kind == "year_end" else "range")

    month = _month(phrase, g["month"] or "")
    if kind == "range":
        last = _month(phrase, g["month2"] or "")
        if last < month:
            raise DeadlinePhraseError(phrase, f"起始月份{month}晚于结束月份{last}")
        year = _year_for(phrase, g.get("year"), plan_year, last, rolls_over)
        return Deadline(phrase, _month_end(year, last), "range")

    year = _year_for(phrase, g.get("year"), plan_year, month, rolls_over)
    if kind == "month_end":
        return Deadline(phrase, _month_end(year, month), "date")
    if kind == "dekad":
        due = {"上": date(year, month, 10), "中": date(year, month, 20)}.get(g["dekad"] or "")
        return Deadline(phrase, due or _month_end(year, month), "date")
    return Deadline(phrase, _day(phrase, year, month, int(g["day"] or 0)), "date")
