"""Parallel states (并行): each branch's steps go through the one door in order, each a chained record that
keeps the state; the step that completes every branch moves the target on in one transition. A new stay
starts the branches over. ``workflows check`` refuses what a parallel state cannot be."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from engine.audit import chain, replay
from engine.store.errors import GuardFailed, InvalidPayload
from engine.store.models import Target, TransitionRecord
from engine.workflow import deployments
from engine.workflow.commands import available, fire
from engine.workflow.definitions import DefinitionError, parse
from tests import factories as f

SOURCE = (Path(__file__).parents[2] / "workflows" / "fixtures" / "joint_review.yaml").read_text("utf-8")


def _fire(session, frozen, target_id, trigger, actor, **fields):
    frozen.move(timedelta(minutes=1))  # each step a moment after the last, as people do them
    return fire(session=session, target_id=target_id, trigger=trigger, actor=actor, **fields)


def test_the_join_waits_for_every_branch_and_moves_once(session, frozen):
    deployments.deploy(session=session, definition_text=SOURCE, filename="joint_review.yaml")
    t = f.target(session, workflow="joint_review")
    _fire(session, frozen, t.id, "submit", f.STAFF)
    assert [a.spec.trigger for a in available(session=session, target=session.get(Target, t.id), actor=f.OFFICE)] \
        == ["check_budget"]  # the next step of the office's branch, not the one after it
    with pytest.raises(GuardFailed, match="请先完成本分支的“审核预算”"):
        _fire(session, frozen, t.id, "confirm_budget", f.OFFICE)
    with pytest.raises(InvalidPayload):
        _fire(session, frozen, t.id, "leader_review", f.LEADER)  # the leader's opinion is required
    first = _fire(session, frozen, t.id, "leader_review", f.LEADER, payload={"opinion": "同意"})
    assert (first.moved, first.target.state) == (False, "reviewing")
    assert available(session=session, target=session.get(Target, t.id), actor=f.LEADER) == []
    with pytest.raises(GuardFailed, match="已完成，等待其他分支"):
        _fire(session, frozen, t.id, "leader_review", f.LEADER, payload={"opinion": "再次同意"})
    assert not _fire(session, frozen, t.id, "check_budget", f.OFFICE).moved
    joined = _fire(session, frozen, t.id, "confirm_budget", f.OFFICE)
    assert (joined.moved, joined.target.state) == (True, "approving")
    records = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == t.id, TransitionRecord.kind == "transition")
                           .order_by(TransitionRecord.id)).all()
    assert [(r.trigger, r.from_state, r.to_state) for r in records] == [
        ("submit", "drafting", "reviewing"), ("leader_review", "reviewing", "reviewing"),
        ("check_budget", "reviewing", "reviewing"), ("confirm_budget", "reviewing", "approving")]
    assert records[1].payload["opinion"] == "同意"

    _fire(session, frozen, t.id, "send_back", f.OFFICE, comment="预算需调整")
    _fire(session, frozen, t.id, "submit", f.STAFF)  # a new stay: every branch starts over
    assert _fire(session, frozen, t.id, "check_budget", f.OFFICE).target.state == "reviewing"
    assert not _fire(session, frozen, t.id, "confirm_budget", f.OFFICE).moved  # the leader has not read it again
    assert _fire(session, frozen, t.id, "leader_review", f.LEADER, payload={"opinion": "可"}).target.state == "approving"
    _fire(session, frozen, t.id, "approve", f.OFFICE)
    assert session.get(Target, t.id).state == "done"
    assert chain.verify(session).ok and replay.verify(session=session).ok


@pytest.mark.parametrize(("change", "reason"), [
    (lambda s: s.replace("    join: approving\n", ""), "应同时写明 branches（各分支）和 join"),
    (lambda s: s.replace("    join: approving\n", "    join: nowhere\n"), "汇合状态 'nowhere' 未定义"),
    (lambda s: s.replace("      leadership:\n", "      leadership_x:\n").replace("          - trigger: leader_review\n",
                                                                            "          - trigger: check_budget\n"),
     "分支步骤 'check_budget' 在分支 'finance' 中已有"),
    (lambda s: s.replace("roles: [office]}\n      leadership", "roles: [auditor]}\n      leadership"), "角色 'auditor' 未知或只读"),
    (lambda s: s.replace("  - trigger: approve\n    label: {zh: 批准}\n    from: approving",
                         "  - trigger: approve\n    label: {zh: 批准}\n    from: reviewing"), "并行状态 'reviewing' 只能在各分支完成后经汇合离开"),
    (lambda s: s[:s.index("      leadership:")] + s[s.index("    join: approving"):], "至少应有两个分支"),
    (lambda s: s.replace("    join: approving\n", "    join: approving\n    final: true\n"), "终止状态 'reviewing' 不能有分支"),
])
def test_workflows_check_refuses_what_a_parallel_state_cannot_be(change, reason):
    with pytest.raises(DefinitionError) as refused:
        parse(change(SOURCE), "joint_review.yaml")
    assert reason in str(refused.value)
