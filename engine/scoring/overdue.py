"""How many targets were overdue at each month's end, from due dates and the transition history.

Overdue means what it means everywhere (DESIGN.md): the state a target was in at that moment
was past its due date — the target's own deadline in ``assigned`` / ``in_progress``, the plan's
milestones later on, never for 长期. A month's end is the first moment of the next month
(Asia/Shanghai): a target due on 31 December and not yet self-assessed then is overdue at the
end of December.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from engine.calendar import clock
from engine.store.models import Target, TransitionRecord
from engine.workflow import deployments
from engine.workflow.duedates import state_due


def month_ends(year: int) -> list[tuple[str, date]]:
    """The months a plan's report charts — its year and the January after — with the first day after each."""
    ends = [(f"{m}月", date(year + (m == 12), m % 12 + 1, 1)) for m in range(1, 13)]
    return ends + [("次年1月", date(year + 1, 2, 1))]


def _cutoff(day: date) -> datetime:
    return clock.to_db(datetime(day.year, day.month, day.day, tzinfo=clock.ZONE))


def _db_time(moment: datetime) -> datetime:
    return clock.to_db(clock.local(moment))  # naive timestamps from SQLite are UTC


def overdue_at(*, session: Session, targets: list[Target], days: list[date]) -> list[int]:
    """For each day in ``days``, how many of ``targets`` were overdue at its first moment
    (that is, at the end of the day before); days after today count nothing and give ``-1``."""
    ids = [t.id for t in targets]
    history: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    if ids:
        rows = session.exec(select(TransitionRecord.target_id, TransitionRecord.at, TransitionRecord.to_state,
                                   TransitionRecord.from_state)
                            .where(TransitionRecord.target_id.in_(ids), TransitionRecord.to_state.is_not(None))
                            .order_by(TransitionRecord.id))
        for target_id, at, to_state, from_state in rows:
            if to_state != from_state:  # a progress report stays in its state
                history[target_id].append((_db_time(at), to_state))
    dues: dict[Any, date | None] = {}
    now, counts = clock.to_db(clock.now()), [0] * len(days)
    for target in targets:
        definition = deployments.resolve(session, target.workflow, target.workflow_version)  # its own version
        stays = [(_db_time(target.created_at), definition.initial)] + history[target.id]
        stays.sort(key=lambda stay: stay[0])
        moments = [at for at, _ in stays]
        for i, day in enumerate(days):
            cutoff = _cutoff(day)
            if cutoff > now:
                counts[i] = -1
                continue
            index = bisect_right(moments, cutoff) - 1
            if index < 0:
                continue  # the target did not exist yet
            entered, state = stays[index]
            rule = definition.states[state].deadline or {}
            entered_on = clock.local(entered).date()
            key = (target.id, state) if rule.get("target_deadline") else (target.plan_id, definition.id, definition.version, state, entered_on)
            if key not in dues:
                dues[key] = state_due(session, target, definition, state, entered_on)
            due = dues[key]
            if due is not None and due < day:
                counts[i] += 1
    return counts
