"""Odd input answers 4xx with a problem document, or is taken as text; never 500."""
from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.people.actors import Actor
from engine.store.models import Target, TransitionRecord
from tests import factories as f
from tests.api.conftest import token
from tests.engine.lifecycle import drive

PROBLEM = "application/problem+json"
MATH_SECTION = r"$\undefinedmacro{x}$"


def _post(api, target_id: int, trigger: str, payload=None, comment: str = "", raw: bytes | None = None):
    headers = token(api, "洪玮玮")
    etag = api.get(f"/api/v1/targets/{target_id}", headers=headers).headers["ETag"]
    headers = {**headers, "If-Match": etag}
    if raw is not None:
        return api.post(f"/api/v1/targets/{target_id}/transitions", content=raw,
                        headers={**headers, "Content-Type": "application/json"})
    return api.post(f"/api/v1/targets/{target_id}/transitions", headers=headers,
                    json={"trigger": trigger, "payload": payload or {}, "comment": comment})


def _refused(response, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


def test_a_lone_surrogate_in_a_note_is_refused(api, two_targets):
    mine = two_targets[0]
    assert _post(api, mine, "start").status_code == 200
    body = b'{"trigger": "report_progress", "payload": {"note": "\\ud800", "percent": 10}}'
    _refused(_post(api, mine, "", raw=body))
    _refused(_post(api, mine, "", raw=b'{"trigger": "report_progress", "payload": {"\\ud800": 1}}'))
    _refused(_post(api, mine, "", raw=b'{"trigger": "report_progress", "comment": "\\udfff"}'))
    assert _post(api, mine, "report_progress", {"note": "正常 😀", "percent": 10}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/audit/export", "/audit"])
def test_until_at_the_end_of_the_calendar(api, two_targets, path):
    _post(api, two_targets[0], "start")
    params = {"until": "9999-12-31T23:59:59-14:00", "since": "0001-01-01T00:00:00+14:00"}
    if path == "/audit":  # the page: a logged-in office cookie
        response = _page(api, path, params)
    else:
        response = api.get(path, params=params, headers=token(api, "绩效办"))
    assert response.status_code == 200, response.text
    if path == "/api/v1/audit":  # every record lies before the end of time: the bounds leave none out
        assert response.json()["count"] == api.get("/api/v1/audit", headers=token(api, "绩效办")).json()["count"] > 1


def _page(api, path, params):
    from itsdangerous import URLSafeTimedSerializer

    from api.deps import key_of
    from engine.store.models import User

    with Session(api.app.state.engine) as session:
        uid = session.exec(select(User.id).where(User.login == "绩效办")).one()
        key = key_of(type("R", (), {"app": api.app})(), session)
    cookie = URLSafeTimedSerializer(key, salt="kaoping-web-session").dumps({"uid": uid, "sid": "s"})
    return api.get(path, params=params, cookies={"kaoping_session": cookie})


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_inside_an_evidence_list_is_refused(api, two_targets, bad):
    mine = two_targets[0]
    _post(api, mine, "start")
    body = ('{"trigger": "report_progress", "payload": {"note": "x", "percent": 10, "evidence": [1, %s]}}' % bad).encode()
    problem = _refused(_post(api, mine, "", raw=body))
    assert problem["errors"][0]["field"] == "evidence"


def test_a_score_is_kept_to_two_decimals_the_same_in_column_and_record(api, engine_db, two_targets):
    mine = two_targets[0]
    _post(api, mine, "start")
    problem = _refused(_post(api, mine, "self_assess", {"self_score": 0.005, "summary": "完成"}))
    assert "2 位小数" in problem["errors"][0]["reason"]
    _refused(_post(api, mine, "self_assess", {"self_score": 1e300, "summary": "完成"}))
    assert _post(api, mine, "self_assess", {"self_score": 0.01, "summary": "完成"}).status_code == 200
    with Session(engine_db) as session:
        target = session.get(Target, mine)
        record = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "self_assess")).one()
        assert str(target.self_score) == "0.01" and record.payload["self_score"] == 0.01


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_a_section_name_in_mathtext_is_shown_as_text(api, engine_db, fmt):
    staff = Actor("洪玮玮", frozenset({"staff"}), frozenset({MATH_SECTION}))
    with Session(engine_db, expire_on_commit=False) as session:
        target = f.target(session, sections=(MATH_SECTION,), leaders=("林长华",))
        drive(session, target.id, "scored", staff=staff, leaders=[Actor("林长华", frozenset({"leader"}))],
              office=Actor("绩效办", frozenset({"office"})))
    response = api.get(f"/api/v1/plans/{target.plan_id}/report", params={"format": fmt}, headers=token(api, "绩效办"))
    assert response.status_code == 200, response.text[:500]
    if fmt == "html":
        assert "undefinedmacro" in response.text
