"""The admin's deployments page, through the app in process: a refused file keeps what was typed, a deployed
one is listed and audited; a deployed BPMN process runs a target whose page shows its states."""
from __future__ import annotations

from sqlmodel import Session, select

from engine.store.models import Plan, TransitionRecord
from engine.workflow import deployments
from tests import factories as f
from tests.api.test_pages import _csrf, login, web  # noqa: F401  (the fixture)
from tests.engine.bpmn.test_bpmn import sample


def test_admin_deploys_a_bpmn_file_and_its_target_page_shows_it(web, engine_db):
    client, _ = web
    login(client, "洪玮玮")
    assert client.get("/admin/deployments").status_code == 403
    login(client, "管理员")
    page = client.get("/admin/deployments")
    assert page.status_code == 200 and "部署新版本" in page.text and "尚未部署" in page.text
    token = _csrf(page.text)
    upload = {"file": ("vacation.bpmn", sample("flowable-vacation-request.bpmn"), "application/xml")}
    refused = client.post("/admin/deployments", data={"csrf": token, "role_map": "management=leader"}, files=upload)
    assert refused.status_code == 422 and "--map sendApprovalMail=效果" in refused.text
    assert "management=leader" in refused.text  # what was typed stays
    done = client.post("/admin/deployments", data={"csrf": token, "effect_map": "sendApprovalMail=none"}, files=upload)
    assert done.status_code == 303, done.text
    listed = client.get(done.headers["location"])
    assert "已部署 vacation_request 第 1 版" in listed.text and "bpmn" in listed.text
    with Session(engine_db) as session:
        record = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "deploy")).one()
        assert (record.actor, record.payload["workflow"]) == ("管理员", "vacation_request")
        target = f.target(session, workflow="vacation_request", leaders=("林长华",)).id
    deployments.forget()  # as a server process that has not read this deployment yet
    login(client, "林长华")
    shown = client.get(f"/targets/{target}")
    assert shown.status_code == 200 and "Handle vacation request" in shown.text


def test_admin_names_a_plan_s_workflow_on_the_deployments_page(web, engine_db):
    client, _ = web
    with Session(engine_db) as session:
        plan_id = f.plan(session).id
        session.commit()
    login(client, "管理员")
    page = client.get("/admin/deployments")
    assert page.status_code == 200 and f'data-testid="plan-workflow-{plan_id}"' in page.text
    token = _csrf(page.text)
    refused = client.post(f"/admin/plans/{plan_id}/workflow", data={"csrf": token, "workflow": "nowhere"})
    assert refused.status_code == 422 and "没有工作流定义 nowhere" in refused.text
    done = client.post(f"/admin/plans/{plan_id}/workflow", data={"csrf": token, "workflow": "report"})
    assert done.status_code == 303
    assert "按工作流 report 的最新版本运行" in client.get(done.headers["location"]).text
    with Session(engine_db) as session:
        assert session.get(Plan, plan_id).workflow == "report"
        assert session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "set_workflow")).one().actor == "管理员"


def test_a_parallel_state_s_next_steps_show_on_the_target_page(web, engine_db):
    from pathlib import Path

    from engine.workflow.commands import fire

    client, _ = web
    source = (Path(__file__).parents[1] / "workflows" / "fixtures" / "joint_review.yaml").read_text("utf-8")
    with Session(engine_db) as session:
        deployments.deploy(session=session, definition_text=source, filename="joint_review.yaml")
        target = f.target(session, workflow="joint_review").id
        fire(session=session, target_id=target, trigger="submit", actor=f.STAFF)
    deployments.forget()  # as a server process that has not read this deployment yet
    login(client, "绩效办")
    shown = client.get(f"/targets/{target}")
    assert shown.status_code == 200 and "并行审核" in shown.text
    # The office's branch offers its first step only; the leader's step is not the office's.
    assert 'data-trigger="check_budget"' in shown.text
    assert 'data-trigger="confirm_budget"' not in shown.text and 'data-trigger="leader_review"' not in shown.text
    done = client.post(f"/targets/{target}/fire", data={"csrf": _csrf(shown.text), "version": 2,  # created, then submitted
                                                           "trigger": "check_budget"})
    assert done.status_code in (200, 303), done.text
    after = client.get(f"/targets/{target}").text
    assert 'data-trigger="confirm_budget"' in after and 'data-trigger="check_budget"' not in after
