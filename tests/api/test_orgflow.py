"""Handing down, the roll-up, assignment and ranking over HTTP: the API and the office's pages."""
from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from api import security
from api.app import create_app
from engine.people import users
from engine.people.accounts import signing_key
from engine.store.models import Organisation, Plan, Target, User
from tests.api.conftest import PASSWORD
from tests.api.test_pages import login
from tests.engine.plans.test_handdown import CITY, _import, _tree

PEOPLE = (("绩效办", "绩效办", CITY, "office"), ("绩效办", "泉港区绩效办", "泉港区教育局", "office"))


@pytest.fixture
def city(engine_db, password_hash):
    """A city with three county bureaus and a school, a plan with rows handed down to the counties, and
    the office of the city and of 泉港区 (both named 绩效办)."""
    with Session(engine_db, expire_on_commit=False) as session:
        orgs = _tree(session)
        _import(session)
        for name, login_name, org, role in PEOPLE:
            user = users.add(session=session, name=name, roles=[role], org=org, login=login_name)
            user.password_hash = password_hash
        session.commit()
        codes = {(t.org_id, t.code): t.id for t in session.exec(select(Target))}
        plan = session.exec(select(Plan).where(Plan.org_id == orgs[CITY].id)).one()
    with TestClient(create_app(engine_db), raise_server_exceptions=False, follow_redirects=False) as client:
        yield client, {name: o.id for name, o in orgs.items()}, codes, plan.id


def _token(client, login_name: str) -> dict[str, str]:
    with Session(client.app.state.engine) as session:
        user = session.exec(select(User).where(User.login == login_name)).one()
        access, _ = security.issue(user.id, user.name, signing_key(session))
    return {"Authorization": f"Bearer {access}"}


def test_api_rollup_handdown_and_assignment(city):
    client, orgs, codes, _ = city
    office, county = _token(client, "绩效办"), _token(client, "泉港区绩效办")
    parent = codes[(orgs[CITY], "1-1-1")]
    child = codes[(orgs["泉港区教育局"], "1-1-1")]
    body = client.get(f"/api/v1/targets/{parent}", headers=office).json()
    assert body["parent_id"] is None and body["rollup"]["rule"] == "average"
    assert [c["organisation"] for c in body["rollup"]["children"]] == ["泉港区教育局", "丰泽区教育局", "鲤城区教育局"]
    assert body["rollup"]["suggested_score"] is None and body["rollup"]["progress"] == 0
    # The county's office assigns its own people; the city's office may not (403), nor hand a county's target on.
    done = client.put(f"/api/v1/targets/{child}/assignment", headers=county,
                      json={"sections": ["基教股"], "leaders": ["陈明"], "persons": ["王伟"]})
    assert done.status_code == 200 and done.json()["parent_id"] == parent
    assert (done.json()["sections"], done.json()["leaders"]) == (["基教股"], ["陈明"])
    refused = client.put(f"/api/v1/targets/{child}/assignment", headers=office,
                         json={"sections": ["规划科"], "leaders": ["林长华"]})
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert client.put(f"/api/v1/targets/{child}/assignment", headers=county,
                      json={"sections": [], "leaders": []}).status_code == 422
    # Handing down: again creates nothing; a county cannot reach the city's target; unknown names are refused.
    assert client.post(f"/api/v1/targets/{parent}/handdown", headers=office, json={}).json()["count"] == 0
    assert client.post(f"/api/v1/targets/{parent}/handdown", headers=county, json={}).status_code == 404
    own = codes[(orgs[CITY], "1-1-4")]
    made = client.post(f"/api/v1/targets/{own}/handdown", headers=office, json={"to": ["丰泽区教育局"]}).json()
    assert made["count"] == 1 and made["data"][0]["code"] == "1-1-4"
    bad = client.post(f"/api/v1/targets/{own}/handdown", headers=office, json={"to": ["晋江市教育局"]})
    assert bad.status_code == 422 and "晋江市教育局" in bad.json()["detail"]


def test_api_ranking_of_a_plan(city):
    client, orgs, codes, plan_id = city
    office, county = _token(client, "绩效办"), _token(client, "泉港区绩效办")
    body = client.get(f"/api/v1/plans/{plan_id}/ranking", headers=office, params={"by": "overdue"}).json()
    assert (body["plan_id"], body["by"], body["count"]) == (plan_id, "overdue", 4)
    assert sorted(r["organisation"] for r in body["data"]) == ["丰泽区教育局", "泉州第五中学", "泉港区教育局", "鲤城区教育局"]
    assert [r["place"] for r in body["data"]] == [1, 2, 3, 4]
    lines = {r["organisation"]: r for r in body["data"]}
    # 泉港区 carries three of the city's rows (1-1-1, 1-1-2, 1-1-3), the other counties two; the school none.
    assert (lines["泉港区教育局"]["targets"], lines["丰泽区教育局"]["targets"], lines["泉州第五中学"]["targets"]) == (3, 2, 0)
    assert lines["泉州第五中学"]["score_rate"] is None and lines["泉州第五中学"]["on_time_rate"] is None
    # A county reads its own plan's ranking (nothing below it) and not the city's plan.
    with Session(client.app.state.engine) as session:
        own = session.exec(select(Plan.id).where(Plan.org_id == orgs["泉港区教育局"])).one()
    assert client.get(f"/api/v1/plans/{own}/ranking", headers=county).json()["data"] == []
    assert client.get(f"/api/v1/plans/{plan_id}/ranking", headers=county).status_code == 404
    assert client.get(f"/api/v1/plans/{plan_id}/ranking", headers=office, params={"by": "x"}).status_code == 422


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_office_pages_show_rollup_ranking_and_hand_down(city):
    client, orgs, codes, plan_id = city
    assert login(client, "绩效办", PASSWORD).status_code == 303
    parent = client.get(f"/targets/{codes[(orgs[CITY], '1-1-1')]}")
    assert parent.status_code == 200 and 'data-testid="rollup"' in parent.text and "泉港区教育局" in parent.text
    own = client.get(f"/targets/{codes[(orgs[CITY], '1-1-4')]}")
    assert 'data-testid="hand-down"' in own.text and 'data-testid="assign"' in own.text
    sent = client.post(f"/targets/{codes[(orgs[CITY], '1-1-4')]}/handdown",
                       data={"csrf": _csrf(own.text), "to": "鲤城区教育局"})
    assert sent.status_code == 303 and sent.headers["location"].endswith("done=hand_down&made=1")
    assert "已下达 1 个下级单位" in client.get(sent.headers["location"]).text
    home = client.get("/")
    assert 'data-testid="ranking"' in home.text and "鲤城区教育局" in home.text
    report = client.get(f"/plans/{plan_id}/report")
    assert "下级单位排名" in report.text and "泉州第五中学" in report.text
    book = load_workbook(io.BytesIO(client.get(f"/plans/{plan_id}/report.xlsx").content))
    assert book.sheetnames[1] == "下级单位排名"
    assert sorted(row[1] for row in book.worksheets[1].iter_rows(min_row=2, values_only=True)) == \
        sorted(["泉港区教育局", "丰泽区教育局", "鲤城区教育局", "泉州第五中学"])
    with Session(client.app.state.engine) as session:
        licheng = session.exec(select(Organisation).where(Organisation.name == "鲤城区教育局")).one()
        assert session.exec(select(Target).where(Target.org_id == licheng.id, Target.code == "1-1-4")).one().parent_id
