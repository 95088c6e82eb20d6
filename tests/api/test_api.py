"""The API's surfaces: login, errors as problem+json, lists, audit, plans import, inbox, admin."""
from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlmodel import Session, select

from engine.calendar import clock
from engine.people import inbox
from engine.store.models import User
from tests.api.conftest import PASSWORD, token
from tests.engine.plans.test_importer import GOOD, _csv

PROBLEM = "application/problem+json"


def _problem(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["title"] and "Traceback" not in response.text
    return body


def test_login_me_and_throttling(api, password_hash):
    bad = api.post("/api/v1/auth/token", data={"username": "洪玮玮", "password": "nope"})
    _problem(bad, 401, "login_failed")
    good = api.post("/api/v1/auth/token", data={"username": "洪玮玮", "password": PASSWORD})
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"id": me.json()["id"], "name": "洪玮玮", "roles": ["staff"], "sections": ["规划科"]}
    # The engine's clock stands still meanwhile: the first wait is one second from the failure, and
    # Argon2 on a busy machine can take longer than that between two attempts.
    with clock.frozen(clock.now()):
        for _ in range(3):
            api.post("/api/v1/auth/token", data={"username": "陈华森", "password": "guess"})
        slowed = api.post("/api/v1/auth/token", data={"username": "陈华森", "password": "guess"})
    _problem(slowed, 429, "login_throttled")
    assert int(slowed.headers["Retry-After"]) >= 1
    assert api.post("/api/v1/auth/token", data={"username": "陈华森", "password": PASSWORD}).status_code == 200
    _problem(api.post("/api/v1/auth/token", data={"username": "无此人", "password": "x"}), 401, "login_failed")


def test_every_endpoint_but_token_health_and_docs_needs_a_token(api):
    open_paths = {"/api/v1/auth/token", "/healthz"}
    for path, methods in api.app.openapi()["paths"].items():
        for method in methods:
            if path in open_paths:
                continue
            url = path.replace("{target_id}", "1").replace("{plan_id}", "1").replace("{item_id}", "1") \
                .replace("{user_id}", "1").replace("{workflow_id}", "target")
            _problem(api.request(method.upper(), url), 401, "unauthenticated")
            _problem(api.request(method.upper(), url, headers={"Authorization": "Bearer forged.token.value"}),
                     401, "unauthenticated")
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/openapi.json").status_code == 200 and api.get("/docs").status_code == 200


def test_problems_for_404_405_validation_and_limits(api, two_targets):
    staff = token(api, "洪玮玮")
    _problem(api.get("/api/v1/targets/999999", headers=staff), 404, "not_found")
    _problem(api.get("/api/v1/nowhere", headers=staff), 404, "not_found")
    _problem(api.delete("/api/v1/targets", headers=staff), 405, "method_not_allowed")
    body = _problem(api.get("/api/v1/targets?limit=5000", headers=staff), 422, "invalid_request")
    assert body["errors"][0]["field"] == "query.limit"
    target = two_targets[0]
    missing = _problem(api.post(f"/api/v1/targets/{target}/transitions", headers=staff, json={"trigger": "start"}),
                       422, "invalid_request")
    assert missing["errors"][0]["field"] == "header.if-match"
    huge = {"trigger": "report_progress", "payload": {"note": "x" * 2_000_000, "percent": 1}}
    _problem(api.post(f"/api/v1/targets/{target}/transitions", headers={**staff, "If-Match": '"1"'}, json=huge),
             413, "too_large")
    long_comment = {"trigger": "start", "comment": "意" * 5000}
    _problem(api.post(f"/api/v1/targets/{target}/transitions", headers={**staff, "If-Match": '"1"'}, json=long_comment),
             422, "invalid_request")


def test_conflicts_and_unprocessable_say_why(api, two_targets):
    target = two_targets[0]
    staff, office = token(api, "洪玮玮"), token(api, "绩效办")
    wrong = _problem(api.post(f"/api/v1/targets/{target}/transitions", headers={**office, "If-Match": '"1"'},
                              json={"trigger": "verify"}), 409, "invalid_trigger")
    assert wrong["allowed_triggers"] == ["start"]
    assert api.post(f"/api/v1/targets/{target}/transitions", headers={**staff, "If-Match": '"1"'},
                    json={"trigger": "start"}).status_code == 200
    _problem(api.post(f"/api/v1/targets/{target}/transitions", headers={**staff, "If-Match": '"1"'},
                      json={"trigger": "report_progress", "payload": {"note": "x", "percent": 5}}), 409, "stale_version")
    missing = _problem(api.post(f"/api/v1/targets/{target}/transitions", headers={**staff, "If-Match": '"2"'},
                                json={"trigger": "self_assess", "payload": {"self_score": 1}}), 422, "invalid_payload")
    assert missing["errors"] == [{"field": "summary", "reason": "缺少必填项：自评小结"}]
    guard = _problem(api.post(f"/api/v1/targets/{target}/transitions", headers={**staff, "If-Match": '"2"'},
                              json={"trigger": "self_assess", "payload": {"self_score": 9, "summary": "好"}}),
                     422, "guard_failed")
    assert "权重分值" in guard["detail"]


def test_target_lists_filters_detail_and_history(api, two_targets, frozen):
    staff = token(api, "洪玮玮")
    mine, theirs = two_targets
    listed = api.get("/api/v1/targets", headers=staff).json()
    assert listed["count"] == 2 and {t["id"] for t in listed["data"]} == {mine, theirs}
    assert [t["id"] for t in api.get("/api/v1/targets?section=规划科", headers=staff).json()["data"]] == [mine]
    assert [t["id"] for t in api.get("/api/v1/targets?leader=李自坚", headers=staff).json()["data"]] == [theirs]
    assert api.get("/api/v1/targets?state=in_progress", headers=staff).json()["count"] == 0
    assert api.get("/api/v1/targets?q=学位扩容&limit=1", headers=staff).json()["count"] == 2
    assert api.get("/api/v1/targets?q=100%25_", headers=staff).json()["count"] == 0  # LIKE wildcards are text
    assert api.get("/api/v1/targets?overdue=true", headers=staff).json()["count"] == 0  # 3 June 2024, due 31 December
    from datetime import timedelta

    frozen.move(timedelta(days=215))  # 4 January 2025
    assert api.get("/api/v1/targets?overdue=true", headers=staff).json()["count"] == 2
    frozen.move(timedelta(days=-215))
    detail = api.get(f"/api/v1/targets/{mine}", headers=staff)
    body = detail.json()
    assert detail.headers["ETag"] == '"1"' and body["state_label"] == "已下达" and body["sections"] == ["规划科"]
    assert [(a["trigger"], a["to_label"]) for a in body["available_triggers"]] == [("start", "推进中")]
    assert api.get(f"/api/v1/targets/{theirs}", headers=staff).json()["available_triggers"] == []
    api.post(f"/api/v1/targets/{mine}/transitions", headers={**staff, "If-Match": '"1"'}, json={"trigger": "start"})
    history = api.get(f"/api/v1/targets/{mine}/history", headers=staff).json()
    assert history["count"] == 2 and [r["trigger"] for r in history["data"]] == ["create", "start"]


def test_audit_is_for_office_and_auditor(api, two_targets):
    staff, auditor = token(api, "洪玮玮"), token(api, "审计员")
    api.post(f"/api/v1/targets/{two_targets[0]}/transitions", headers={**staff, "If-Match": '"1"'},
             json={"trigger": "start", "comment": "开始"})
    for path in ("/api/v1/audit", "/api/v1/audit/verify", "/api/v1/audit/export"):
        _problem(api.get(path, headers=staff), 403, "forbidden")
    found = api.get("/api/v1/audit?actor=洪玮玮&trigger=start&section=规划科", headers=auditor).json()
    assert found["count"] == 1 and found["data"][0]["comment"] == "开始"
    assert api.get("/api/v1/audit?section=思政科&trigger=start", headers=auditor).json()["count"] == 0
    assert api.get("/api/v1/audit?since=2999-01-01T00:00:00", headers=auditor).json()["count"] == 0
    verified = api.get("/api/v1/audit/verify", headers=auditor).json()
    assert (verified["ok"], verified["first_bad_id"], verified["reason"], verified["differences"]) == (True, None, "", [])
    assert "当前状态与历史一致" in verified["report"][0]
    assert api.get("/api/v1/audit/key", headers=auditor).json()["latest_checkpoint"] is None
    exported = api.get("/api/v1/audit/export?format=csv&actor=洪玮玮", headers=auditor)
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "时间", "目标编号"] and rows[1][3] == "洪玮玮" and len(rows) == 2
    xlsx = api.get("/api/v1/audit/export?format=xlsx&actor=洪玮玮", headers=auditor)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in sheet[2]][3] == "洪玮玮"


def test_plan_import_upload(api):
    office, staff = token(api, "绩效办"), token(api, "洪玮玮")
    files = {"file": ("plan-2024.csv", _csv(GOOD), "text/csv")}
    _problem(api.post("/api/v1/plans/import", headers=staff, files=files, data={"org": "泉州市教育局"}), 403, "forbidden")
    dry = api.post("/api/v1/plans/import", headers=office, files=files, data={"org": "泉州市教育局", "dry_run": "true"})
    assert dry.json()["ok"] and dry.json()["dry_run"] and dry.json()["targets"] == 3
    assert api.get("/api/v1/plans", headers=staff).json()["count"] == 0
    done = api.post("/api/v1/plans/import", headers=office, files=files, data={"org": "泉州市教育局"}).json()
    assert (done["created"], done["plan_id"] is not None) == (3, True)
    plan = api.get(f"/api/v1/plans/{done['plan_id']}", headers=staff).json()
    assert plan["total_weight"] == 100 and [m["key"] for m in plan["milestones"]] == [
        "self_assessment_signed", "evaluation", "summary"]
    assert {c["name"]: c["points"] for c in plan["categories"]} == {"重点工作目标": 60, "行政能力目标": 40}
    bad = [list(r) for r in GOOD]
    bad[1][6] = "某时"
    refused = _problem(api.post("/api/v1/plans/import", headers=office, data={"org": "泉州市教育局"},
                                files={"file": ("plan-2024.csv", _csv(bad), "text/csv")}), 422, "import_refused")
    assert refused["errors"] == [{"row": 3, "column": "完成时限", "reason": "无法识别的完成时限：“某时”（可写作“12月底前”）"}]
    odd = _problem(api.post("/api/v1/plans/import", headers=office, files={"file": ("p.pdf", b"%PDF", "application/pdf")}),
                   422, "invalid_payload")
    assert "不支持的文件类型" in odd["detail"]


def test_upload_over_the_limit_is_413(api, monkeypatch):
    from engine.store.config import settings

    monkeypatch.setattr(settings(), "max_upload_bytes", 1000)
    files = {"file": ("plan-2024.csv", b"x" * 5000, "text/csv")}
    _problem(api.post("/api/v1/plans/import", headers=token(api, "绩效办"), files=files), 413, "too_large")


def test_workflows(api):
    staff = token(api, "洪玮玮")
    assert [w["id"] for w in api.get("/api/v1/workflows", headers=staff).json()["data"]] == ["rectification", "report", "supervision", "target"]
    target = api.get("/api/v1/workflows/target", headers=staff).json()
    assert target["initial"] == "assigned" and len(target["transitions"]) == 10
    _problem(api.get("/api/v1/workflows/nope", headers=staff), 404, "not_found")


def test_inbox(api, engine_db):
    staff, other = token(api, "洪玮玮"), token(api, "陈华森")
    with Session(engine_db) as session:
        user = session.exec(select(User).where(User.login == "洪玮玮")).one()
        item = inbox.deliver(session=session, user_id=user.id, subject="目标 1-1-1 已退回", body="请补充佐证")
        session.commit()
        item_id = item.id
    listed = api.get("/api/v1/inbox", headers=staff).json()
    assert (listed["count"], listed["unread"], listed["data"][0]["subject"]) == (1, 1, "目标 1-1-1 已退回")
    _problem(api.post(f"/api/v1/inbox/{item_id}/read", headers=other), 404, "not_found")
    assert api.post(f"/api/v1/inbox/{item_id}/read", headers=staff).json()["read_at"] is not None
    assert api.get("/api/v1/inbox", headers=staff).json()["unread"] == 0
    assert api.put("/api/v1/inbox/digest", headers=staff, json={"daily": True}).json() == {"daily": True}
    assert api.put("/api/v1/inbox/digest", headers=staff, json={"daily": "often"}).status_code == 422


def test_admin_users_and_sections(api):
    admin, office = token(api, "管理员"), token(api, "绩效办")
    _problem(api.get("/api/v1/admin/users", headers=office), 403, "forbidden")
    created = api.post("/api/v1/admin/users", headers=admin,
                       json={"name": "胡志强", "roles": ["staff"], "sections": ["校安科"], "password": "safe-pass-1"})
    assert created.status_code == 201 and created.json()["sections"] == ["校安科"]
    _problem(api.post("/api/v1/admin/users", headers=admin,
                      json={"name": "胡志强", "roles": ["staff"], "sections": ["校安科"], "password": "safe-pass-1"}),
             409, "duplicate")
    bad_role = _problem(api.post("/api/v1/admin/users", headers=admin,
                                 json={"name": "某人", "roles": ["boss"], "password": "12345678"}), 422, "invalid_request")
    assert bad_role["errors"][0]["field"] == "roles.0"
    user_id = created.json()["id"]
    changed = api.patch(f"/api/v1/admin/users/{user_id}", headers=admin, json={"active": False})
    assert changed.json()["active"] is False
    login = api.post("/api/v1/auth/token", data={"username": "胡志强", "password": "safe-pass-1"})
    _problem(login, 401, "login_failed")
    assert "校安科" in [s["name"] for s in api.get("/api/v1/admin/sections", headers=admin).json()["data"]]
    assert api.post("/api/v1/admin/sections", headers=admin, json={"name": "法规科"}).status_code == 201
    _problem(api.post("/api/v1/admin/sections", headers=admin, json={"name": "法规科"}), 409, "duplicate")


def test_scores_and_report_endpoints(api, engine_db):
    from tests.engine.scoring.test_sheet import _import, _score

    with Session(engine_db) as session:
        plan_id = _import(session)
        _score(session, "1-1", 27, deductions=[(3, "进度滞后一个月")])
    staff = token(api, "洪玮玮")
    scores = api.get(f"/api/v1/plans/{plan_id}/scores", headers=staff).json()
    assert scores["total"]["score"] == 27 and scores["total"]["scored"] == 1 and scores["total"]["targets"] == 4
    line = next(x for x in scores["lines"] if x["code"] == "1-1")
    assert line["deductions"] == [{"points": 3.0, "reason": "进度滞后一个月"}]
    assert next(x for x in scores["lines"] if x["code"] == "1-2")["score"] is None
    page = api.get(f"/api/v1/plans/{plan_id}/report", headers=staff)
    assert page.headers["content-type"].startswith("text/html") and "绩效评估报告" in page.text
    pdf = api.get(f"/api/v1/plans/{plan_id}/report?format=pdf", headers=staff)
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    xlsx = api.get(f"/api/v1/plans/{plan_id}/report?format=xlsx", headers=staff)
    assert xlsx.content.startswith(b"PK")
    _problem(api.get("/api/v1/plans/999/scores", headers=staff), 404, "not_found")
    _problem(api.get(f"/api/v1/plans/{plan_id}/report?format=doc", headers=staff), 422, "invalid_request")


def test_a_new_password_voids_old_tokens(api):
    import time

    admin = token(api, "管理员")
    old = token(api, "洪玮玮")
    assert api.get("/api/v1/me", headers=old).status_code == 200
    time.sleep(1.1)  # tokens are stamped in whole seconds
    me = api.get("/api/v1/admin/users?limit=200", headers=admin).json()["data"]
    user_id = next(u["id"] for u in me if u["name"] == "洪玮玮")
    assert api.patch(f"/api/v1/admin/users/{user_id}", headers=admin, json={"password": "a-new-password"}).status_code == 200
    _problem(api.get("/api/v1/me", headers=old), 401, "unauthenticated")
    fresh = api.post("/api/v1/auth/token", data={"username": "洪玮玮", "password": "a-new-password"})
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"}).status_code == 200
