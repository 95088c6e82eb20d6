"""Separation of organisations on every path: every operation of the OpenAPI document and every page,
run as each person of organisation A against the ids of B (a sibling), answers 404 or 403 and never
shows B's data; a county (a child) cannot write its parent's targets; a parent's office reads its
child's targets and cannot write them.

The requests are generated from the OpenAPI document and the app's routes, so an operation added
later is covered by construction.
"""
from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import security
from api.app import create_app
from engine.people import inbox
from engine.people.accounts import signing_key
from engine.people.actors import actor_of
from engine.plans import exporter
from engine.store.models import Evidence, Target, User
from engine.workflow import commands, evidence
from tests import factories as f

PASSWORD = "correct-horse-9"
ROLES = ("staff", "leader", "office", "auditor", "admin")
#: Each organisation's people (one per role), sections, target code and text: all words of its own.
ORGS = {
    "A": {"name": "泉州市教育局", "parent": "福建省教育厅", "kind": "bureau", "prefix": "甲"},
    "B": {"name": "厦门市教育局", "parent": "福建省教育厅", "kind": "bureau", "prefix": "乙"},
    "C": {"name": "泉港区教育局", "parent": "泉州市教育局", "kind": "county", "prefix": "丙"},
}


def _person(key: str, role: str) -> str:
    return f"{ORGS[key]['prefix']}{role}员"


def _section(key: str) -> str:
    return f"{ORGS[key]['prefix']}规划科"


@pytest.fixture
def world(engine_db, tmp_path, monkeypatch, password_hash):
    """Three organisations with people of every role, a plan and a target each; B's target has a
    history, an evidence file and a message in B's staff member's inbox."""
    from engine.store.config import settings

    monkeypatch.setattr(settings(), "files_dir", str(tmp_path / "files"))
    ids: dict[str, dict[str, int]] = {}
    with Session(engine_db, expire_on_commit=False) as session:
        f.organisation(session, "福建省教育厅", kind="province")
        for key, org in ORGS.items():
            f.organisation(session, org["name"], parent=org["parent"], kind=org["kind"])
        for key, org in ORGS.items():
            people = {role: f.member(session, org["name"], _person(key, role), [role],
                                     [_section(key)] if role == "staff" else [], password_hash=password_hash,
                                     login=_person(key, role)) for role in ROLES}
            plan = f.plan_of(session, org["name"])
            target = f.target_of(session, org["name"], weight=100, code=f"{org['prefix']}-1-1", sections=(_section(key),),
                                 leaders=(_person(key, "leader"),), persons=(_person(key, "staff"),),
                                 text=f"{org['prefix']}单位独有的年度目标")
            ids[key] = {"plan": plan.id, "target": target.id, **{role: u.id for role, u in people.items()}}
        session.commit()
        b_staff = session.get(User, ids["B"]["staff"])
        commands.fire(session=session, target_id=ids["B"]["target"], trigger="start",
                      actor=actor_of(session, b_staff), comment="乙单位开始办理的说明")
        kept = evidence.store(session=session, target_id=ids["B"]["target"], uploader=b_staff.name,
                              uploads=[evidence.Upload("乙佐证材料.pdf", "%PDF-1.4 乙".encode("utf-8"))])
        inbox.deliver(session=session, user_id=b_staff.id, subject="乙单位的消息", body="乙单位的消息正文",
                      target_id=ids["B"]["target"])
        session.commit()
        ids["B"]["evidence"] = kept[0].id
        ids["B"]["item"] = session.exec(select(inbox.InboxItem.id).where(
            inbox.InboxItem.user_id == b_staff.id)).first()
        b_file = exporter.write_xlsx(session, ids["B"]["plan"])
    with TestClient(create_app(engine_db), raise_server_exceptions=False, follow_redirects=False) as client:
        yield client, ids, b_file


#: What of B must never reach an A person: codes, texts, names and logins, sections, files, messages.
B_MARKS = ("乙-1-1", "乙单位独有的年度目标", "乙单位开始办理的说明", *(_person("B", r) for r in ROLES), _section("B"),
           "乙佐证材料", "乙单位的消息")


def _headers(client: TestClient, user_id: int) -> dict[str, str]:
    with Session(client.app.state.engine) as session:
        user = session.get(User, user_id)
        access, _ = security.issue(user.id, user.name, signing_key(session))
    return {"Authorization": f"Bearer {access}"}


def _leaks(body: bytes) -> list[str]:
    text = body.decode("utf-8", "replace")
    return [mark for mark in B_MARKS if mark in text]


#: Path parameters filled with B's ids (workflow definitions are the deployment's, not an organisation's).
def _path_values(ids: dict[str, int]) -> dict[str, str]:
    return {"target_id": str(ids["target"]), "plan_id": str(ids["plan"]), "evidence_id": str(ids["evidence"]),
            "user_id": str(ids["staff"]), "item_id": str(ids["item"]), "workflow_id": "target"}


#: Query parameters that name an object: B's.
def _query_values(ids: dict[str, int]) -> dict[str, str]:
    return {"plan": str(ids["plan"]), "target": str(ids["target"]), "section": _section("B"),
            "leader": _person("B", "leader"), "actor": _person("B", "staff"), "q": "乙"}


#: Valid bodies, so that what answers is the scope check and not the validation of the body.
BODIES = {
    "TransitionIn": {"trigger": "start", "payload": {}, "comment": ""},
    "UserCreate": {"name": "甲新同事", "roles": ["staff"], "sections": [], "password": PASSWORD},
    "UserUpdate": {"roles": ["staff", "leader"]},
    "SectionCreate": {"name": "甲新科室"},
    "OrganisationCreate": {"name": "乙下属学校", "parent": ORGS["B"]["name"], "kind": "school"},
    "HandDownIn": {"to": []},
    "PlanWorkflowUpdate": {"workflow": "target"},
    "AssignmentIn": {"sections": [], "leaders": [], "persons": []},
}
#: An id no object has (for a path naming a kind of object the world does not build).
MAX_UNUSED = 999_999
#: Logging in is no operation on B's data.
NOT_CALLED = {("/api/v1/auth/token", "post")}


def _operations(client: TestClient):
    document = client.get("/openapi.json").json()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {})
            schema = next(iter(body.values()), {}).get("schema", {}) if body else {}
            yield path, method, operation, schema.get("$ref", "").rsplit("/", 1)[-1], "multipart/form-data" in body


def _call(client, method, url, headers, ref, multipart, b_file, query):
    if multipart:  # the plan import: B's own table, for B
        return client.request(method, url, headers=headers, params=query,
                              files={"file": ("乙计划.xlsx", b_file)}, data={"org": ORGS["B"]["name"]})
    if ref:
        return client.request(method, url, headers=headers, params=query, json=BODIES.get(ref, {}))
    return client.request(method, url, headers=headers, params=query)


def test_the_document_lists_operations_enough_to_be_worth_running(world):
    client, _, _ = world
    found = list(_operations(client))
    assert len(found) >= 25
    assert any(path == "/api/v1/organisations" for path, *_ in found)


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_as_a_person_of_a_against_b(world, role):
    client, ids, b_file = world
    headers = {**_headers(client, ids["A"][role]), "If-Match": '"2"'}
    values, query_values = _path_values(ids["B"]), _query_values(ids["B"])
    ran = 0
    for path, method, operation, ref, multipart in _operations(client):
        if (path, method) in NOT_CALLED:
            continue
        names = re.findall(r"{(\w+)}", path)
        url = path.format(**{n: values.get(n, str(MAX_UNUSED)) for n in names})
        query = {p["name"]: query_values[p["name"]] for p in operation.get("parameters", [])
                 if p["in"] == "query" and p["name"] in query_values}
        response = _call(client, method.upper(), url, headers, ref, multipart, b_file, query)
        ran += 1
        where = f"{method.upper()} {url} {query} as A's {role}: {response.status_code} {response.text[:300]}"
        assert response.status_code < 500, where
        assert not _leaks(response.content), where
        names_b = [n for n in names if n != "workflow_id"]
        if names_b or ref == "OrganisationCreate" or multipart:
            assert response.status_code in (403, 404), where
        elif response.status_code == 200 and response.headers.get("content-type", "").startswith("application/json"):
            data = response.json().get("data") if isinstance(response.json(), dict) else None
            if isinstance(data, list) and query:
                assert data == [], where  # a list filtered by B's ids is empty
    assert ran >= 25


def _routes(routes, prefix: str = ""):
    """Every route of the app, through the routers it includes."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # an included router
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)


def _pages(client: TestClient):
    """The pages: every route the OpenAPI document leaves out."""
    for path, route in _routes(client.app.routes):
        if not route.include_in_schema and not path.startswith("/api/"):
            for method in sorted(route.methods - {"HEAD"}):
                yield path, method


#: Pages that show the file sent to them (a draft to review): B's table, uploaded by the caller, is their own input.
ECHOED = {"/plans/import"}
#: Pages not run: logging in and out (they would end the session under test), one's own password.
NOT_RUN = {("/login", "POST"), ("/logout", "POST"), ("/account/password", "POST")}


def _web_login(client: TestClient, login: str) -> str:
    page = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    done = client.post("/login", data={"username": login, "password": PASSWORD, "csrf": token, "next": "/"})
    assert done.status_code == 303, done.text[:300]
    home = client.get("/targets").text
    return re.search(r'name="csrf" value="([^"]+)"', home).group(1) if 'name="csrf"' in home else ""


@pytest.mark.parametrize("role", ROLES)
def test_every_page_as_a_person_of_a_against_b(world, role):
    client, ids, b_file = world
    csrf = _web_login(client, _person("A", role))
    values = {**_path_values(ids["B"]), "fmt": "xlsx"}
    b = ids["B"]
    form = {"csrf": csrf, "trigger": "verify", "version": "2", "ids": str(b["target"]), f"v{b['target']}": "2",
            f"s{b['target']}": "1", "plan_id": str(b["plan"]), "code": "乙-9", "text": "x", "weight": "1",
            "reason": "x", "sections": _section("A"), "leaders": _person("A", "leader"), "name": "甲新科室",
            "what": "disable"}
    ran = 0
    for path, method in _pages(client):
        if (path, method) in NOT_RUN:
            continue
        names = re.findall(r"{(\w+)}", path)
        url = path.format(**{n: values.get(n, str(MAX_UNUSED)) for n in names})
        if method == "GET":
            # (a page shows the filters typed: B's ids, never B's names, so that an echo is no leak)
            response = client.get(url, params={"target": str(b["target"]), "plan": str(b["plan"]), "q": "乙"})
        else:
            response = client.post(url, data=form, files={"file": ("乙计划.xlsx", b_file)}
                                   if "import" in path else None)
        ran += 1
        where = f"{method} {url} as A's {role}: {response.status_code} {response.text[:300]}"
        assert response.status_code < 500, where
        if path not in ECHOED:
            assert not _leaks(response.content), where
        if [n for n in names if n not in ("workflow_id", "fmt")]:
            assert response.status_code in (403, 404), where
    assert ran >= 25
    with Session(client.app.state.engine) as session:  # and nothing of B changed
        assert [(t.code, t.version) for t in session.exec(select(Target).where(Target.plan_id == b["plan"]))] \
            == [("乙-1-1", 2)]


def test_a_county_person_cannot_write_the_parents_target(world):
    """Every trigger of the target's workflow, by every role of C, on A's target: refused, never fired."""
    client, ids, _ = world
    from engine.workflow import definitions

    triggers = sorted({t.trigger for t in definitions.get("target").transitions})
    for role in ROLES:
        headers = {**_headers(client, ids["C"][role]), "If-Match": '"1"'}
        for trigger in triggers:
            answer = client.post(f"/api/v1/targets/{ids['A']['target']}/transitions", headers=headers,
                                 json={"trigger": trigger, "payload": {}, "comment": "越级"})
            assert answer.status_code == 404, (role, trigger, answer.text)
        assert client.get(f"/api/v1/targets/{ids['A']['target']}", headers=headers).status_code == 404
    with Session(client.app.state.engine) as session:
        assert session.get(Target, ids["A"]["target"]).version == 1  # nothing happened to it


def test_a_parent_office_reads_its_childs_targets_and_cannot_write_them(world):
    client, ids, _ = world
    for role in ("office", "auditor"):
        headers = {**_headers(client, ids["A"][role]), "If-Match": '"1"'}
        seen = client.get(f"/api/v1/targets/{ids['C']['target']}", headers=headers)
        assert seen.status_code == 200 and seen.json()["code"] == "丙-1-1"
        assert seen.json()["available_triggers"] == []  # nothing to do there
        listed = client.get("/api/v1/targets", headers=headers).json()
        assert {t["code"] for t in listed["data"]} == {"甲-1-1", "丙-1-1"}
        for trigger in ("start", "verify", "send_back", "score", "supervise"):
            answer = client.post(f"/api/v1/targets/{ids['C']['target']}/transitions", headers=headers,
                                 json={"trigger": trigger, "payload": {}, "comment": "上级代办"})
            assert answer.status_code == 403, (role, trigger, answer.text)
    staff = _headers(client, ids["A"]["staff"])  # a parent's staff member reads only their own organisation
    assert client.get(f"/api/v1/targets/{ids['C']['target']}", headers=staff).status_code == 404
    assert {t["code"] for t in client.get("/api/v1/targets", headers=staff).json()["data"]} == {"甲-1-1"}
    with Session(client.app.state.engine) as session:
        assert session.get(Target, ids["C"]["target"]).version == 1
        assert session.exec(select(Evidence)).first().target_id == ids["B"]["target"]
