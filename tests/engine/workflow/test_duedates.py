"""Per-state due dates, including working-day deadlines across the National Day 2024 holiday."""
from __future__ import annotations

from datetime import date
from importlib import resources

from engine.workflow import definitions
from engine.workflow.duedates import state_due
from tests import factories as f

TARGET_YAML = resources.files("workflows").joinpath("target.yaml").read_text("utf-8")
# The same lifecycle, but a self-assessment must be signed within 3 working days of entering the state.
THREE_DAYS = definitions.parse(
    TARGET_YAML.replace("deadline: {milestone: self_assessment_signed}", "deadline: {working_days: 3}"), "t.yaml")


def test_working_day_deadline_skips_the_national_day_holiday(session):
    t = f.target(session)
    # Entered Monday 30 September 2024: 1–7 October are off, so the 3rd working day is Thursday 10 October.
    assert state_due(session, t, THREE_DAYS, "self_assessed", date(2024, 9, 30)) == date(2024, 10, 10)
    # Entered Friday 27 September: Sunday 29 September is a make-up working day (调休), then 30 September, then 8 October.
    assert state_due(session, t, THREE_DAYS, "self_assessed", date(2024, 9, 27)) == date(2024, 10, 8)
    # Entered Friday 11 October: Saturday 12 October is a make-up working day, then Monday 14, Tuesday 15.
    assert state_due(session, t, THREE_DAYS, "self_assessed", date(2024, 10, 11)) == date(2024, 10, 15)


def test_target_deadline_and_milestones(session):
    t = f.target(session, due_date=None, deadline_phrase="长期")
    d = definitions.get("target")
    assert state_due(session, t, d, "in_progress", date(2024, 3, 1)) is None  # 长期: never overdue
    assert state_due(session, t, d, "self_assessed", date(2024, 12, 1)) == date(2024, 12, 30)
    assert state_due(session, t, d, "verified", date(2024, 12, 1)) == date(2025, 1, 10)
    assert state_due(session, t, d, "scored", date(2024, 12, 1)) is None
