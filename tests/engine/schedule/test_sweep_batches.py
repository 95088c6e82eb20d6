"""The overdue sweep in batches: one commit per batch, each target all-or-nothing in its savepoint."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from engine.audit import chain
from engine.calendar import clock
from engine.schedule import escalation
from engine.store.models import Escalation, OutboxEvent, Target, TransitionRecord
from engine.workflow import outbox
from tests import factories as f
from tests.engine.lifecycle import step

DAY = date(2024, 10, 12)  # five working days after 30 September: every level is due


def _overdue(session, count: int) -> list[int]:
    ids = []
    for _ in range(count):
        t = f.target(session, due_date=date(2024, 9, 30))
        step(session, t.id, "start", f.STAFF)
        ids.append(t.id)
    return ids


def _escalations(session, target_id: int) -> list[int]:
    return list(session.exec(select(Escalation.level).where(Escalation.target_id == target_id).order_by(Escalation.level)))


def test_batches_escalate_every_target_once(session, engine_db, frozen):
    ids = _overdue(session, 5)
    commits = []
    from sqlalchemy import event

    event.listen(engine_db, "commit", lambda conn: commits.append(1))
    with clock.frozen(datetime(2024, 10, 12, 9)):
        result = escalation.sweep(engine_db, today=DAY, batch=2)
    assert sorted(result.fired) == sorted((i, level) for i in ids for level in (1, 2, 3))
    assert result.checked == 5
    assert len(commits) == 1 + 3  # the end of the read of the overdue list, then one per batch: 2 + 2 + 1 targets
    session.rollback()
    session.expire_all()
    assert all(_escalations(session, i) == [1, 2, 3] for i in ids)
    assert all(session.get(Target, i).supervised for i in ids)
    assert chain.verify(session).ok
    with clock.frozen(datetime(2024, 10, 12, 10)):
        assert escalation.sweep(engine_db, today=DAY, batch=2).fired == []


def test_a_failing_target_in_a_batch_leaves_nothing_and_the_others_stay(session, engine_db, frozen, monkeypatch):
    ids = _overdue(session, 3)
    records_before = session.exec(select(func.count()).select_from(TransitionRecord)).one()
    real_emit = outbox.emit

    def emit(session, **kwargs):
        if kwargs["target_id"] == ids[1] and kwargs["data"]["level"] == 3:  # after two levels of its own were written
            raise IntegrityError("INSERT …", {}, Exception("another sweeper recorded this level first"))
        return real_emit(session, **kwargs)

    monkeypatch.setattr(outbox, "emit", emit)
    with clock.frozen(datetime(2024, 10, 12, 9)):
        result = escalation.sweep(engine_db, today=DAY, batch=10)
    assert sorted(result.fired) == sorted((i, level) for i in (ids[0], ids[2]) for level in (1, 2, 3))
    session.rollback()
    session.expire_all()
    assert _escalations(session, ids[1]) == [] and not session.get(Target, ids[1]).supervised
    assert session.exec(select(func.count()).select_from(OutboxEvent)
                        .where(OutboxEvent.target_id == ids[1], OutboxEvent.event_type == "target.escalated")).one() == 0
    assert _escalations(session, ids[0]) == [1, 2, 3] and _escalations(session, ids[2]) == [1, 2, 3]
    # three levels each, and at the 督办 level a notice: its creation and the record on the target it concerns
    assert session.exec(select(func.count()).select_from(TransitionRecord)).one() == records_before + 6 + 2 * 2
    assert chain.verify(session).ok
