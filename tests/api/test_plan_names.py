"""Import warnings and aliases through the API and the office's pages; kept columns on the target."""
from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from engine.people import organisations
from engine.plans.demo import DEMO_PASSWORD
from engine.people import users
from engine.store.models import Section, Target, TransitionRecord
from tests.api.conftest import token
from tests.engine.plans.test_names import ROWS, _csv


def test_upload_returns_the_warnings_and_takes_aliases(api, engine_db):
    office = token(api, "绩效办")
    files = {"file": ("plan-2024.csv", _csv(ROWS), "text/csv")}
    dry = api.post("/api/v1/plans/import", headers=office, files=files, data={"org": "泉州市教育局", "dry_run": "true"})
    assert dry.status_code == 200
    warnings = dry.json()["warnings"]
    assert any("“陈军宣”、“蔡玉霖”连写" in w for w in warnings)
    with Session(engine_db) as session:
        session.add(Section(org_id=organisations.default(session).id, name="民管科"))
        session.commit()
    plain = api.post("/api/v1/plans/import", headers=office, files=files,
                     data={"org": "泉州市教育局", "dry_run": "true"}).json()
    assert any("民管=民管科" in w for w in plain["warnings"])
    done = api.post("/api/v1/plans/import", headers=office, files=files,
                    data={"org": "泉州市教育局", "aliases": "民管=民管科"}).json()
    assert done["created"] == 3 and not any("“民管”" in w for w in done["warnings"])
    with Session(engine_db) as session:
        first = session.exec(select(Target).where(Target.code == "1-1")).one()
        assert "民管" not in set(session.exec(select(Section.name)))
    detail = api.get(f"/api/v1/targets/{first.id}", headers=office).json()
    assert detail["extra_columns"] == {"考评依据": "泉委发〔2024〕4号"}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _web(engine_db):
    with Session(engine_db) as session:
        users.add(session=session, name="绩效办", roles=["office"], password=DEMO_PASSWORD)
        session.commit()
    client = TestClient(create_app(engine_db), follow_redirects=False)
    client.__enter__()
    form = _csrf(client.get("/login").text)
    assert client.post("/login", data={"username": "绩效办", "password": DEMO_PASSWORD, "csrf": form}).status_code == 303
    return client


def test_the_office_imports_on_its_page_and_sees_the_warnings(engine_db):
    client = _web(engine_db)
    try:
        home = client.get("/").text
        assert 'action="/plans/import/table"' in home
        files = {"file": ("plan-2024.csv", _csv(ROWS), "text/csv")}
        data = {"csrf": _csrf(home), "dry_run": "1", "org": "泉州市教育局"}
        checked = client.post("/plans/import/table", files=files, data=data)
        assert checked.status_code == 200 and "校验通过（未写入）" in checked.text
        assert "“陈军宣”、“蔡玉霖”连写" in checked.text and "请核对" in checked.text
        done = client.post("/plans/import/table", files=files, data={"csrf": _csrf(home), "aliases": "民管=民管科", "org": "泉州市教育局"})
        assert done.status_code == 200 and "新增 3" in done.text
        with Session(engine_db) as session:
            target = session.exec(select(Target).where(Target.code == "1-1")).one()
        page = client.get(f"/targets/{target.id}").text
        assert "考评依据" in page and "泉委发〔2024〕4号" in page
        bad = client.post("/plans/import/table", data={"csrf": _csrf(home), "org": "泉州市教育局"},
                          files={"file": ("plan-2024.csv", _csv([["1-9", "", "x", "某时", "", "", "", "", ""]]), "text/csv")})
        assert bad.status_code == 422 and "计划未导入" in bad.text and "某时" in bad.text
    finally:
        client.__exit__(None, None, None)


def test_a_dynamic_target_warning_is_shown_on_the_page_not_only_in_the_address(engine_db):
    client = _web(engine_db)
    try:
        home = client.get("/").text
        client.post("/plans/import/table", files={"file": ("plan-2024.csv", _csv(ROWS), "text/csv")},
                    data={"csrf": _csrf(home), "aliases": "民管=民管科", "org": "泉州市教育局"})
        with Session(engine_db) as session:
            plan_id = session.exec(select(Target.plan_id)).first()
        added = client.post("/targets/new", data={
            "csrf": _csrf(home), "plan_id": plan_id, "code": "D-1", "text": "办好双语学校", "weight": "2",
            "deadline": "12月底前", "sections": "各县(市、区)教育局", "leaders": "陈军宣", "reason": "市委新部署"})
        assert added.status_code == 303 and "note=" not in added.headers["location"]
        page = client.get(added.headers["location"]).text
        assert 'data-testid="warning"' in page and "与目标 1-1 的内容高度相似" in page
        with Session(engine_db) as session:
            target = session.exec(select(Target).where(Target.code == "D-1")).one()
            record = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == target.id)).one()
        assert record.payload["sections"] == ["各县(市、区)教育局"]
    finally:
        client.__exit__(None, None, None)
