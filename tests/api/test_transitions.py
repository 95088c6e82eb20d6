"""Every role × every trigger of target.yaml × in-scope / out-of-scope target, over HTTP."""
from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.people.actors import Actor
from tests.api.conftest import token
from tests.engine.lifecycle import PAYLOADS, drive

SOURCES = [("start", "assigned"), ("report_progress", "in_progress"), ("self_assess", "in_progress"),
           ("sign", "self_assessed"), ("return", "self_assessed"), ("verify", "leader_signed"),
           ("send_back", "leader_signed"), ("send_back", "verified"), ("score", "verified"), ("reopen", "scored")]
ROLE_USER = {"staff": "洪玮玮", "leader": "林长华", "office": "绩效办", "auditor": "审计员", "admin": "管理员"}
WHO_FIRES = {"start": "staff", "report_progress": "staff", "self_assess": "staff", "sign": "leader", "return": "leader",
             "verify": "office", "send_back": "office", "score": "office", "reopen": "office"}


def expected(trigger: str, role: str, in_scope: bool) -> int:
    """Written out: the role that fires a trigger may, on its own targets; the office on all; no one else."""
    if role != WHO_FIRES[trigger]:
        return 403
    if role == "office":
        return 200
    return 200 if in_scope else 403


CASES = [(t, s, role, scope) for t, s in SOURCES for role in ROLE_USER for scope in (True, False)]


@pytest.mark.parametrize(("trigger", "source", "role", "in_scope"), CASES)
def test_matrix(api, engine_db, two_targets, trigger, source, role, in_scope):
    target_id = two_targets[0] if in_scope else two_targets[1]
    staff = Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"})) if in_scope else \
        Actor("陈华森", frozenset({"staff"}), frozenset({"思政科"}))
    leader = Actor("林长华" if in_scope else "李自坚", frozenset({"leader"}))
    with Session(engine_db, expire_on_commit=False) as session:
        drive(session, target_id, source, staff=staff, leaders=[leader], office=Actor("绩效办", frozenset({"office"})))
    headers = token(api, ROLE_USER[role])
    got = api.get(f"/api/v1/targets/{target_id}", headers=headers)
    assert got.status_code == 200
    offered = [a["trigger"] for a in got.json()["available_triggers"]]
    payload, comment = PAYLOADS[trigger]
    response = api.post(f"/api/v1/targets/{target_id}/transitions", headers={**headers, "If-Match": got.headers["ETag"]},
                        json={"trigger": trigger, "payload": payload, "comment": comment})
    status = expected(trigger, role, in_scope)
    assert response.status_code == status, response.text
    assert (trigger in offered) == (status == 200)  # what the target offers is exactly what may be fired
    if status == 200:
        body = response.json()
        assert body["version"] == got.json()["version"] + 1
        assert response.headers["ETag"] == f'"{body["version"]}"'
    else:
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["status"] == 403 and problem["code"] in ("role_forbidden", "out_of_scope")
