"""Working days on the official Chinese calendar; expected values worked out by hand."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import workdays
from engine.calendar.workdays import add_workdays, is_workday, next_workday, workdays_between


@pytest.fixture
def fresh_calendar():
    """Forget cached years so the once-per-year warning can be observed."""
    workdays._reset_for_tests()
    yield
    workdays._reset_for_tests()


# --- National Day 2024: 1–7 Oct off; Sun 29 Sep and Sat 12 Oct are make-up working days.

@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2024, 9, 27), True),   # Friday
        (date(2024, 9, 28), False),  # Saturday
        (date(2024, 9, 29), True),   # Sunday, 调休
        (date(2024, 9, 30), True),   # Monday
        *[(date(2024, 10, d), False) for d in range(1, 8)],
        (date(2024, 10, 8), True),   # Tuesday, back to work
        (date(2024, 10, 11), True),  # Friday
        (date(2024, 10, 12), True),  # Saturday, 调休
        (date(2024, 10, 13), False),  # Sunday
        (date(2024, 10, 14), True),  # Monday
    ],
)
def test_national_day_2024(day: date, expected: bool) -> None:
    assert is_workday(day) is expected


def test_add_workdays_over_national_day_2024() -> None:
    assert add_workdays(date(2024, 9, 30), 1) == date(2024, 10, 8)
    assert add_workdays(date(2024, 9, 27), 1) == date(2024, 9, 29)
    assert add_workdays(date(2024, 9, 27), 2) == date(2024, 9, 30)
    assert add_workdays(date(2024, 9, 27), 3) == date(2024, 10, 8)
    # 8, 9, 10, 11 and the make-up Saturday 12: the 5th working day after 30 Sep.
    assert add_workdays(date(2024, 9, 30), 5) == date(2024, 10, 12)
    assert add_workdays(date(2024, 9, 30), 6) == date(2024, 10, 14)
    # From inside the holiday the count starts at the first working day.
    assert add_workdays(date(2024, 10, 3), 1) == date(2024, 10, 8)


def test_add_workdays_zero_and_backwards() -> None:
    assert add_workdays(date(2024, 10, 3), 0) == date(2024, 10, 3)  # even on a holiday
    assert add_workdays(date(2024, 10, 8), -1) == date(2024, 9, 30)
    assert add_workdays(date(2024, 10, 8), -2) == date(2024, 9, 29)
    assert add_workdays(date(2024, 10, 8), -3) == date(2024, 9, 27)
    assert add_workdays(date(2024, 10, 5), -1) == date(2024, 9, 30)


def test_workdays_between_national_day_2024() -> None:
    # (30 Sep, 12 Oct]: 1–7 off, then 8, 9, 10, 11, 12 (Saturday 调休) → 5.
    assert workdays_between(date(2024, 9, 30), date(2024, 10, 12)) == 5
    # (27 Sep, 8 Oct]: 29 Sep (Sunday 调休), 30 Sep, 8 Oct → 3.
    assert workdays_between(date(2024, 9, 27), date(2024, 10, 8)) == 3
    # (30 Sep, 14 Oct]: the 5 above, 13 Oct is Sunday, 14 Oct → 6.
    assert workdays_between(date(2024, 9, 30), date(2024, 10, 14)) == 6
    assert workdays_between(date(2024, 10, 1), date(2024, 10, 7)) == 0
    assert workdays_between(date(2024, 10, 12), date(2024, 9, 30)) == 0
    assert workdays_between(date(2024, 10, 8), date(2024, 10, 8)) == 0


# --- Spring Festival 2024: 10–17 Feb off; Sun 4 Feb and Sun 18 Feb are make-up working days.

def test_spring_festival_2024() -> None:
    assert is_workday(date(2024, 2, 4))  # Sunday, 调休
    assert is_workday(date(2024, 2, 9))  # 除夕 was a working day in 2024
    assert not any(is_workday(date(2024, 2, d)) for d in range(10, 18))
    assert is_workday(date(2024, 2, 18))  # Sunday, 调休
    assert add_workdays(date(2024, 2, 3), 1) == date(2024, 2, 4)
    assert add_workdays(date(2024, 2, 9), 1) == date(2024, 2, 18)
    assert add_workdays(date(2024, 2, 9), 2) == date(2024, 2, 19)
    assert add_workdays(date(2024, 2, 18), -1) == date(2024, 2, 9)
    # (2 Feb, 19 Feb]: 4, 5, 6, 7, 8, 9 Feb, then 18, 19 Feb → 8.
    assert workdays_between(date(2024, 2, 2), date(2024, 2, 19)) == 8
    assert workdays_between(date(2024, 2, 9), date(2024, 2, 17)) == 0


def test_next_workday() -> None:
    assert next_workday(date(2024, 10, 1)) == date(2024, 10, 8)
    assert next_workday(date(2024, 10, 8)) == date(2024, 10, 8)
    assert next_workday(date(2024, 9, 28)) == date(2024, 9, 29)


def test_across_new_year() -> None:
    # 1 Jan 2025 (Wednesday) is a holiday; 2 Jan is a Thursday.
    assert workdays_between(date(2024, 12, 31), date(2025, 1, 2)) == 1
    assert add_workdays(date(2024, 12, 31), 1) == date(2025, 1, 2)
    assert add_workdays(date(2025, 1, 2), -1) == date(2024, 12, 31)


def test_datetime_is_refused() -> None:
    # The caller must decide the zone (Asia/Shanghai) before asking about a day.
    with pytest.raises(TypeError):
        is_workday(datetime(2024, 10, 8, 9, 0))


# --- Years the package does not cover: Monday–Friday, announced once.

def test_fallback_2030_is_monday_to_friday(fresh_calendar, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="kaoping.workdays")
    # 7–13 Jan 2030 runs Monday to Sunday.
    week = [date(2030, 1, 7) + timedelta(days=i) for i in range(7)]
    assert [is_workday(d) for d in week] == [True] * 5 + [False] * 2
    assert add_workdays(date(2030, 1, 11), 1) == date(2030, 1, 14)  # Friday → Monday
    assert workdays_between(date(2030, 1, 6), date(2030, 1, 13)) == 5
    assert next_workday(date(2030, 1, 12)) == date(2030, 1, 14)
    records = [r for r in caplog.records if r.name == "kaoping.workdays"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "2030" in records[0].getMessage()


def test_fallback_warning_survives_cache_clear(fresh_calendar, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="kaoping.workdays")
    is_workday(date(2030, 3, 1))
    workdays._tables.clear()  # e.g. memory pressure; still no second warning
    is_workday(date(2030, 3, 2))
    assert len([r for r in caplog.records if r.name == "kaoping.workdays"]) == 1


def test_covered_years_do_not_warn(fresh_calendar, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="kaoping.workdays")
    is_workday(date(2024, 5, 1))
    assert not caplog.records


# --- Properties. Dates span covered years and the fallback just after them.

days = st.dates(min_value=date(2005, 1, 1), max_value=date(2031, 12, 31))
counts = st.integers(min_value=0, max_value=400)


@settings(max_examples=300)
@given(days, st.integers(min_value=1, max_value=400))
def test_add_workdays_lands_on_a_workday(day: date, n: int) -> None:
    assert is_workday(add_workdays(day, n))
    assert is_workday(add_workdays(day, -n))
    assert add_workdays(day, n) > day > add_workdays(day, -n)


@settings(max_examples=300)
@given(days, counts)
def test_between_inverts_add(day: date, n: int) -> None:
    assert workdays_between(day, add_workdays(day, n)) == n


@settings(max_examples=300)
@given(days, st.integers(min_value=1, max_value=400))
def test_backwards_counts_n_workdays_before(day: date, n: int) -> None:
    back = add_workdays(day, -n)
    # Working days in [back, day) are exactly n.
    assert workdays_between(back - timedelta(days=1), day - timedelta(days=1)) == n


@settings(max_examples=300)
@given(days, counts, counts)
def test_add_workdays_is_monotonic_in_n(day: date, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert add_workdays(day, lo) <= add_workdays(day, hi)
    assert add_workdays(add_workdays(day, lo), hi - lo) == add_workdays(day, hi)


@settings(max_examples=300)
@given(days, days, st.integers(min_value=1, max_value=60))
def test_monotonic_in_dates(a: date, b: date, n: int) -> None:
    lo, hi = sorted((a, b))
    assert add_workdays(lo, n) <= add_workdays(hi, n)
    assert workdays_between(lo, hi) >= 0
    later = hi + timedelta(days=n)
    assert workdays_between(lo, later) >= workdays_between(lo, hi)
    # Splitting an interval splits the count.
    assert workdays_between(lo, later) == workdays_between(lo, hi) + workdays_between(hi, later)


@settings(max_examples=200)
@given(days, st.integers(min_value=0, max_value=40))
def test_between_matches_a_naive_count(day: date, span: int) -> None:
    end = day + timedelta(days=span)
    naive = sum(is_workday(day + timedelta(days=i)) for i in range(1, span + 1))
    assert workdays_between(day, end) == naive


@given(days)
def test_next_workday_is_the_first(day: date) -> None:
    nxt = next_workday(day)
    assert is_workday(nxt) and nxt >= day
    assert workdays_between(day - timedelta(days=1), nxt) == 1
