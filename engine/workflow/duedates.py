"""When the current state of a target is due, from its definition's per-state deadline rule."""
from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from engine.store import calendardays
from engine.workflow.definitions import Definition
from engine.store.models import Milestone, Target
from engine.calendar.workdays import add_workdays


def state_due(session: Session, target: Target, definition: Definition, state: str, entered_on: date,
              milestones: dict[str, date] | None = None) -> date | None:
    """The due date of ``state`` for ``target`` entered on ``entered_on``; ``None`` if it has none.

    ``target_deadline``: the target's own due date (None for 长期, never overdue);
    ``milestone``: the plan's milestone of that key; ``working_days``: so many working
    days after entering the state. ``milestones`` (key → due date) are the plan's, when the
    caller has read them already.
    """
    rule = definition.states[state].deadline or {}
    if rule.get("target_deadline"):
        return target.due_date
    if "milestone" in rule:
        if milestones is not None:
            return milestones.get(rule["milestone"])
        return session.exec(
            select(Milestone.due_date).where(Milestone.plan_id == target.plan_id, Milestone.key == rule["milestone"])
        ).first()
    if "working_days" in rule:
        calendardays.install(session)  # the office's holidays count, whichever process entered them
        return add_workdays(entered_on, rule["working_days"])
    return None
