"""Reminders a configurable number of working days before a state's due date, once each per stay."""
from __future__ import annotations

from datetime import date

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
    return sent


def _remind(session: Session, target_id: int, entry: int, days: list[int], due: date, left: int) -> bool:
    """Send the most urgent reminder not sent yet; mark the wider ones done too; commits."""
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
        outbox.emit(session, event_type=f"{definition.id}.reminder", target_id=target_id, record_id=None,
                    notify=definition.reminder_notify, parties=parties_of(session, target_id),
                    data={"code": target.code, "text": target.text, "state": target.state,
                          "state_label": definition.state_label(target.state), "due": due.isoformat(),
                          "working_days_left": left})
        session.commit()
    except IntegrityError:  # another process sent it first
        session.rollback()
        return False
    except BaseException:
        session.rollback()
        raise
    return True
