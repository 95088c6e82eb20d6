"""Pages through the app in process: login and CSRF, redirects, evidence limits, escaping."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from engine.plans.demo import DEMO_PASSWORD
from engine.store.models import Evidence, Target


def _web(engine_db, tmp_path, monkeypatch, demo, year=None):
    from engine.store.config import settings

    monkeypatch.setattr(settings(), "files_dir", str(tmp_path / "files"))
    monkeypatch.setattr(settings(), "max_evidence_bytes", 2000)
    demo.put(engine_db, year=year)
    with Session(engine_db) as session:
        ids = {t.code: t.id for t in session.exec(select(Target).where(Target.parent_id.is_(None)))}
    with TestClient(create_app(engine_db), follow_redirects=False) as client:
        yield client, ids


@pytest.fixture
def web(engine_db, tmp_path, monkeypatch, demo):
    """The demo (this year's plan) served in process."""
    yield from _web(engine_db, tmp_path, monkeypatch, demo)


@pytest.fixture
def web_2024(engine_db, tmp_path, monkeypatch, demo):
    """The demo with the shipped plan kept in 2024, for tests that travel to the plan's own dates."""
    yield from _web(engine_db, tmp_path, monkeypatch, demo, year=2024)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client, name, password=DEMO_PASSWORD, next_url="/"):
    token = _csrf(client.get("/login").text)
    return client.post("/login", data={"username": name, "password": password, "csrf": token, "next": next_url})


def test_login_cookie_and_logout(web):
    client, _ = web
    assert client.get("/").status_code == 303
    wrong = login(client, "黄洺鋆", "bad")
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    done = login(client, "黄洺鋆")
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite")
    home = client.get("/")
    assert home.status_code == 200 and "黄洺鋆" in home.text
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    out = client.post("/logout", data={"csrf": _csrf(home.text)})
    assert out.status_code == 303 and client.get("/").status_code == 303


def test_the_demo_serves_the_shipped_plan_as_this_years_and_the_login_page_says_so(web, engine_db):
    from engine.calendar import clock
    from engine.store.models import Plan

    client, _ = web
    year = clock.today().year
    with Session(engine_db) as session:
        plan = session.exec(select(Plan).where(Plan.org == "泉州市教育局")).one()
        dues = {t.due_date.year for t in session.exec(select(Target).where(Target.plan_id == plan.id)) if t.due_date}
    assert plan.year == year and plan.title == f"泉州市教育局{year}年度绩效目标考评表" and dues == {year}
    note = re.search(r'data-testid="demo-note">([^<]+)<', client.get("/login").text).group(1)
    assert "2024年度" in note and (year == 2024 or f"作为 {year} 年度计划提供" in note)


def test_login_form_needs_its_token_and_never_redirects_off_site(web):
    client, _ = web
    client.get("/login")
    refused = client.post("/login", data={"username": "黄洺鋆", "password": DEMO_PASSWORD, "csrf": "x"})
    assert refused.status_code == 403
    assert login(client, "黄洺鋆", next_url="//evil.example/").headers["location"] == "/"


def test_evidence_type_and_size_are_checked_and_nothing_half_done(web, engine_db):
    client, ids = web
    login(client, "洪玮玮")
    target = ids["1-1-1"]
    page = client.get(f"/targets/{target}").text
    client.post(f"/targets/{target}/fire", data={"csrf": _csrf(page), "trigger": "start", "version": "1"})
    page = client.get(f"/targets/{target}").text
    form = {"csrf": _csrf(page), "trigger": "report_progress", "version": "2", "note": "过半", "percent": "50"}
    bad = client.post(f"/targets/{target}/fire", data=form, files={"evidence": ("run.exe", b"MZ...", "application/x")})
    assert bad.status_code == 422 and "类型不允许" in bad.text
    fake = client.post(f"/targets/{target}/fire", data=form, files={"evidence": ("scan.pdf", b"not a pdf", "application/pdf")})
    assert fake.status_code == 422 and "不符" in fake.text
    big = client.post(f"/targets/{target}/fire", data=form, files={"evidence": ("big.pdf", b"%PDF" + b"x" * 3000, "application/pdf")})
    assert big.status_code == 422 and "超过" in big.text
    with Session(engine_db) as session:
        assert session.exec(select(Evidence)).all() == []
        assert session.get(Target, target).version == 2  # nothing of the refused transitions was written
    ok = client.post(f"/targets/{target}/fire", data=form, files={"evidence": ("纪要.pdf", b"%PDF-1.4 ok", "application/pdf")})
    assert ok.status_code == 303
    with Session(engine_db) as session:
        (row,) = session.exec(select(Evidence)).all()
        assert row.filename == "纪要.pdf" and row.stored_as != "纪要.pdf" and row.uploaded_by == "洪玮玮"
    download = client.get(f"/evidence/{row.id}")
    assert download.content == b"%PDF-1.4 ok" and download.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in download.headers["content-disposition"]


def test_a_changed_evidence_file_is_refused_and_the_office_alerted(web, engine_db):
    import stat
    from pathlib import Path

    from engine.store.config import settings
    from engine.store.models import OutboxEvent, TransitionRecord

    client, ids = web
    login(client, "洪玮玮")
    target = ids["1-1-1"]
    page = client.get(f"/targets/{target}").text
    client.post(f"/targets/{target}/fire", data={"csrf": _csrf(page), "trigger": "start", "version": "1"})
    form = {"csrf": _csrf(page), "trigger": "report_progress", "version": "2", "note": "过半", "percent": "50"}
    client.post(f"/targets/{target}/fire", data=form, files={"evidence": ("纪要.pdf", b"%PDF-1.4 ok", "application/pdf")})
    with Session(engine_db) as session:
        row = session.exec(select(Evidence)).one()
        recorded = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "report_progress")).one()
    assert recorded.payload["evidence"] == [{"id": row.id, "name": "纪要.pdf", "sha256": row.sha256}]
    stored = Path(settings().files_dir) / row.stored_as
    assert stat.S_IMODE(stored.stat().st_mode) == 0o400  # its owner reads it; nobody writes it
    stored.chmod(0o644)
    stored.write_bytes(b"%PDF-1.4 replaced")
    refused = client.get(f"/evidence/{row.id}")
    assert refused.status_code == 409 and "replaced" not in refused.text and "校验值不符" in refused.text
    with Session(engine_db) as session:
        alert = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "evidence.tampered")).one()
        assert alert.recipients == [{"kind": "role", "name": "office"}] and alert.data["evidence_id"] == row.id
        assert session.get(TransitionRecord, alert.record_id).trigger == "evidence_mismatch"


def test_escaping_and_error_pages(web):
    client, ids = web
    login(client, "洪玮玮")
    target = ids["1-1-1"]
    page = client.get(f"/targets/{target}").text
    client.post(f"/targets/{target}/fire", data={"csrf": _csrf(page), "trigger": "start", "version": "1",
                                                  "comment": "<img src=x onerror=alert(1)>"})
    shown = client.get(f"/targets/{target}").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown and "<img src=x" not in shown
    stale = client.post(f"/targets/{target}/fire", data={"csrf": _csrf(shown), "trigger": "report_progress",
                                                           "version": "1", "note": "x", "percent": "5"})
    assert stale.status_code == 409 and "已被他人修改" in stale.text
    assert client.get("/targets/999999").status_code == 404
    assert client.get("/audit").status_code == 403


def test_workflow_page_offers_yaml_and_bpmn(web):
    client, _ = web
    login(client, "绩效办")
    page = client.get("/workflows/target").text
    assert 'href="/workflows/target.yaml"' in page and 'href="/workflows/target.bpmn"' in page
    yaml_file = client.get("/workflows/target.yaml")
    assert yaml_file.status_code == 200 and "id: target" in yaml_file.text
    bpmn_file = client.get("/workflows/target.bpmn")
    assert bpmn_file.status_code == 200 and b"BPMNDiagram" in bpmn_file.content
    from engine.bpmn.reader import import_bpmn
    from engine.workflow.definitions import get, parse

    again = parse(import_bpmn(bpmn_file.content, "target.bpmn").yaml_text, "t.yaml")
    assert again.states == get("target").states
    assert client.get("/workflows/nope.bpmn").status_code == 404


def test_an_evidence_file_over_a_mebibyte_goes_through(web, monkeypatch):
    from engine.store.config import settings

    monkeypatch.setattr(settings(), "max_evidence_bytes", 3 * 1_048_576)
    client, ids = web
    login(client, "洪玮玮")
    target = ids["1-1-1"]
    page = client.get(f"/targets/{target}").text
    client.post(f"/targets/{target}/fire", data={"csrf": _csrf(page), "trigger": "start", "version": "1"})
    page = client.get(f"/targets/{target}").text
    big = b"%PDF-1.4\n" + b"0" * (2 * 1_048_576)  # over the 1 MiB limit of other requests
    done = client.post(f"/targets/{target}/fire", files={"evidence": ("扫描件.pdf", big, "application/pdf")},
                       data={"csrf": _csrf(page), "trigger": "report_progress", "version": "2", "note": "附扫描件",
                             "percent": "30"})
    assert done.status_code == 303
    too_big = client.post(f"/targets/{target}/fire", files={"evidence": ("x.pdf", big * 8, "application/pdf")},
                          data={"csrf": _csrf(page), "trigger": "report_progress", "version": "3"})
    assert too_big.status_code == 413 and "text/html" in too_big.headers["content-type"]


def test_odd_input_is_refused_politely(web):
    client, ids = web
    login(client, "审计员")
    assert client.get("/targets/99999999999999999999").status_code == 422
    assert client.get("/audit?target=²&since=0001-01-01").status_code == 200
    assert client.get("/targets?workflow=xyz&q=%00").status_code == 200
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_logout_voids_a_copied_cookie(web):
    import time

    client, _ = web
    login(client, "洪玮玮")
    copied = client.cookies.get("kaoping_session")
    home = client.get("/")
    time.sleep(1.1)  # cookies are stamped in whole seconds
    client.post("/logout", data={"csrf": _csrf(home.text)})
    client.cookies.set("kaoping_session", copied)
    assert client.get("/").status_code == 303  # back to the login page
    client.cookies.clear()
    login(client, "洪玮玮")
    assert client.get("/").status_code == 200  # a new login works at once
