"""Parallel gateways around user tasks: a fork into sequences of user tasks and the join that waits for
them import as a parallel state (each task a step of its branch, with its own role), run through the one
door, and export back as parallel gateways; what else parallel gateways do is refused with tag, id and line.

None of the public samples in ../shared/bpmn-samples/ has a parallel gateway (see its SOURCES.md), so the
file is written here, as Camunda Modeler writes a contract countersigned by legal and finance."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine.audit import chain
from engine.bpmn.reader import BpmnImportError, import_bpmn
from engine.bpmn.writer import export_bpmn
from engine.store.errors import GuardFailed
from engine.store.models import Target
from engine.workflow import definitions, deployments
from engine.workflow.commands import fire
from tests import factories as f
from tests.engine.bpmn.test_bpmn import bpmn, checked, line_of

CONTRACT = """
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="draftContract"/>
    <userTask id="draftContract" name="起草合同" camunda:candidateGroups="科室"/>
    <sequenceFlow id="f2" sourceRef="draftContract" targetRef="split"/>
    <parallelGateway id="split" name="会审"/>
    <sequenceFlow id="f3" name="法务" sourceRef="split" targetRef="legalReview"/>
    <userTask id="legalReview" name="法务审查" camunda:candidateGroups="绩效办"/>
    <sequenceFlow id="f4" sourceRef="legalReview" targetRef="legalSign"/>
    <userTask id="legalSign" name="法务签字" camunda:assignee="局长"/>
    <sequenceFlow id="f5" sourceRef="legalSign" targetRef="merge"/>
    <sequenceFlow id="f6" name="财务" sourceRef="split" targetRef="financeReview"/>
    <userTask id="financeReview" name="财务审核" camunda:candidateGroups="finance"/>
    <sequenceFlow id="f7" sourceRef="financeReview" targetRef="merge"/>
    <parallelGateway id="merge"/>
    <sequenceFlow id="f8" sourceRef="merge" targetRef="approveContract"/>
    <userTask id="approveContract" name="审批合同" camunda:candidateGroups="management"/>
    <sequenceFlow id="f9" sourceRef="approveContract" targetRef="ok"/>
    <exclusiveGateway id="ok"/>
    <sequenceFlow id="f10" name="同意" sourceRef="ok" targetRef="signed"><conditionExpression>${approved}</conditionExpression></sequenceFlow>
    <sequenceFlow id="f11" name="退回" sourceRef="ok" targetRef="draftContract"><conditionExpression>${!approved}</conditionExpression></sequenceFlow>
    <endEvent id="signed" name="已签订"/>
"""


def test_a_fork_and_its_join_around_user_tasks_import_as_a_parallel_state(tmp_path):
    result = import_bpmn(bpmn(CONTRACT), "contract.bpmn")
    assert checked(result.yaml_text, tmp_path) == []
    d = definitions.parse(result.yaml_text, "contract.yaml")
    split = d.states["split"]
    assert (split.label, split.join, split.branches) == ("会审", "approve_contract", (("branch_1", "法务"), ("branch_2", "财务")))
    steps = [(t.trigger, t.branch, t.roles, t.label) for t in d.triggers_from("split")]
    assert steps == [("legal_review", "branch_1", ("office",), "法务审查"), ("legal_sign", "branch_1", ("leader",), "法务签字"),
                     ("finance_review", "branch_2", ("office",), "财务审核")]  # each task its own role
    assert d.transition("draft_contract", "complete_draft_contract").dest == "split"
    assert {t.trigger for t in d.triggers_from("approve_contract")} == {"approved", "not_approved"}


def test_the_imported_process_runs_its_branches_and_join_through_the_one_door(session, frozen):
    text = import_bpmn(bpmn(CONTRACT), "contract.bpmn").yaml_text
    deployments.deploy(session=session, definition_text=text, fmt="yaml", filename="contract.yaml")
    t = f.target(session, workflow="countersign_review", leaders=("林长华",))

    def go(trigger, actor, **payload):
        frozen.move(timedelta(minutes=1))
        return fire(session=session, target_id=t.id, trigger=trigger, actor=actor, payload=payload)

    go("complete_draft_contract", f.STAFF)
    with pytest.raises(GuardFailed):
        go("legal_sign", f.LEADER)  # 法务签字 follows 法务审查 in its branch
    assert not go("finance_review", f.OFFICE).moved
    assert not go("legal_review", f.OFFICE).moved
    joined = go("legal_sign", f.LEADER)
    assert (joined.moved, joined.record.from_state, joined.record.to_state) == (True, "split", "approve_contract")
    go("not_approved", f.LEADER, approved=False)  # the rejection path: back to the draft, the branches anew
    go("complete_draft_contract", f.STAFF)
    for trigger, actor in (("legal_review", f.OFFICE), ("finance_review", f.OFFICE), ("legal_sign", f.LEADER)):
        go(trigger, actor)
    go("approved", f.LEADER, approved=True)
    assert session.get(Target, t.id).state == "signed"
    assert chain.verify(session).ok


def test_export_writes_parallel_gateways_and_import_gives_the_definition_back(tmp_path):
    original = definitions.parse(import_bpmn(bpmn(CONTRACT), "contract.bpmn").yaml_text, "contract.yaml")
    data = export_bpmn(original)
    assert data.count(b"<bpmn:parallelGateway ") == 2
    back = definitions.parse(import_bpmn(data, "again.bpmn").yaml_text, "again.yaml")
    assert back.states == original.states and back.transitions == original.transitions


@pytest.mark.parametrize(("change", "tag", "ident", "reason"), [
    # one branch ends in an end event: unbalanced
    (lambda b: b.replace('<sequenceFlow id="f7" sourceRef="financeReview" targetRef="merge"/>',
                         '<sequenceFlow id="f7" sourceRef="financeReview" targetRef="signed"/>'),
     "endEvent", "signed", "并行分支只能是依次办理的用户任务"),
    # a decision inside a branch
    (lambda b: b.replace('<sequenceFlow id="f4" sourceRef="legalReview" targetRef="legalSign"/>',
                         '<sequenceFlow id="f4" sourceRef="legalReview" targetRef="ok"/>'),
     "exclusiveGateway", "ok", "并行分支只能是依次办理的用户任务"),
    # a parallel gateway nested in a branch
    (lambda b: b.replace('<sequenceFlow id="f4" sourceRef="legalReview" targetRef="legalSign"/>',
                         '<sequenceFlow id="f4" sourceRef="legalReview" targetRef="inner"/><parallelGateway id="inner"/>'
                         '<sequenceFlow id="f4b" sourceRef="inner" targetRef="legalSign"/>'
                         '<sequenceFlow id="f4c" sourceRef="inner" targetRef="merge"/>'),
     "parallelGateway", "inner", "不支持嵌套的并行网关"),
    # a join without its fork
    (lambda b: b.replace('<sequenceFlow id="f2" sourceRef="draftContract" targetRef="split"/>',
                         '<sequenceFlow id="f2" sourceRef="draftContract" targetRef="legalReview"/>')
     .replace('<sequenceFlow id="f3" name="法务" sourceRef="split" targetRef="legalReview"/>', '')
     .replace('<sequenceFlow id="f6" name="财务" sourceRef="split" targetRef="financeReview"/>',
              '<sequenceFlow id="f6" sourceRef="approveContract" targetRef="financeReview"/>')
     .replace('<parallelGateway id="split" name="会审"/>', ''),
     "parallelGateway", "merge", "并行网关没有配对"),
])
def test_parallel_gateways_outside_the_subset_are_refused_with_tag_id_and_line(change, tag, ident, reason):
    data = bpmn(change(CONTRACT))
    for lenient in (False, True):  # leniency cannot drop what a join waits for
        with pytest.raises(BpmnImportError) as refused:
            import_bpmn(data, "x.bpmn", lenient=lenient)
        found = [(u.tag, u.id, u.line) for u in refused.value.unsupported if u.tag == tag and u.id == ident]
        assert found == [(tag, ident, line_of(data, f'<{tag} id="{ident}"'))], refused.value.unsupported
        assert reason in next(u.reason for u in refused.value.unsupported if u.id == ident)
