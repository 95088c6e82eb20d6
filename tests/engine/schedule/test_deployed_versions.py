"""The scheduled sweeps follow each target's own deployed version: a version 2 with another deadline,
other reminders and another ladder is honoured for its targets while version 1's keep version 1's rules."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import select

from engine.calendar import clock
from engine.schedule import escalation, reminders
from engine.store.models import Reminder, Target
from engine.workflow import definitions, deployments
from tests import factories as f
from tests.engine.lifecycle import step

SHIPPED = definitions.source_text("target")
#: Version 2: 推进中 is due ten working days after it starts (not the target's deadline), one reminder
#: three working days ahead (not five and one), and the first escalation two working days late (not at once).
V2 = (SHIPPED
      .replace("  in_progress:\n    label: {zh: 推进中, en: In progress}\n    deadline: {target_deadline: true}\n",
               "  in_progress:\n    label: {zh: 推进中, en: In progress}\n    deadline: {working_days: 10}\n")
      .replace("working_days_before: [5, 1]", "working_days_before: [3]")
      .replace("  - level: 1\n    after_working_days: 0\n", "  - level: 1\n    after_working_days: 2\n"))


def _days(start: date, end: date):
    while start <= end:
        yield start
        start += timedelta(days=1)


def test_sweeps_use_the_version_each_target_runs_on(session, engine_db, frozen):
    assert V2.count("working_days_before: [3]") == V2.count("working_days: 10") == 1
    deployments.deploy_shipped(session=session)
    with clock.frozen(datetime(2024, 9, 2, 9)):
        old = f.target(session, due_date=date(2024, 9, 20))
        assert deployments.deploy(session=session, definition_text=V2, filename="target-v2.yaml").definition.version == 2
        new = f.target(session, due_date=date(2024, 9, 20))
        step(session, old.id, "start", f.STAFF)
        step(session, new.id, "start", f.STAFF)
    session.expire_all()
    old, new = session.get(Target, old.id), session.get(Target, new.id)
    assert (old.workflow_version, new.workflow_version) == (1, 2)
    # Ten working days after Monday 2 September is Saturday 14 September (a make-up working day before the
    # Mid-Autumn holiday); the old one keeps the target's deadline.
    assert (old.state_due, new.state_due) == (date(2024, 9, 20), date(2024, 9, 14))

    sent: dict[int, dict[date, int]] = {old.id: {}, new.id: {}}
    fired: dict[int, dict[date, list[int]]] = {old.id: {}, new.id: {}}
    for day in _days(date(2024, 9, 3), date(2024, 9, 30)):
        with clock.frozen(datetime(day.year, day.month, day.day, 9)):
            for target_id, days in reminders.sweep(engine_db, today=day):
                sent.setdefault(target_id, {})[day] = days
            for target_id, level in escalation.sweep(engine_db, today=day).fired:
                fired.setdefault(target_id, {}).setdefault(day, []).append(level)
    # Version 1: five and one working days before Friday 20 September (Saturday 14 September is a make-up
    # working day, 15–17 September the Mid-Autumn holiday).
    assert sent[old.id] == {date(2024, 9, 12): 5, date(2024, 9, 19): 1}
    # Version 2: once, three working days before Saturday 14 September.
    assert sent[new.id] == {date(2024, 9, 11): 3}
    session.rollback()  # end the read snapshot: see what the sweeps committed
    assert session.exec(select(Reminder.days_before).where(Reminder.target_id == new.id)).all() == [3]
    # Version 1 escalates the first day past due (Saturday 21 September), then 3 and 5 working days late.
    assert fired[old.id] == {date(2024, 9, 21): [1], date(2024, 9, 25): [2], date(2024, 9, 27): [3]}
    # Version 2 from its own due date, and level 1 only two working days late (18 and 19 September).
    assert fired[new.id] == {date(2024, 9, 19): [1], date(2024, 9, 20): [2], date(2024, 9, 24): [3]}


def test_a_state_s_own_reminders_repeat_while_the_target_stays_and_stop_when_it_leaves(session, engine_db, frozen):
    from engine.store.models import OutboxEvent
    from notifications.messages import render

    deployments.deploy_shipped(session=session)
    with clock.frozen(datetime(2024, 9, 2, 9)):
        old = f.target(session, due_date=date(2024, 12, 31))  # on version 1, which has no such reminder
        deployments.deploy(session=session, filename="target-v2.yaml", definition_text=SHIPPED.replace(
            "  in_progress:\n    label: {zh: 推进中, en: In progress}\n    deadline: {target_deadline: true}\n",
            "  in_progress:\n    label: {zh: 推进中, en: In progress}\n    deadline: {target_deadline: true}\n"
            "    remind: {every_working_days: 3, times: 3, notify: [responsible, leaders]}\n"))
        t = f.target(session, due_date=date(2024, 12, 31))
        step(session, t.id, "start", f.STAFF)
        step(session, old.id, "start", f.STAFF)
    sent: dict[date, list[tuple[int, int]]] = {}
    for day in _days(date(2024, 9, 3), date(2024, 9, 12)):
        with clock.frozen(datetime(day.year, day.month, day.day, 9)):
            if found := reminders.sweep(engine_db, today=day):
                sent[day] = found
            assert reminders.sweep(engine_db, today=day) == []  # twice a day sends nothing more
    # Three and six working days after Monday 2 September; version 1 has no such reminder.
    assert sent == {date(2024, 9, 5): [(t.id, -1)], date(2024, 9, 10): [(t.id, -2)]}
    with clock.frozen(datetime(2024, 9, 12, 10)):
        step(session, t.id, "self_assess", f.STAFF)
    for day in _days(date(2024, 9, 13), date(2024, 9, 30)):  # out of the state: the third is never sent
        with clock.frozen(datetime(day.year, day.month, day.day, 9)):
            assert reminders.sweep(engine_db, today=day) == []
    session.rollback()
    events = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "target.remind")
                          .order_by(OutboxEvent.id)).all()
    assert [e.data["working_days_in"] for e in events] == [3, 6]
    assert {r["name"] for r in events[0].recipients} == {"洪玮玮", "林长华"}
    subject, body = render("target.remind", events[0].data, "洪玮玮")
    assert subject == f"【提醒】目标 {t.code} 已处于“推进中” 3 个工作日" and "将于 2024-12-31 到期" in body
