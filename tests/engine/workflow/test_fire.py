"""The one door: every transition of target.yaml by every role, and what is refused and why."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import func, select

from engine.audit import chain
from engine.workflow.commands import fire
from engine.workflow.definitions import get
from engine.store.errors import (
    Forbidden,
    GuardFailed,
    InvalidPayload,
    InvalidTrigger,
    StaleVersion,
)
from engine.store.models import OutboxEvent, Signature, Target, TransitionRecord
from tests import factories as f
from tests.engine.lifecycle import PATHS, drive, step

ACTORS = {
    "staff": f.STAFF, "other_staff": f.OTHER_STAFF, "leader": f.LEADER, "other_leader": f.OTHER_LEADER,
    "office": f.OFFICE, "auditor": f.AUDITOR, "admin": f.ADMIN,
}
# Who may fire what on a target of 规划科 led by 林长华 (written out, not derived from the YAML).
EXPECTED = {
    "start": {"staff": "ok", "other_staff": "out_of_scope"},
    "report_progress": {"staff": "ok", "other_staff": "out_of_scope"},
    "self_assess": {"staff": "ok", "other_staff": "out_of_scope"},
    "sign": {"leader": "ok", "other_leader": "out_of_scope"},
    "return": {"leader": "ok", "other_leader": "out_of_scope"},
    "verify": {"office": "ok"},
    "send_back": {"office": "ok"},
    "score": {"office": "ok"},
    "reopen": {"office": "ok"},
    # Only for a target whose handed-down children are not yet verified; this one has none.
    "allow_self_assess": {"office": "guard_failed"},
}
SOURCES = {
    "start": ["assigned"], "report_progress": ["in_progress"], "self_assess": ["in_progress"],
    "sign": ["self_assessed"], "return": ["self_assessed"], "verify": ["leader_signed"],
    "send_back": ["leader_signed", "verified"], "score": ["verified"], "reopen": ["scored"],
    "allow_self_assess": ["in_progress"],
}
DESTINATIONS = {
    "start": "in_progress", "report_progress": "in_progress", "self_assess": "self_assessed",
    "sign": "leader_signed", "return": "in_progress", "verify": "verified", "send_back": "in_progress",
    "score": "scored", "reopen": "verified", "allow_self_assess": "in_progress",
}
CASES = [(trigger, source, who) for trigger, sources in SOURCES.items() for source in sources for who in ACTORS]


def _at(session, state):
    t = f.target(session)
    drive(session, t.id, state, staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    return t.id


def _trace(session, target_id):
    target = session.get(Target, target_id)
    session.refresh(target)
    records = session.exec(select(func.count()).select_from(TransitionRecord)).one()
    return target.state, target.version, records


def test_definition_covers_every_trigger():
    assert {t.trigger for t in get("target").transitions} == set(SOURCES)


@pytest.mark.parametrize(("trigger", "source", "who"), CASES)
def test_every_trigger_by_every_role(session, trigger, source, who):
    target_id = _at(session, source)
    before = _trace(session, target_id)
    expected = EXPECTED[trigger].get(who, "role_forbidden")
    if expected == "ok":
        fired = step(session, target_id, trigger, ACTORS[who])
        assert fired.target.state == DESTINATIONS[trigger]
        assert fired.record.trigger == trigger and fired.record.from_state == source
        assert fired.record.actor == ACTORS[who].name
        assert _trace(session, target_id) == (DESTINATIONS[trigger], before[1] + 1, before[2] + 1)
    elif expected == "guard_failed":
        with pytest.raises(GuardFailed, match="无需准予先行自评"):
            step(session, target_id, trigger, ACTORS[who])
        assert _trace(session, target_id) == before
    else:
        with pytest.raises(Forbidden) as refused:
            step(session, target_id, trigger, ACTORS[who])
        assert refused.value.code == expected
        assert _trace(session, target_id) == before  # a refusal leaves no trace


@pytest.mark.parametrize("state", list(PATHS))
def test_trigger_not_from_this_state_lists_those_that_are(session, state):
    target_id = _at(session, state)
    allowed = sorted({t for t, sources in SOURCES.items() if state in sources})
    wrong = next(t for t in SOURCES if state not in SOURCES[t])
    with pytest.raises(InvalidTrigger) as refused:
        step(session, target_id, wrong, f.OFFICE)
    assert sorted(refused.value.details["allowed_triggers"]) == allowed
    with pytest.raises(InvalidTrigger):
        fire(session=session, target_id=target_id, trigger="to_scored", actor=f.OFFICE)


def test_full_lifecycle_records_and_outbox(session, frozen):
    target_id = _at(session, "in_progress")
    step(session, target_id, "report_progress", f.STAFF)
    for trigger, actor in [("self_assess", f.STAFF), ("sign", f.LEADER), ("verify", f.OFFICE), ("score", f.OFFICE)]:
        step(session, target_id, trigger, actor)
    target = session.get(Target, target_id)
    assert (target.state, target.version, target.progress) == ("scored", 7, 50)
    assert target.self_score == Decimal("1.5") and target.score == Decimal("1.8")
    history = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == target_id)
                           .order_by(TransitionRecord.id)).all()
    assert [r.trigger for r in history] == ["create", "start", "report_progress", "self_assess", "sign", "verify", "score"]
    assert history[-1].payload["deductions"] == [{"points": 0.2, "reason": "进度滞后一个月"}]
    events = session.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    assert [e.event_type for e in events] == ["target.self_assess", "target.sign", "target.score"]
    assert events[0].recipients == [{"kind": "person", "name": "林长华"}]
    assert events[1].recipients == [{"kind": "role", "name": "office"}]
    assert chain.verify(session).ok


def test_state_due_follows_the_definition(session, frozen):
    target_id = _at(session, "assigned")
    target = session.get(Target, target_id)
    assert str(target.state_due) == "2024-12-31"  # the target's own deadline
    drive_to_self_assessed = ["start", "self_assess"]
    for trigger in drive_to_self_assessed:
        step(session, target_id, trigger, f.STAFF)
    session.refresh(target)
    assert str(target.state_due) == "2024-12-30"  # the plan's self-assessment milestone
    step(session, target_id, "sign", f.LEADER)
    session.refresh(target)
    assert str(target.state_due) == "2025-01-10"  # evaluation, early the next January


@pytest.mark.parametrize("trigger", ["return", "send_back", "reopen"])
def test_comment_is_required(session, trigger):
    target_id = _at(session, SOURCES[trigger][0])
    actor = f.LEADER if trigger == "return" else f.OFFICE
    before = _trace(session, target_id)
    with pytest.raises(InvalidPayload) as refused:
        step(session, target_id, trigger, actor, comment="  ")
    assert refused.value.details["errors"][0]["field"] == "comment"
    assert _trace(session, target_id) == before


@pytest.mark.parametrize(("payload", "field"), [
    ({"summary": "好"}, "self_score"),
    ({"self_score": "三分", "summary": "好"}, "self_score"),
    ({"self_score": True, "summary": "好"}, "self_score"),
    ({"self_score": 1}, "summary"),
    ({"self_score": 1, "summary": "好", "extra": 1}, "extra"),
    ({"self_score": float("nan"), "summary": "好"}, "self_score"),
])
def test_payload_fields_and_types(session, payload, field):
    target_id = _at(session, "in_progress")
    with pytest.raises(InvalidPayload) as refused:
        step(session, target_id, "self_assess", f.STAFF, payload=payload)
    assert field in [e["field"] for e in refused.value.details["errors"]]


@pytest.mark.parametrize(("trigger", "payload", "guard"), [
    ("self_assess", {"self_score": 2.5, "summary": "超额完成"}, "self_score_within_weight"),
    ("score", {"score": 3}, "score_within_weight"),
    ("score", {"score": 1, "deductions": [{"points": 1}]}, "deductions_have_reasons"),
    ("score", {"score": 1, "deductions": [{"points": -1, "reason": "x"}]}, "deductions_have_reasons"),
])
def test_guards(session, trigger, payload, guard):
    target_id = _at(session, SOURCES[trigger][0])
    before = _trace(session, target_id)
    with pytest.raises(GuardFailed) as refused:
        step(session, target_id, trigger, f.STAFF if trigger == "self_assess" else f.OFFICE, payload=payload)
    assert refused.value.details["guard"] == guard
    assert _trace(session, target_id) == before


def test_stale_version_is_a_conflict(session):
    target_id = _at(session, "assigned")
    step(session, target_id, "start", f.STAFF, expected_version=1)
    with pytest.raises(StaleVersion):
        step(session, target_id, "report_progress", f.STAFF, expected_version=1)
    step(session, target_id, "report_progress", f.STAFF, expected_version=2)


@pytest.mark.parametrize("leaders", [1, 2, 3])
def test_countersign(session, leaders):
    people = [f.LEADER, f.LEADER_2, f.LEADER_3][:leaders]
    t = f.target(session, leaders=[p.name for p in people])
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=people, office=f.OFFICE)
    for i, leader in enumerate(people, start=1):
        fired = step(session, t.id, "sign", leader)
        assert fired.moved == (i == leaders)
        assert fired.target.state == ("leader_signed" if i == leaders else "self_assessed")
        assert fired.record.payload["countersign"]["signed"] == [p.name for p in people[:i]]
        if i < leaders:
            with pytest.raises(GuardFailed):  # nobody signs twice
                step(session, t.id, "sign", leader)
    signed = session.exec(select(Signature.signer).where(Signature.target_id == t.id)).all()
    assert sorted(signed) == sorted(p.name for p in people)
    assert chain.verify(session).ok


def test_countersign_return_in_between_clears_signatures(session):
    people = [f.LEADER, f.LEADER_2, f.LEADER_3]
    t = f.target(session, leaders=[p.name for p in people])
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=people, office=f.OFFICE)
    step(session, t.id, "sign", f.LEADER)
    step(session, t.id, "sign", f.LEADER_2)
    fired = step(session, t.id, "return", f.LEADER_3)
    assert fired.target.state == "in_progress"
    assert session.exec(select(Signature).where(Signature.target_id == t.id)).all() == []
    step(session, t.id, "self_assess", f.STAFF)
    step(session, t.id, "sign", f.LEADER)  # a fresh round: the earlier signatures do not count
    step(session, t.id, "sign", f.LEADER_3)
    assert session.get(Target, t.id).state == "self_assessed"
    assert step(session, t.id, "sign", f.LEADER_2).target.state == "leader_signed"


def test_send_back_clears_signatures_and_reopen_clears_score(session):
    target_id = _at(session, "scored")
    step(session, target_id, "reopen", f.OFFICE)
    target = session.get(Target, target_id)
    assert target.state == "verified" and target.score is None
    step(session, target_id, "send_back", f.OFFICE)
    assert session.exec(select(Signature).where(Signature.target_id == target_id)).all() == []
    step(session, target_id, "self_assess", f.STAFF)
    assert step(session, target_id, "sign", f.LEADER).target.state == "leader_signed"


@pytest.mark.parametrize("points", [float("inf"), 1e30, 3])
def test_deduction_points_must_be_finite_and_within_the_weight(session, points):
    target_id = _at(session, "verified")
    with pytest.raises((GuardFailed, InvalidPayload)):
        step(session, target_id, "score", f.OFFICE, payload={"score": 1, "deductions": [{"points": points, "reason": "x"}]})


def test_text_with_a_nul_is_refused(session):
    target_id = _at(session, "in_progress")
    with pytest.raises(InvalidPayload):
        step(session, target_id, "report_progress", f.STAFF, payload={"note": "a\x00b", "percent": 5})


def test_a_target_changed_under_the_fire_is_stale_and_nothing_of_the_fire_is_written(session, monkeypatch):
    """The write itself checks the version read (``UPDATE … WHERE version = :v``): a target that changed after
    it was read leaves no record, no moved chain head, no message and no new state."""
    from sqlalchemy.orm import attributes

    from engine.workflow import commands, targets

    target_id = f.target(session).id
    fire(session=session, target_id=target_id, trigger="start", actor=f.STAFF)
    records = session.exec(select(func.count()).select_from(TransitionRecord)).one()
    messages = session.exec(select(func.count()).select_from(OutboxEvent)).one()
    head = chain.heads(session.connection())
    session.rollback()
    real = targets.load_for_fire

    def read_before_another_change(*args, **kwargs):
        loaded = real(*args, **kwargs)
        # as if read before another transition committed (the value as loaded, not a change of the object's)
        attributes.set_committed_value(loaded.target, "version", loaded.target.version - 1)
        return loaded

    monkeypatch.setattr(commands, "load_for_fire", read_before_another_change)
    with pytest.raises(StaleVersion):
        fire(session=session, target_id=target_id, trigger="self_assess", actor=f.STAFF,
             payload={"self_score": 1.0, "summary": "全年目标基本完成"})
    session.expire_all()
    assert session.get(Target, target_id).state == "in_progress"
    assert session.exec(select(func.count()).select_from(TransitionRecord)).one() == records
    assert session.exec(select(func.count()).select_from(OutboxEvent)).one() == messages
    assert chain.heads(session.connection()) == head
    assert chain.verify(session).ok
