"""A plan names its workflow: its new targets (imported or added during the year) start on that
workflow's newest deployed version, targets already there keep theirs, and an id that is not deployed
is refused with nothing written."""
from __future__ import annotations

import pytest
from sqlmodel import select

from engine.plans import service
from engine.plans.importer import parse
from engine.plans.table import read
from engine.store.errors import NotFound
from engine.store.models import Plan, Target, TransitionRecord
from engine.workflow import definitions, deployments
from tests import factories as f
from tests.engine.plans.test_importer import GOOD, _csv

#: A workflow of its own for a bureau's plan: the target lifecycle under another id.
FAST = definitions.source_text("target").replace("id: target\n", "id: fast_track\n", 1)


def _draft(rows=GOOD, workflow: str | None = None):
    draft = parse(read(_csv(rows), "p-2024.csv"), "p-2024.csv", org="泉州市教育局")
    draft.workflow = workflow
    return draft


def _dynamic(session, plan_id: int, code: str, **fields):
    return service.add_dynamic(session=session, plan_id=plan_id, actor=f.OFFICE, code=code, text=f"动态目标{code}",
                               weight=1, reason="市委交办", deadline_phrase="12月底前", sections=["规划科"],
                               leaders=["林长华"], persons=["洪玮玮"], **fields).target


def test_new_targets_of_a_plan_start_on_its_workflow_s_newest_version(session, frozen):
    deployments.deploy_shipped(session=session)
    deployments.deploy(session=session, definition_text=FAST, filename="fast.yaml")
    plan_id = service.apply(session=session, draft=_draft(workflow="fast_track"), actor=f.ADMIN).plan_id
    plan = session.get(Plan, plan_id)
    assert plan.workflow == "fast_track"
    rows = session.exec(select(Target.workflow, Target.workflow_version).where(Target.plan_id == plan_id)).all()
    assert set(rows) == {("fast_track", 1)} and len(rows) == len(GOOD)
    named = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "set_workflow")).one()
    assert (named.kind, named.payload["workflow"], named.payload["version"], named.payload["before"]) == \
        ("plan", "fast_track", 1, None)

    deployments.deploy(session=session, definition_text=FAST.replace("label: {zh: 推进中", "label: {zh: 推进落实"),
                       filename="fast-v2.yaml")
    added = _dynamic(session, plan_id, "D-1")
    assert (added.workflow, added.workflow_version) == ("fast_track", 2)
    again = service.apply(session=session, draft=_draft(), actor=f.ADMIN)  # no --workflow: the plan's stays
    assert again.unchanged == len(GOOD) and session.get(Plan, plan_id).workflow == "fast_track"
    assert set(session.exec(select(Target.workflow_version).where(Target.plan_id == plan_id,
                                                                  Target.code != "D-1")).all()) == {1}
    other = _dynamic(session, plan_id, "D-2", workflow="target")  # one target may name another workflow
    assert (other.workflow, other.workflow_version) == ("target", 1)


def test_a_workflow_that_is_not_deployed_is_refused(session, frozen):
    deployments.deploy_shipped(session=session)
    with pytest.raises(NotFound, match="没有工作流定义 nowhere"):
        service.apply(session=session, draft=_draft(workflow="nowhere"), actor=f.ADMIN)
    assert session.exec(select(Plan)).all() == [] and session.exec(select(Target)).all() == []

    plan_id = service.apply(session=session, draft=_draft(), actor=f.ADMIN).plan_id
    assert session.get(Plan, plan_id).workflow == "target"
    with pytest.raises(NotFound):
        service.set_workflow(session=session, plan_id=plan_id, workflow="nowhere", actor=f.ADMIN)
    session.expire_all()
    assert session.get(Plan, plan_id).workflow == "target"
    with pytest.raises(NotFound):
        _dynamic(session, plan_id, "D-9", workflow="nowhere")

    deployments.deploy(session=session, definition_text=FAST, filename="fast.yaml")
    assert service.set_workflow(session=session, plan_id=plan_id, workflow="fast_track", actor=f.ADMIN).workflow \
        == "fast_track"
    record = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "set_workflow")).one()
    assert (record.actor, record.payload["before"], record.payload["workflow"]) == ("管理员", "target", "fast_track")
    assert _dynamic(session, plan_id, "D-3").workflow == "fast_track"
