"""The overdue sweep in batches: one commit per batch, each target all-or-nothing in its savepoint."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from engine.audit import chain
from engine.calendar import clock
from engine.schedule import escalation, supervision
from engine.store.models import ChainHead, Escalation, OutboxEvent, Target, TransitionRecord
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


def _swept_but_the_middle(session, engine_db, ids: list[int]) -> None:
    """A sweep in which the middle of three overdue targets fails: the other two climb all three levels."""
    with clock.frozen(datetime(2024, 10, 12, 9)):
        result = escalation.sweep(engine_db, today=DAY, batch=10)
    assert sorted(result.fired) == sorted((i, level) for i in (ids[0], ids[2]) for level in (1, 2, 3))
    session.rollback()
    session.expire_all()


def test_a_failing_target_in_a_batch_leaves_nothing_and_the_others_stay(session, engine_db, frozen, monkeypatch):
    ids = _overdue(session, 3)
    records_before = session.exec(select(func.count()).select_from(TransitionRecord)).one()
    # its messages, after its records and escalations were written
    _write_failing(monkeypatch, lambda m: m["target_id"] == ids[1] and m["data"].get("level") == 3,
                   IntegrityError("INSERT …", {}, Exception("another sweeper recorded this level first")))
    _swept_but_the_middle(session, engine_db, ids)
    assert _escalations(session, ids[1]) == [] and not session.get(Target, ids[1]).supervised
    assert session.exec(select(func.count()).select_from(OutboxEvent)
                        .where(OutboxEvent.target_id == ids[1], OutboxEvent.event_type == "target.escalated")).one() == 0
    assert _escalations(session, ids[0]) == [1, 2, 3] and _escalations(session, ids[2]) == [1, 2, 3]
    # three levels each, and at the 督办 level a notice: its creation and the record on the target it concerns
    assert session.exec(select(func.count()).select_from(TransitionRecord)).one() == records_before + 6 + 2 * 2
    assert chain.verify(session).ok


def _write_failing(monkeypatch, when, error: Exception):
    """``outbox.write_many`` raising ``error`` when one of its messages is one ``when`` picks (from
    :func:`outbox.emit`'s arguments); the real one."""
    real = outbox.write_many
    monkeypatch.setattr(outbox, "write_many", lambda session, messages, **kw:
                        _raise(error) if any(when(m) for m in messages) else real(session, messages, **kw))
    return real


def _raise(error: Exception):
    raise error


def _records_of(session, target_id: int) -> list[str]:
    return list(session.exec(select(TransitionRecord.trigger).where(TransitionRecord.target_id == target_id)
                             .order_by(TransitionRecord.id)))


def _heads(session) -> dict[int, tuple[int, int]]:
    """Each chain's head (length, key of its last record), as committed."""
    return {h.id: (h.count, h.last_id) for h in session.exec(select(ChainHead).order_by(ChainHead.id))}


def _chain_as_read(session) -> dict[int, tuple[int, int]]:
    """Each chain's length and key of its last record, as its records say."""
    return {org: (n, last) for org, n, last in session.exec(
        select(TransitionRecord.org_id, func.count(), func.max(TransitionRecord.id)).group_by(TransitionRecord.org_id))}


def test_a_target_failing_after_the_head_moved_sets_the_head_back_and_the_next_continue_the_chain(
        session, engine_db, frozen, monkeypatch):
    ids = _overdue(session, 3)
    before = {i: _records_of(session, i) for i in ids}
    code = session.get(Target, ids[1]).code
    # the middle target's last message: its records, escalations and notice are written, its chain's head moved
    real_write = _write_failing(monkeypatch, lambda m: m["event_type"] == "supervision.issued" and m["data"]["subject_code"] == code,
                                IntegrityError("INSERT …", {}, Exception("another sweeper issued this notice first")))
    _swept_but_the_middle(session, engine_db, ids)
    assert _records_of(session, ids[1]) == before[ids[1]]  # nothing of the failing target
    assert supervision.notices_of(session, ids[1]) == []
    assert not session.get(Target, ids[1]).supervised and _escalations(session, ids[1]) == []
    trail = ["escalate", "escalate", "escalate", "issue_notice"]
    assert _records_of(session, ids[0]) == before[ids[0]] + trail
    assert _records_of(session, ids[2]) == before[ids[2]] + trail  # written on the head as it was set back
    assert _heads(session) == _chain_as_read(session)
    assert chain.verify(session).ok
    monkeypatch.setattr(outbox, "write_many", real_write)
    with clock.frozen(datetime(2024, 10, 12, 10)):  # the failed target escalates on the next sweep
        assert sorted(escalation.sweep(engine_db, today=DAY, batch=10).fired) == [(ids[1], 1), (ids[1], 2), (ids[1], 3)]
    session.rollback()
    assert chain.verify(session).ok


def test_an_error_in_a_batch_keeps_the_targets_before_it_and_the_chain(session, engine_db, frozen, monkeypatch):
    ids = _overdue(session, 3)
    _write_failing(monkeypatch, lambda m: m["target_id"] == ids[1] and m["data"].get("level") == 2,
                   RuntimeError("the outbox is gone"))
    with clock.frozen(datetime(2024, 10, 12, 9)), pytest.raises(RuntimeError):
        escalation.sweep(engine_db, today=DAY, batch=10)
    session.rollback()
    session.expire_all()
    assert _escalations(session, ids[0]) == [1, 2, 3]
    assert _escalations(session, ids[1]) == [] and _escalations(session, ids[2]) == []
    assert _heads(session) == _chain_as_read(session)
    assert chain.verify(session).ok


def test_a_batch_of_several_organisations_writes_each_to_its_own_chain(session, engine_db, frozen):
    f.plan(session)  # the deployment's first organisation, then two more
    f.organisation(session, "厦门市教育局")
    f.organisation(session, "漳州市教育局")
    ids = []
    for n in range(3):  # the organisations' targets interleaved in the batch
        for org in ("厦门市教育局", "漳州市教育局"):
            ids.append(f.target_of(session, org, code=f"{org[:2]}-{n}", due_date=date(2024, 9, 30)).id)
        ids.append(f.target(session, due_date=date(2024, 9, 30), commit=False).id)
    session.commit()
    for target_id in ids:
        step(session, target_id, "start", f.STAFF)
    orgs = {i: session.get(Target, i).org_id for i in ids}
    assert len(set(orgs.values())) == 3
    lengths = _heads(session)
    with clock.frozen(datetime(2024, 10, 12, 9)):
        result = escalation.sweep(engine_db, today=DAY, batch=100)
    assert sorted(result.fired) == sorted((i, level) for i in ids for level in (1, 2, 3))
    session.rollback()
    session.expire_all()
    for target_id in ids:  # three levels and the record of the notice on the target's chain, the notice's creation too
        org = orgs[target_id]
        assert set(session.exec(select(TransitionRecord.org_id).where(TransitionRecord.target_id == target_id,
                                                                      TransitionRecord.trigger != "create"))) == {org}
        [notice] = supervision.notices_of(session, target_id)
        assert notice.org_id == org and session.exec(select(TransitionRecord.org_id).where(
            TransitionRecord.target_id == notice.id)).all() == [org]
    heads = _heads(session)
    assert {org: heads[org][0] - lengths[org][0] for org in set(orgs.values())} == {org: 3 * 5 for org in set(orgs.values())}
    assert heads == _chain_as_read(session)
    for org in set(orgs.values()):
        assert chain.verify(session, org_ids=[org]).ok
    assert chain.verify(session).ok
