"""Days the office entered come before the calendar package, and fill the years it does not know."""
from __future__ import annotations

import logging
from datetime import date

import pytest

from engine.calendar import workdays
from engine.calendar.workdays import add_workdays, is_workday, workdays_between

# 2027 National Day as the notice would give it (the package, 1.11.0, stops at 2026).
NATIONAL_DAY_2027 = {**{date(2027, 10, d): False for d in range(1, 8)}, date(2027, 9, 26): True, date(2027, 10, 9): True}


@pytest.fixture
def fresh_calendar():
    workdays._reset_for_tests()
    yield
    workdays._reset_for_tests()


def test_a_year_the_package_does_not_know_follows_the_entered_days(fresh_calendar, caplog):
    caplog.set_level(logging.WARNING, logger="kaoping.workdays")
    assert not workdays.library_covers(2027) and workdays.library_covers(2024)
    assert is_workday(date(2027, 10, 1))  # Friday: Monday–Friday fallback, wrongly worked
    assert workdays.use_overrides(NATIONAL_DAY_2027)
    assert not is_workday(date(2027, 10, 1)) and not is_workday(date(2027, 10, 7))
    assert is_workday(date(2027, 9, 26)) and is_workday(date(2027, 10, 9))  # Sunday and Saturday worked (调休)
    # Thursday 30 September + 1 working day: 1–7 October are off, Friday 8 October is next.
    assert add_workdays(date(2027, 9, 30), 1) == date(2027, 10, 8)
    assert workdays_between(date(2027, 9, 24), date(2027, 10, 10)) == 1 + 4 + 1 + 1  # Sun 26 Sep, 27–30 Sep, 8 and 9 Oct


def test_entered_days_come_before_the_package(fresh_calendar):
    assert not is_workday(date(2024, 10, 1))
    workdays.use_overrides({date(2024, 10, 1): True, date(2024, 9, 27): False})
    assert is_workday(date(2024, 10, 1)) and not is_workday(date(2024, 9, 27))
    assert is_workday(date(2024, 9, 30))  # what was not entered stays the package's


def test_a_new_set_replaces_the_old_one_and_the_same_set_changes_nothing(fresh_calendar):
    assert workdays.use_overrides(NATIONAL_DAY_2027)
    assert not workdays.use_overrides(dict(NATIONAL_DAY_2027))
    assert not is_workday(date(2027, 10, 4))
    assert workdays.use_overrides({})
    assert is_workday(date(2027, 10, 4)) and workdays.overrides() == {}


def test_no_fallback_warning_for_a_year_with_entered_days(fresh_calendar, caplog):
    caplog.set_level(logging.WARNING, logger="kaoping.workdays")
    workdays.use_overrides(NATIONAL_DAY_2027)
    is_workday(date(2027, 3, 1))
    assert not [r for r in caplog.records if r.name == "kaoping.workdays"]
