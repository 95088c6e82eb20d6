"""Reminders a configurable number of working days before a state's due date, once each per stay; and a
state's own reminders (``remind``: BPMN's non-interrupting boundary timers and timer cycles), so many working
days after the target entered it and every so many again, each once per stay.

A state's own reminders are rows of the same table: the ``n``-th one of a stay is written as
``days_before = -n`` (after entering, not before the due date), so the same unique key makes each one
fire once, whichever process sends it."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store import calendardays, db
from engine.workflow import deployments, outbox
from engine.store.models import Reminder, Target
from engine.workflow.targets import parties_of
from engine.calendar.workdays import add_workdays, workdays_between


def sweep(bind: Engine, *, today: date | None = None) -> list[tuple[int, int]]:
    """Send the reminders that are due today; returns (target id, working days before) sent. Idempotent."""
    today = today or clock.today()
    sent: list[tuple[int, int]] = []
    with Session(bind, expire_on_commit=False) as session:
        calendardays.install(session)  # the office's holidays count, whichever process entered them
        for definition in deployments.running(session):  # each version with its own reminders
            if not definition.reminder_days:
                continue
            horizon = add_workdays(today, max(definition.reminder_days))
            states = [s.name for s in definition.states.values() if s.deadline]
            candidates = session.exec(
                select(Target.id, Target.state_due, Target.entry)
                .where(Target.workflow == definition.id, Target.workflow_version == definition.version,
                       Target.state.in_(states), Target.state_due >= today,
                       Target.state_due <= horizon)
            ).all()
            for target_id, due, entry in candidates:
                left = workdays_between(today, due)
                days = [d for d in definition.reminder_days if left <= d]
                if days and _remind(session, target_id, entry, days, due, left):
                    sent.append((target_id, min(days)))
        for definition in deployments.running(session):
            sent += _stays(session, definition, today)
    return sent


def _stays(session: Session, definition, today: date) -> list[tuple[int, int]]:
    """The state reminders of ``definition`` due today: (target id, -n) for the ``n``-th of its stay sent."""
    sent = []
    for state in (s for s in definition.states.values() if s.remind):
        spec = state.remind
        # n working days after entering are at least n calendar days: only stays that long are read.
        since = clock.to_db(datetime.combine(today - timedelta(days=spec.every - 1), time.min, clock.ZONE))
        stays = session.exec(select(Target.id, Target.entry, Target.state_entered_at)
                             .where(Target.workflow == definition.id, Target.workflow_version == definition.version,
                                    Target.state == state.name, Target.state_entered_at < since)).all()
        for target_id, entry, entered_at in stays:
            entered = clock.local(entered_at).date()
            n = workdays_between(entered, today) // spec.every
            if spec.times is not None:
                n = min(n, spec.times)
            if n >= 1 and _remind(session, target_id, entry, [-k for k in range(1, n + 1)], spec.due_on(entered, n),
                                  None, notify=spec.notify, working_days_in=n * spec.every):
                sent.append((target_id, -n))
    return sent


def _remind(session: Session, target_id: int, entry: int, days: list[int], due: date, left: int | None, *,
            notify: tuple[str, ...] | None = None, working_days_in: int = 0) -> bool:
    """Send the most urgent reminder not sent yet; mark the wider ones done too; commits. ``left`` is ``None``
    for a state's own reminder (``working_days_in`` the state, ``due``: the day it was due)."""
    db.begin_write(session)
    try:
        query = select(Target).where(Target.id == target_id).execution_options(populate_existing=True)
        target = session.exec(query if db.is_sqlite(session) else query.with_for_update()).first()
        if target is None or target.entry != entry:
            session.rollback()
            return False
        done = set(session.exec(select(Reminder.days_before).where(Reminder.target_id == target_id,
                                                                   Reminder.entry == entry)))
        missing = [d for d in days if d not in done]
        if not missing:
            session.rollback()
            return False
        definition = deployments.resolve(session, target.workflow, target.workflow_version)
        for d in missing:
            session.add(Reminder(target_id=target_id, entry=entry, days_before=d, due_date=due))
        session.flush()
        data = {"code": target.code, "text": target.text, "state": target.state,
                "state_label": definition.state_label(target.state), "due": due.isoformat()}
        if left is None:  # so long in the state: told again, whether or not the state has a due date
            data |= {"working_days_in": working_days_in,
                     "state_due": target.state_due.isoformat() if target.state_due else ""}
        else:
            data["working_days_left"] = left
        outbox.emit(session, event_type=f"{definition.id}.reminder" if left is not None else f"{definition.id}.remind",
                    target_id=target_id, record_id=None, notify=notify or definition.reminder_notify,
                    parties=parties_of(session, target_id), data=data)
        session.commit()
    except IntegrityError:  # another process sent it first
        session.rollback()
        return False
    except BaseException:
        session.rollback()
        raise
    return True
