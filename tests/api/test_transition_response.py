"""A transition's response is the target as a fresh read shows it right after, though it is built from
what the fire read and wrote: signatures (会签 by two leaders, voided by a return), indicators, roll-up."""
from __future__ import annotations

import pytest
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool as starlette_threadpool

from api.routers import targets as routers_targets
from engine.store.models import Indicator, Target
from tests import factories as f
from tests.api.conftest import token
from tests.engine.lifecycle import PAYLOADS

WHO = {"start": "洪玮玮", "report_progress": "洪玮玮", "self_assess": "洪玮玮", "return": "林长华", "verify": "绩效办",
       "score": "绩效办", "reopen": "绩效办", "allow_self_assess": "绩效办"}
STEPS = ["start", "report_progress", "self_assess", ("sign", "林长华"), "return", "self_assess", ("sign", "李自坚"),
         ("sign", "林长华"), "verify", "score", "reopen", "score"]


@pytest.fixture
def shaped(engine_db, request):
    """A target led by two leaders: plain, with quantitative indicators and a verified child, or with a child
    still open (the office then lets it be self-assessed first)."""
    with Session(engine_db, expire_on_commit=False) as session:
        target = f.target(session, leaders=("林长华", "李自坚"))
        if request.param != "plain":
            session.add(Indicator(target_id=target.id, position=0, name="新增学位", raw="≥560个"))
            session.add(Indicator(target_id=target.id, position=1, name="培训", raw="≤5次", actual="3次"))
            child = f.target(session, parent_id=target.id, code=f"{target.code}-1", commit=False)
            if request.param == "verified child":
                session.get(Target, child.id).state = "verified"
            session.commit()
        return target.id, request.param


@pytest.mark.parametrize("shaped", ["plain", "verified child", "open child"], indirect=True)
def test_the_response_is_what_a_read_shows_after(api, shaped, monkeypatch):
    target_id, kind = shaped
    threaded = []  # the responses built in a worker thread: only those that read the database
    monkeypatch.setattr(routers_targets, "run_in_threadpool",
                        lambda func, *args: threaded.append(func) or starlette_threadpool(func, *args))
    # with a child still open, the office lets each stay be self-assessed first
    steps = [s for step in STEPS for s in ((["allow_self_assess"] if kind == "open child" and step == "self_assess"
                                            else []) + [step])]
    version = api.get(f"/api/v1/targets/{target_id}", headers=token(api, "洪玮玮")).json()["version"]
    seen_signatures = set()
    for step in steps:
        trigger, name = step if isinstance(step, tuple) else (step, WHO[step])
        headers = token(api, name)
        payload, comment = PAYLOADS[trigger]
        response = api.post(f"/api/v1/targets/{target_id}/transitions", headers={**headers, "If-Match": f'"{version}"'},
                            json={"trigger": trigger, "payload": payload, "comment": comment})
        assert response.status_code == 200, (trigger, response.text)
        read = api.get(f"/api/v1/targets/{target_id}", headers=headers)
        assert response.json() == read.json(), trigger
        assert response.headers["ETag"] == read.headers["ETag"]
        body = response.json()
        version = body["version"]
        seen_signatures.add(len(body["signatures"]))
        assert (body["rollup"] is None) == (kind == "plain")
        assert len(body["indicators"]) == (0 if kind == "plain" else 2)
    assert body["state"] == "scored"
    assert seen_signatures == {0, 1, 2}  # signed by one, by both, voided by the return
    # a plain target's response is built on the event loop from what the fire read; indicators and a roll-up are read
    assert len(threaded) == (0 if kind == "plain" else len(steps))
