"""Working-day arithmetic on the official Chinese calendar (法定节假日 and 调休).

The calendar comes from the maintained ``chinesecalendar`` package, which knows the
State Council's holiday arrangements for the years it covers (2004–2026 in 1.11.0).
Make-up working days (调休, e.g. a Sunday worked before National Day) count as
working days. For years it does not cover we fall back to Monday–Friday and log a
warning once per such year, so that a stale package is noticed but not noisy.

Overrides come first: days the office has entered from the State Council's notice
(``kaoping calendar set|import``), kept in the database. This wing cannot read the database;
the store installs them here (:func:`use_overrides`, from :mod:`engine.store.calendardays`)
before the work that counts working days, and every process reads them afresh that way.

Each year is turned into a small table once (cached, per set of overrides), so that the
escalation sweep can ask about thousands of targets cheaply.
"""
from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType

import chinese_calendar

logger = logging.getLogger("kaoping.workdays")

# Years for which the Monday–Friday fallback has already been announced.
_warned_years: set[int] = set()
# The overrides as one pair (generation, day → worked), replaced whole, never changed in place:
# a reader takes both at once, so a table built from an old set is never filed under a new one.
_state: tuple[int, Mapping[date, bool]] = (0, MappingProxyType({}))
_tables: dict[tuple[int, int], _Year] = {}  # (year, generation) → table


@dataclass(frozen=True)
class _Year:
    """One calendar year: which days are worked, by index from 1 January."""

    first: date
    flags: tuple[bool, ...]
    workdays: tuple[int, ...]  # sorted day indices of the working days


def _official_workday(day: date) -> bool | None:
    """The official answer for ``day``, or ``None`` if the package does not cover its year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def library_covers(year: int) -> bool:
    """Whether the calendar package knows the official arrangements of ``year``."""
    return _official_workday(date(year, 1, 1)) is not None


def use_overrides(days: Mapping[date, bool]) -> bool:
    """Make ``days`` (day → worked or not) the overrides; returns whether they changed."""
    global _state
    fresh = {_check(day): bool(worked) for day, worked in days.items()}
    generation, current = _state
    if fresh == dict(current):
        return False
    _state = (generation + 1, MappingProxyType(fresh))
    return True


def overrides() -> Mapping[date, bool]:
    """The overrides in use."""
    return _state[1]


def _year(year: int) -> _Year:
    generation, overrides = _state
    table = _tables.get((year, generation))
    if table is None:
        if len(_tables) > 256:  # old generations and far-off years
            _tables.clear()
        table = _tables[(year, generation)] = _build_year(year, overrides)
    return table


def _build_year(year: int, overrides: Mapping[date, bool]) -> _Year:
    first = date(year, 1, 1)
    length = (date(year + 1, 1, 1) - first).days if year < 9999 else 365
    days = [first + timedelta(days=i) for i in range(length)]
    own = {day: worked for day, worked in overrides.items() if day.year == year}
    # Probe once: the package covers whole years or nothing.
    if _official_workday(first) is None:
        if year not in _warned_years and not own:
            _warned_years.add(year)
            logger.warning(
                "chinesecalendar has no holiday data for %d; counting Monday–Friday as working days", year
            )
        flags = tuple(d.weekday() < 5 for d in days)
    else:
        flags = tuple(bool(_official_workday(d)) for d in days)
    if own:
        flags = tuple(own.get(d, flag) for d, flag in zip(days, flags))
    return _Year(first, flags, tuple(i for i, f in enumerate(flags) if f))


def _check(day: date) -> date:
    # A datetime is also a date; refuse it so that callers pick the zone (clock.today()).
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a datetime.date, got {type(day).__name__}")
    return day


def _index(day: date) -> int:
    return day.timetuple().tm_yday - 1


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day (调休 days count; holidays and weekends do not)."""
    day = _check(day)
    return _year(day.year).flags[_index(day)]


def next_workday(day: date) -> date:
    """``day`` itself if it is a working day, else the first working day after it."""
    return day if is_workday(day) else add_workdays(day, 1)


def add_workdays(day: date, n: int) -> date:
    """The date ``n`` working days after ``day``.

    ``n >= 1``: count forward, skipping non-working days (``day`` itself does not count);
    ``n == 0``: ``day`` itself, working day or not; ``n < 0``: the ``-n``-th working day
    before ``day``. Raises ``OverflowError`` past the ends of ``datetime.date``.
    """
    day = _check(day)
    if n == 0:
        return day
    year = day.year
    table = _year(year)
    if n > 0:
        # Working days of this year that are <= day come before the count starts.
        k = bisect_right(table.workdays, _index(day)) + n - 1
        while k >= len(table.workdays):
            k -= len(table.workdays)
            year += 1
            if year > 9999:
                raise OverflowError("date value out of range")
            table = _year(year)
    else:
        k = bisect_left(table.workdays, _index(day)) + n
        while k < 0:
            year -= 1
            if year < 1:
                raise OverflowError("date value out of range")
            table = _year(year)
            k += len(table.workdays)
    return table.first + timedelta(days=table.workdays[k])


def _done_by(day: date) -> int:
    """How many working days of ``day``'s year fall on or before ``day``."""
    return bisect_right(_year(day.year).workdays, _index(day))


def workdays_between(start: date, end: date) -> int:
    """How many working days ``d`` satisfy ``start < d <= end``; 0 if ``end <= start``.

    With ``start = due`` and ``end = today`` this is "working days overdue"; with
    ``start = today`` and ``end = due``, "working days left".
    """
    start, end = _check(start), _check(end)
    if end <= start:
        return 0
    if start.year == end.year:
        return _done_by(end) - _done_by(start)
    count = len(_year(start.year).workdays) - _done_by(start)
    for year in range(start.year + 1, end.year):
        count += len(_year(year).workdays)
    return count + _done_by(end)


def _reset_for_tests() -> None:
    """Forget cached years and announced fallbacks (tests only)."""
    _tables.clear()
    _warned_years.clear()
    use_overrides({})
