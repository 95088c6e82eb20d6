"""Evidence files through the API and the pages: only the target's parties, the office and the auditor."""
from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from engine.store.models import Evidence
from engine.workflow import evidence
from tests import factories as f
from tests.api.conftest import PASSWORD, token
from tests.engine.lifecycle import step

PDF = b"%PDF-1.4 evidence"


@pytest.fixture
def evidence_of_mine(api, engine_db, two_targets, tmp_path, monkeypatch):
    from engine.store.config import settings

    monkeypatch.setattr(settings(), "files_dir", str(tmp_path / "files"))
    mine = two_targets[0]
    with Session(engine_db, expire_on_commit=False) as session:
        step(session, mine, "start", f.STAFF)
        step(session, mine, "report_progress", f.STAFF, uploads=[evidence.Upload("台账.pdf", PDF)])
        return mine, session.exec(select(Evidence.id)).one()


def test_api_download_follows_the_targets_parties(api, evidence_of_mine):
    target_id, evidence_id = evidence_of_mine
    url = f"/api/v1/targets/{target_id}/evidence/{evidence_id}"
    for name in ("洪玮玮", "林长华", "绩效办", "审计员"):
        got = api.get(url, headers=token(api, name))
        assert got.status_code == 200 and got.content == PDF, name
    for name in ("陈华森", "李自坚", "管理员"):
        refused = api.get(url, headers=token(api, name))
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    assert api.get(f"/api/v1/targets/{target_id + 1}/evidence/{evidence_id}",
                   headers=token(api, "绩效办")).status_code == 404


def _login(client, name):
    form = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": name, "password": PASSWORD, "csrf": form},
                       follow_redirects=False).status_code == 303


def test_pages_download_and_links_follow_the_targets_parties(api, evidence_of_mine):
    target_id, evidence_id = evidence_of_mine
    _login(api, "陈华森")
    assert api.get(f"/evidence/{evidence_id}").status_code == 403
    page = api.get(f"/targets/{target_id}").text
    assert "台账.pdf" in page and f'href="/evidence/{evidence_id}"' not in page
    api.cookies.clear()
    _login(api, "洪玮玮")
    assert f'href="/evidence/{evidence_id}"' in api.get(f"/targets/{target_id}").text
    got = api.get(f"/evidence/{evidence_id}")
    assert got.status_code == 200 and got.content == PDF


def _csrf_and_version(page: str, trigger: str = "self_assess") -> tuple[str, str]:
    form = page[page.index(f'data-trigger="{trigger}"'):]
    return (re.search(r'name="csrf" value="([^"]+)"', form).group(1),
            re.search(r'name="version" value="([0-9]+)"', form).group(1))


def test_rework_on_the_page_keeps_the_ticked_files_and_removes_the_others(api, evidence_of_mine, engine_db):
    target_id, ledger_id = evidence_of_mine
    with Session(engine_db) as session:
        step(session, target_id, "self_assess", f.STAFF, payload={"self_score": 1.5, "summary": "全年完成"},
             uploads=[evidence.Upload("照片.png", b"\x89PNG photo")])
        step(session, target_id, "return", f.LEADER)
        photo_id = session.exec(select(Evidence.id).where(Evidence.filename == "照片.png")).one()
    _login(api, "洪玮玮")
    page = api.get(f"/targets/{target_id}").text
    kept = page[page.index('data-testid="kept-evidence"'):page.index("</fieldset>")]
    assert "台账.pdf" in kept and "照片.png" in kept and kept.count("checked") == 2
    csrf, version = _csrf_and_version(page)
    done = api.post(f"/targets/{target_id}/fire", data={
        "csrf": csrf, "trigger": "self_assess", "version": version, "self_score": "1.5", "summary": "已补充",
        "evidence_listed": [str(ledger_id), str(photo_id)], "keep": [str(ledger_id)]},
        files=[("evidence", ("补充.pdf", b"%PDF-1.4 more", "application/pdf"))], follow_redirects=True)
    assert done.status_code == 200 and "已提交自评" in done.text
    listed = done.text[done.text.index('data-testid="evidence-files"'):]
    listed, removed = listed[:listed.index("</ul>")], listed[listed.index('data-testid="removed-evidence"'):]
    assert "台账.pdf" in listed and "补充.pdf" in listed and "照片.png" not in listed
    assert "照片.png" in removed and "洪玮玮 于" in removed
    assert "移除的佐证材料" in done.text  # the history shows what the submission removed
    with Session(engine_db) as session:
        assert session.get(Evidence, photo_id).removed_at is not None
        assert session.get(Evidence, ledger_id).removed_at is None
