"""Deployments: every version kept, targets finish on the version they started on, migrations
move them with a state mapping and a chained record, ``when`` expressions guard transitions."""
from __future__ import annotations

import pytest
from sqlmodel import select

from engine.audit import replay
from engine.store.errors import GuardFailed, InvalidPayload, NotFound
from engine.store.models import Deployment, Target, TransitionRecord
from engine.workflow import definitions, deployments
from engine.workflow.commands import fire
from engine.workflow.definitions import DefinitionError
from tests import factories as f
from tests.engine.lifecycle import step

SHIPPED = definitions.source_text("target")
#: Version 2 of target: 推进中 is called working, and a leader signs only with agree: true.
V2 = SHIPPED.replace("in_progress", "working").replace(
    "    countersign: true   # every leader in charge signs before the target moves on (会签)\n",
    "    countersign: true\n    fields:\n      agree: {type: boolean, label: {zh: 同意}}\n"
    "    when: payload.agree == true\n")


def records(session, trigger: str) -> list[TransitionRecord]:
    return list(session.exec(select(TransitionRecord).where(TransitionRecord.trigger == trigger)
                             .order_by(TransitionRecord.id)))


def test_shipped_definitions_deploy_once_as_version_one(session):
    shipped = sorted(definitions.shipped())
    assert {"report", "target", "supervision", "rectification"} <= set(shipped)
    first = deployments.deploy_shipped(session=session)
    assert sorted((d.definition.id, d.definition.version) for d in first) == [(i, 1) for i in shipped]
    assert deployments.deploy_shipped(session=session) == []  # idempotent
    rows = deployments.listing(session=session)
    assert [(r.workflow, r.version, r.format, r.deployed_by) for r in rows] == [(i, 1, "yaml", "系统") for i in shipped]
    target_row = next(r for r in rows if r.workflow == "target")
    assert target_row.source == SHIPPED and target_row.checksum == deployments.checksum(SHIPPED)
    deployed = records(session, "deploy")
    assert sorted((r.kind, r.payload["workflow"], r.payload["version"]) for r in deployed) == \
        [("system", i, 1) for i in shipped]
    again = deployments.deploy(session=session, definition_text=SHIPPED)
    assert (again.new, again.deployment.version) == (False, 1)  # the same source: no new version


def test_a_definition_is_checked_before_it_is_deployed(session):
    broken = SHIPPED.replace("to: scored\n", "to: nowhere\n")
    with pytest.raises(DefinitionError) as refused:
        deployments.deploy(session=session, definition_text=broken, filename="broken.yaml")
    assert "转换 'score' 的目标状态 'nowhere' 未定义" in str(refused.value)
    assert session.exec(select(Deployment)).all() == []


def test_new_targets_run_on_the_new_version_and_old_ones_finish_on_theirs(session, frozen):
    deployments.deploy_shipped(session=session)
    old = f.target(session)
    step(session, old.id, "start", f.STAFF)
    step(session, old.id, "self_assess", f.STAFF)
    done = deployments.deploy(session=session, definition_text=V2, filename="target-v2.yaml", actor="管理员", role="admin")
    assert (done.new, done.definition.version, done.deployment.deployed_by) == (True, 2, "管理员")
    new = f.target(session)
    assert (session.get(Target, old.id).workflow_version, new.workflow_version) == (1, 2)

    step(session, old.id, "sign", f.LEADER)  # version 1: no condition
    assert session.get(Target, old.id).state == "leader_signed"
    step(session, new.id, "start", f.STAFF)
    assert session.get(Target, new.id).state == "working"
    step(session, new.id, "self_assess", f.STAFF)
    with pytest.raises(GuardFailed, match="不满足条件：payload.agree == true"):
        fire(session=session, target_id=new.id, trigger="sign", actor=f.LEADER, payload={"agree": False})
    with pytest.raises(InvalidPayload):
        fire(session=session, target_id=new.id, trigger="sign", actor=f.LEADER)
    fire(session=session, target_id=new.id, trigger="sign", actor=f.LEADER, payload={"agree": True})
    assert session.get(Target, new.id).state == "leader_signed"
    assert replay.verify(session=session).ok


def test_migration_needs_a_mapping_for_every_state_the_new_version_lacks(session, frozen):
    deployments.deploy_shipped(session=session)
    moving, waiting = f.target(session), f.target(session)
    step(session, moving.id, "start", f.STAFF)
    deployments.deploy(session=session, definition_text=V2)
    with pytest.raises(InvalidPayload, match="第 2 版没有这些状态，请用 --map 旧状态=新状态 指定：in_progress"):
        deployments.migrate(session=session, workflow_id="target", from_version=1, to_version=2)
    assert session.get(Target, moving.id).workflow_version == 1  # nothing moved
    with pytest.raises(InvalidPayload, match="状态对应无效"):
        deployments.migrate(session=session, workflow_id="target", from_version=1, to_version=2,
                            mapping={"in_progress": "nowhere"})

    moved = deployments.migrate(session=session, workflow_id="target", from_version=1, to_version=2,
                                mapping={"in_progress": "working"}, actor="管理员", role="admin")
    assert sorted(t.id for t in moved) == sorted([moving.id, waiting.id])
    after = session.get(Target, moving.id)
    assert (after.workflow_version, after.state) == (2, "working")
    assert session.get(Target, waiting.id).state == "assigned"
    history = records(session, "migrate")
    assert [(r.target_id, r.from_state, r.to_state, r.payload["from_version"], r.payload["to_version"])
            for r in history] == [(moving.id, "in_progress", "working", 1, 2), (waiting.id, "assigned", "assigned", 1, 2)]
    step(session, moving.id, "self_assess", f.STAFF)  # on, through the one door, on version 2
    assert session.get(Target, moving.id).state == "self_assessed"
    assert replay.verify(session=session).ok


def test_a_state_that_cannot_reach_an_end_is_refused():
    dead_end = SHIPPED.replace("""  - trigger: reopen
    label: {zh: 重新评分, en: Reopen}
    from: scored
    to: verified
    roles: [office]
    comment: required
""", """  - trigger: reopen
    label: {zh: 重新评分, en: Reopen}
    from: scored
    to: verified
    roles: [office]
""")
    with pytest.raises(DefinitionError) as refused:
        definitions.parse(dead_end, "loop.yaml")
    assert {p.reason for p in refused.value.problems} == {
        f"状态 '{s}' 无法到达任何终止状态（没有出路，或只能在几个状态之间循环）"
        for s in ("assigned", "in_progress", "self_assessed", "leader_signed", "verified", "scored")}


def test_a_when_that_does_not_parse_is_refused_with_its_line():
    with pytest.raises(DefinitionError) as refused:
        definitions.parse(V2.replace("payload.agree == true", "payload.agree =="), "v2.yaml")
    [problem] = refused.value.problems
    assert problem.reason.startswith("转换 'sign' 的条件表达式无法解析")
    assert problem.line == V2.splitlines().index("    when: payload.agree == true") + 1


def test_a_dynamic_target_names_its_workflow_and_runs_on_its_newest_version(session, frozen):
    from engine.plans import service

    deployments.deploy_shipped(session=session)
    deployments.deploy(session=session, definition_text=V2)
    plan = f.plan(session)
    session.commit()
    added = service.add_dynamic(session=session, plan_id=plan.id, actor=f.OFFICE, code="D-1", text="新增的动态工作目标",
                                weight=1, reason="上级新部署", deadline_phrase="12月底前", sections=["规划科"],
                                leaders=["林长华"], persons=["洪玮玮"], workflow="target")
    assert (added.target.workflow, added.target.workflow_version) == ("target", 2)
    with pytest.raises(NotFound, match="没有工作流定义 nothing"):
        service.add_dynamic(session=session, plan_id=plan.id, actor=f.OFFICE, code="D-2", text="另一个", weight=1,
                            reason="试", deadline_phrase="12月底前", sections=["规划科"], leaders=["林长华"],
                            persons=[], workflow="nothing")
