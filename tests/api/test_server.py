"""A real ``kaoping serve`` process (two workers) and 16 concurrent HTTP clients signing and verifying."""
from __future__ import annotations

import threading

import httpx
import pytest
from sqlmodel import Session

from engine.plans import staffing
from engine.people.actors import Actor
from tests import factories as f
from tests.api.serving import serving
from tests.engine.lifecycle import drive

CLIENTS = 16
PASSWORD = "server-test-1"


@pytest.fixture
def server(db_url, tmp_path):
    # No scheduler (serving() turns it off): its sweep would escalate these overdue targets mid-race.
    with serving({"KAOPING_DATABASE_URL": db_url, "KAOPING_SECRET_KEY": "server-test-secret"},
                 tmp_path / "server.log", workers=2) as base:
        yield base


def _login(base: str, name: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _race(base: str, jobs: list[tuple[int, str, dict[str, str], str]]) -> list[tuple[int, int]]:
    """Post each (target, trigger, headers, etag) from its own client at the same moment."""
    barrier, results, lock = threading.Barrier(len(jobs)), [], threading.Lock()

    def run(target_id, trigger, headers, etag):
        with httpx.Client(base_url=base, timeout=60) as client:
            barrier.wait()
            response = client.post(f"/api/v1/targets/{target_id}/transitions", headers={**headers, "If-Match": etag},
                                   json={"trigger": trigger})
            with lock:
                results.append((target_id, response.status_code))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_sixteen_clients_sign_and_verify(server, engine_db):
    leaders = [Actor("林长华", frozenset({"leader"})), Actor("李自坚", frozenset({"leader"}))]
    with Session(engine_db, expire_on_commit=False) as session:
        for name, roles in (("林长华", ["leader"]), ("李自坚", ["leader"]), ("绩效办", ["office"])):
            staffing.register(session=session, by=Actor.system(), name=name, roles=roles, password=PASSWORD)
        ids = [f.target(session, leaders=("林长华", "李自坚")).id for _ in range(4)]
        for target_id in ids:
            drive(session, target_id, "self_assessed", staff=f.STAFF, leaders=leaders, office=f.OFFICE)
    lin, li, office = _login(server, "林长华"), _login(server, "李自坚"), _login(server, "绩效办")

    def etag(target_id):
        return httpx.get(f"{server}/api/v1/targets/{target_id}", headers=office).headers["ETag"]

    before = httpx.get(f"{server}/api/v1/audit/verify", headers=office).json()["count"]
    # Round 1: both leaders sign and the office tries to verify, all at the version they saw. Two
    # countersignatures are no conflict (会签): both land, whichever is first; the verifies are refused
    # (stale, or not yet leader-signed).
    jobs = []
    for target_id in ids:
        tag = etag(target_id)
        jobs += [(target_id, "sign", lin, tag), (target_id, "sign", li, tag),
                 (target_id, "verify", office, tag), (target_id, "verify", office, tag)]
    results = _race(server, jobs)
    assert len(results) == CLIENTS and all(status < 500 for _, status in results)
    for target_id in ids:
        statuses = sorted(s for t, s in results if t == target_id)
        assert statuses == [200, 200, 409, 409], (target_id, statuses)
        body = httpx.get(f"{server}/api/v1/targets/{target_id}", headers=office).json()
        assert body["state"] == "leader_signed" and {s["signer"] for s in body["signatures"]} == {"林长华", "李自坚"}

    # Round 2: four clients per target verify at once: exactly one succeeds.
    jobs = []
    for target_id in ids:
        tag = etag(target_id)
        jobs += [(target_id, "verify", office, tag)] * 3 + [(target_id, "sign", lin, tag)]
    results = _race(server, jobs)
    assert all(status < 500 for _, status in results)
    for target_id in ids:
        assert sorted(s for t, s in results if t == target_id) == [200, 409, 409, 409]
        assert httpx.get(f"{server}/api/v1/targets/{target_id}", headers=office).json()["state"] == "verified"
    check = httpx.get(f"{server}/api/v1/audit/verify", headers=office).json()
    assert check["ok"] and check["count"] == before + 4 * (2 + 1), check  # 2 signatures and a verify per target
