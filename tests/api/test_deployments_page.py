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
