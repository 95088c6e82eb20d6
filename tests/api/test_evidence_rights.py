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
