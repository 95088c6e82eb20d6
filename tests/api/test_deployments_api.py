"""Deployments through the API (admin only): deploy YAML or BPMN, list the versions, migrate targets."""
from __future__ import annotations

from engine.workflow import definitions
from tests.api.conftest import token
from tests.engine.bpmn.test_bpmn import sample

V2 = definitions.source_text("target").replace("in_progress", "working")


def test_admin_deploys_lists_and_migrates(api, two_targets):
    admin, office = token(api, "管理员"), token(api, "绩效办")
    body = {"format": "bpmn", "source": sample("camunda-job-announcement.bpmn").decode(), "filename": "job.bpmn",
            "effect_map": {"mail": "none", "publication": "none"}}
    assert api.post("/api/v1/deployments", json=body, headers=office).status_code == 403
    refused = api.post("/api/v1/deployments", json={**body, "effect_map": {}}, headers=admin)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    assert any("--map mail=效果" in e["reason"] for e in refused.json()["errors"])
    done = api.post("/api/v1/deployments", json=body, headers=admin)
    assert done.status_code == 201, done.text
    assert {k: done.json()[k] for k in ("workflow", "version", "format", "deployed_by", "new")} == \
        {"workflow": "camunda_testing_job_announcement", "version": 1, "format": "bpmn", "deployed_by": "管理员", "new": True}
    v2 = api.post("/api/v1/deployments", json={"format": "yaml", "source": V2}, headers=admin)
    assert (v2.status_code, v2.json()["workflow"], v2.json()["version"]) == (201, "target", 2)
    listed = api.get("/api/v1/deployments", headers=admin).json()
    assert [(d["workflow"], d["version"], d["targets"]) for d in listed["data"]] == [
        ("camunda_testing_job_announcement", 1, 0), ("target", 1, 2), ("target", 2, 0)]
    moved = api.post("/api/v1/deployments/target/migrations", json={"from_version": 1, "to_version": 2}, headers=admin)
    assert moved.status_code == 200 and moved.json()["moved"] == 2  # both are in assigned, which version 2 has
    missing = api.post("/api/v1/deployments/target/migrations", json={"from_version": 2, "to_version": 9}, headers=admin)
    assert missing.status_code == 404 and "没有第 9 版" in missing.json()["detail"]


def test_a_plan_s_workflow_is_shown_and_set_through_the_api(api, two_targets):
    admin, staff = token(api, "管理员"), token(api, "洪玮玮")
    plan = api.get("/api/v1/plans", headers=admin).json()["data"][0]
    assert plan["workflow"] == "target"
    fast = definitions.source_text("target").replace("id: target\n", "id: fast_track\n", 1)
    assert api.post("/api/v1/deployments", json={"format": "yaml", "source": fast}, headers=admin).status_code == 201
    url = f"/api/v1/plans/{plan['id']}/workflow"
    assert api.put(url, json={"workflow": "fast_track"}, headers=staff).status_code == 403
    missing = api.put(url, json={"workflow": "nowhere"}, headers=admin)
    assert missing.status_code == 404 and "没有工作流定义 nowhere" in missing.json()["detail"]
    done = api.put(url, json={"workflow": "fast_track"}, headers=admin)
    assert (done.status_code, done.json()["workflow"]) == (200, "fast_track")
    assert api.get(f"/api/v1/plans/{plan['id']}", headers=admin).json()["workflow"] == "fast_track"


def test_a_plan_imported_through_the_api_names_its_workflow(api, engine_db):
    from sqlmodel import Session, select

    from engine.store.models import Target
    from tests.engine.plans.test_importer import GOOD, _csv

    office, admin = token(api, "绩效办"), token(api, "管理员")
    files = {"file": ("plan-2024.csv", _csv(GOOD), "text/csv")}
    missing = api.post("/api/v1/plans/import", headers=office, files=files, data={"org": "泉州市教育局", "workflow": "nowhere"})
    assert missing.status_code == 404 and "没有工作流定义 nowhere" in missing.json()["detail"]
    assert api.get("/api/v1/plans", headers=office).json()["count"] == 0  # nothing written
    fast = definitions.source_text("target").replace("id: target\n", "id: fast_track\n", 1)
    assert api.post("/api/v1/deployments", json={"format": "yaml", "source": fast}, headers=admin).status_code == 201
    done = api.post("/api/v1/plans/import", headers=office, files=files, data={"org": "泉州市教育局", "workflow": "fast_track"})
    assert done.status_code == 200, done.text
    assert api.get(f"/api/v1/plans/{done.json()['plan_id']}", headers=office).json()["workflow"] == "fast_track"
    with Session(engine_db) as session:
        assert set(session.exec(select(Target.workflow, Target.workflow_version))) == {("fast_track", 1)}
