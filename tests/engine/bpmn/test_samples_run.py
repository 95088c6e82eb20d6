"""Camunda's invoice, Flowable's vacation request and Camunda's job announcement import in strict
mode (their automatic tasks named with ``--map``), deploy, and run their happy path and their
rejection path through the one door: conditions checked on the payload, mapped effects run."""
from __future__ import annotations

import pytest
from sqlmodel import select

from engine.audit import replay
from engine.bpmn.reader import import_bpmn
from engine.store.errors import GuardFailed, InvalidPayload
from engine.store.models import Deployment, Target, TransitionRecord
from engine.workflow import deployments, rules
from engine.workflow.commands import fire
from tests import factories as f
from tests.engine.bpmn.test_bpmn import sample

L, S, O = f.LEADER, f.STAFF, f.OFFICE
#: file → (--map, happy path, rejection path); a path is (trigger, actor, payload)… and the state and effects it ends with.
CASES = {
    "flowable-vacation-request.bpmn": (
        {"sendApprovalMail": "send_confirmation"},
        ([("vacation_approved", L, {"vacation_approved": True})], "the_end1", ["send_confirmation"]),
        ([("not_vacation_approved", L, {"vacation_approved": False}), ("not_resend_request", S, {"resend_request": False})],
         "the_end2", []),
    ),
    "camunda-invoice.v2.bpmn": (
        {"assignApprover": "none", "ServiceTask_1": "archive_invoice", "reviewInvoice": "review_invoice"},
        ([("yes", L, {"approved": True}), ("complete_prepare_bank_transfer", O, {})], "invoice_processed",
         ["archive_invoice"]),
        ([("no_yes", L, {"approved": False, "clarified": True}), ("no_no", L, {"approved": False, "clarified": False})],
         "invoice_not_processed", ["review_invoice", "review_invoice"]),
    ),
    "camunda-job-announcement.bpmn": (
        {"mail": "send_confirmation", "publication": "publish_announcement"},
        ([("complete_edit", S, {}), ("yes", L, {"approved": True}), ("complete_publish", S, {})],
         "new_position_announced", ["publish_announcement", "send_confirmation"]),
        ([("complete_edit", S, {}), ("no", L, {"approved": False}), ("complete_correct", O, {}),
          ("yes", L, {"approved": True}), ("complete_publish", S, {})],
         "new_position_announced", ["publish_announcement", "send_confirmation"]),
    ),
}


@pytest.fixture
def ran(monkeypatch):
    """The effects the samples' automatic tasks are mapped to, registered for the test: each notes that it ran."""
    done: list[tuple[str, int]] = []
    for name in ("send_confirmation", "archive_invoice", "review_invoice", "publish_announcement"):
        monkeypatch.setitem(rules.EFFECTS, name, lambda ctx, name=name: done.append((name, ctx.target.id)))
    return done


def _deploy(session, name: str) -> str:
    effects = CASES[name][0]
    result = import_bpmn(sample(name), name, effect_map=effects)  # strict: nothing unsupported is left
    assert (result.unsupported, result.guards_to_provide) == ([], {})
    done = deployments.deploy(session=session, definition_text=result.yaml_text, source=sample(name).decode("utf-8"),
                              fmt="bpmn", filename=name, actor="管理员", role="admin")
    assert (done.new, done.deployment.format, done.deployment.version) == (True, "bpmn", 1)
    return done.definition.id


@pytest.mark.parametrize("path", ["happy", "rejection"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_sample_runs_through_the_one_door(session, frozen, ran, name, path):
    workflow = _deploy(session, name)
    target = f.target(session, workflow=workflow, code=f"{workflow}-{path}")
    steps, end, effects = CASES[name][1 if path == "happy" else 2]
    for trigger, actor, payload in steps:
        fire(session=session, target_id=target.id, trigger=trigger, actor=actor, payload=payload)
    after = session.get(Target, target.id)
    assert (after.workflow, after.workflow_version, after.state) == (workflow, 1, end)
    assert [n for n, t in ran if t == target.id] == effects
    history = session.exec(select(TransitionRecord.trigger).where(TransitionRecord.target_id == target.id)
                           .order_by(TransitionRecord.id)).all()
    assert history == ["create"] + [s[0] for s in steps]
    assert replay.verify(session=session).ok


def test_a_condition_that_does_not_hold_refuses_the_transition(session, frozen, ran):
    workflow = _deploy(session, "camunda-invoice.v2.bpmn")
    target = f.target(session, workflow=workflow)
    with pytest.raises(GuardFailed, match=r"不满足条件：payload.approved"):
        fire(session=session, target_id=target.id, trigger="yes", actor=L, payload={"approved": False})
    with pytest.raises(InvalidPayload):  # the decision's variable is a required field
        fire(session=session, target_id=target.id, trigger="yes", actor=L, payload={})
    assert session.get(Target, target.id).state == "approve_invoice"
    assert ran == []
    assert session.exec(select(Deployment.workflow)).all() == ["invoice"]
