"""Escalation, reminders and recurring reports on a controllable clock, across National Day 2024."""
from __future__ import annotations

import multiprocessing
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from engine.audit import chain
from engine.calendar import clock
from engine.schedule import escalation, reminders, recurring as reports
from engine.store.models import Escalation, OutboxEvent, Reminder, Target, TransitionRecord
from tests import factories as f
from tests.engine.lifecycle import step

spawn = multiprocessing.get_context("spawn")


def _day(session, bind, day: date, target_id: int | None = None):
    """Sweep as of 09:00 on ``day``; the levels fired (of ``target_id`` only, when given)."""
    with clock.frozen(datetime(day.year, day.month, day.day, 9, 0)):
        return [level for fired, level in escalation.sweep(bind, today=day).fired if target_id in (None, fired)]


def _fresh(session):
    """Forget what this session remembers and end its read snapshot: see what the sweeps committed."""
    session.rollback()
    session.expire_all()


def _days(start: date, end: date):
    while start <= end:
        yield start
        start += timedelta(days=1)


def test_levels_fire_on_the_right_working_days_across_national_day(session, engine_db, frozen):
    t = f.target(session, due_date=date(2024, 9, 30))
    step(session, t.id, "start", f.STAFF)
    fired = {day: _day(session, engine_db, day) for day in _days(date(2024, 9, 28), date(2024, 10, 14))}
    # Due Monday 30 September. 1 October (a holiday) is past due: level 1. 1–7 October are off,
    # so the 3rd working day late is Thursday 10 October (level 2) and the 5th is Saturday
    # 12 October, a make-up working day (level 3, supervised).
    assert {day: levels for day, levels in fired.items() if levels} == {
        date(2024, 10, 1): [1], date(2024, 10, 10): [2], date(2024, 10, 12): [3]}
    _fresh(session)
    target = session.get(Target, t.id)
    assert target.supervised and target.escalation_level == 3
    records = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "escalate")
                           .order_by(TransitionRecord.id)).all()
    assert [(r.kind, r.role, r.payload["level"], r.payload["working_days_late"]) for r in records] == [
        ("system", "system", 1, 0), ("system", "system", 2, 3), ("system", "system", 3, 5)]
    events = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "target.escalated")
                          .order_by(OutboxEvent.id)).all()
    assert [e.recipients for e in events] == [[{"kind": "person", "name": "洪玮玮"}],
                                              [{"kind": "person", "name": "林长华"}],
                                              [{"kind": "role", "name": "office"}]]
    assert chain.verify(session).ok


def test_a_second_sweep_fires_nothing_and_moving_on_resets(session, engine_db, frozen):
    t = f.target(session, due_date=date(2024, 9, 30))
    step(session, t.id, "start", f.STAFF)
    assert _day(session, engine_db, date(2024, 10, 12)) == [1, 2, 3]  # a sweep that was down catches up
    assert _day(session, engine_db, date(2024, 10, 12)) == []
    assert _day(session, engine_db, date(2024, 10, 14)) == []
    with clock.frozen(datetime(2024, 10, 14, 10)):
        step(session, t.id, "self_assess", f.STAFF)
    _fresh(session)
    target = session.get(Target, t.id)
    assert (target.state, target.supervised, target.escalation_level, target.entry) == ("self_assessed", False, 0, 3)
    # self_assessed is due on the plan's milestone, 30 December: a new escalation starts after it.
    # (The 督办单 issued at level 3, never replied to, escalates on its own.)
    assert _day(session, engine_db, date(2024, 12, 30), t.id) == []
    assert _day(session, engine_db, date(2024, 12, 31), t.id) == [1]
    _fresh(session)
    rows = session.exec(select(Escalation.entry, Escalation.level).where(Escalation.target_id == t.id)
                        .order_by(Escalation.id)).all()
    assert rows == [(2, 1), (2, 2), (2, 3), (3, 1)]


def test_ongoing_targets_never_escalate(session, engine_db, frozen):
    t = f.target(session, due_date=None, deadline_phrase="长期")
    step(session, t.id, "start", f.STAFF)
    assert all(_day(session, engine_db, d) == [] for d in (date(2024, 12, 31), date(2025, 6, 30)))
    assert session.exec(select(func.count()).select_from(Escalation)).one() == 0


def test_two_processes_sweeping_at_once_fire_each_level_once(db_url, session, engine_db, frozen):
    ids = []
    for _ in range(6):
        t = f.target(session, due_date=date(2024, 9, 30))
        step(session, t.id, "start", f.STAFF)
        ids.append(t.id)
    barrier, results = spawn.Barrier(2), spawn.Queue()
    procs = [spawn.Process(target=_sweep_in_child, args=(db_url, "2024-10-12", barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    fired = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(fired) == 6 * 3
    rows = session.exec(select(Escalation.target_id, Escalation.level)).all()
    assert sorted(rows) == sorted((i, level) for i in ids for level in (1, 2, 3))
    assert session.exec(select(func.count()).select_from(TransitionRecord)
                        .where(TransitionRecord.trigger == "escalate")).one() == 18
    assert chain.verify(session).ok


def _sweep_in_child(url, day, barrier, results):
    from engine.store.db import make_engine

    bind = make_engine(url)
    barrier.wait()
    results.put(len(escalation.sweep(bind, today=date.fromisoformat(day)).fired))
    bind.dispose()


def test_reminders_five_and_one_working_days_before(session, engine_db, frozen):
    t = f.target(session, due_date=date(2024, 10, 10))
    step(session, t.id, "start", f.STAFF)
    sent = {}
    for day in _days(date(2024, 9, 20), date(2024, 10, 10)):
        with clock.frozen(datetime(day.year, day.month, day.day, 9)):
            for _, days in reminders.sweep(engine_db, today=day):
                sent[day] = days
            reminders.sweep(engine_db, today=day)  # twice a day changes nothing
    # Due Thursday 10 October: five working days before is Friday 27 September (29 and
    # 30 September, 8, 9 and 10 October are working days); one working day before is 9 October.
    assert sent == {date(2024, 9, 27): 5, date(2024, 10, 9): 1}
    assert session.exec(select(func.count()).select_from(Reminder)).one() == 2
    events = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "target.reminder")).all()
    assert [e.data["working_days_left"] for e in events] == [5, 1]


def test_reminders_start_over_in_a_new_state(session, engine_db, frozen):
    t = f.target(session, due_date=date(2024, 12, 31))
    step(session, t.id, "start", f.STAFF)
    assert reminders.sweep(engine_db, today=date(2024, 12, 30)) == [(t.id, 1)]
    step(session, t.id, "self_assess", f.STAFF)  # now due 30 December (milestone): already in the window
    assert reminders.sweep(engine_db, today=date(2024, 12, 30)) == [(t.id, 1)]
    assert reminders.sweep(engine_db, today=date(2024, 12, 30)) == []


def test_monthly_reports_appear_on_schedule_and_escalate_when_late(session, engine_db, frozen):
    from engine.plans import service
    from engine.plans.importer import parse
    from engine.plans.table import read
    from tests.engine.plans.test_importer import GOOD, _csv

    service.apply(session=session, draft=parse(read(_csv(GOOD), "p-2024.csv"), "p-2024.csv", org="泉州市教育局"),
                actor=f.ADMIN)  # created 3 June 2024
    sections = ("规划科", "组织科", "办公室")
    # The half-year summary (due 25 June) is made 15 days ahead; June's monthly report 10 days ahead.
    assert sorted(reports.create_due(engine_db, today=date(2024, 6, 9))) == []
    assert sorted(reports.create_due(engine_db, today=date(2024, 6, 14))) == sorted(
        f"R-half_year-20240625-{s}" for s in sections)
    made = reports.create_due(engine_db, today=date(2024, 6, 15))
    assert sorted(made) == sorted(f"R-monthly-20240625-{s}" for s in sections)
    assert reports.create_due(engine_db, today=date(2024, 6, 16)) == []  # once
    _fresh(session)
    item = session.exec(select(Target).where(Target.code == "R-monthly-20240625-规划科")).one()
    assert (item.workflow, item.state, item.due_date, item.weight) == ("report", "due", date(2024, 6, 25), 0)
    half_year = session.exec(select(Target).where(Target.code.like("R-half_year-%"))).all()
    assert len(half_year) == 3  # due 25 June, created from 10 June on
    with clock.frozen(datetime(2024, 6, 26, 9)):
        fired = escalation.sweep(engine_db, today=date(2024, 6, 26)).fired
    assert (item.id, 1) in fired
    staff = f.Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}))
    from engine.workflow.commands import fire

    done = fire(session=session, target_id=item.id, trigger="submit", actor=staff,
                payload={"content": "6月完成学位扩容项目3个"})
    assert done.target.state == "submitted"


def test_reports_are_not_made_for_months_before_the_plan(session, engine_db):
    with clock.frozen(datetime(2024, 9, 1, 9)):
        f.target(session)  # the plan is created on 1 September
        from engine.plans.rhythm import add_default_schedule

        add_default_schedule(session, f.plan(session).id)
        session.commit()
    made = reports.create_due(engine_db, today=date(2024, 9, 20))
    assert made and all("202409" in code for code in made)


@pytest.mark.parametrize("day", [date(2024, 10, 1)])
def test_sweep_reads_only_overdue_targets(session, engine_db, frozen, day):
    for due in (date(2024, 12, 31), date(2024, 9, 30), None):
        f.target(session, due_date=due)
    with Session(engine_db) as s:
        from engine.workflow.definitions import get

        assert len(escalation.overdue(s, get("target"), day)) == 1


def test_escalation_does_not_make_open_forms_stale(session, engine_db, frozen):
    t = f.target(session, due_date=date(2024, 9, 30))
    step(session, t.id, "start", f.STAFF)  # version 2
    _day(session, engine_db, date(2024, 10, 12))  # three levels, supervised
    _fresh(session)
    assert session.get(Target, t.id).supervised
    assert step(session, t.id, "report_progress", f.STAFF, expected_version=2).target.version == 3
