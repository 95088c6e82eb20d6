"""The transitions route awaits the group writer on the event loop: a caller the process keeps is known
without a statement before the writer takes the fire, and is still refused as any route refuses them."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from engine.people.accounts import end_sessions
from engine.store.config import settings
from engine.store.models import User
from tests.api.conftest import token
from tests.engine.lifecycle import PAYLOADS


@pytest.fixture
def kept_long(monkeypatch):
    """Callers kept for an hour, so that what the test reads as kept stays kept however slow the machine."""
    monkeypatch.setenv("KAOPING_CALLER_SECONDS", "3600")
    settings.cache_clear()
    yield
    settings.cache_clear()


def _start(api, target_id: int, headers: dict[str, str]):
    return api.post(f"/api/v1/targets/{target_id}/transitions", headers={**headers, "If-Match": '"1"'},
                    json={"trigger": "start", "payload": {}})


def _before_the_writer(api, engine_db, request):
    """The statements sent from ``request`` (made in a thread of its own) until the writer has its fire, and its
    answer once the writer let it through."""
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine_db, "before_cursor_execute", seen)
    writer, answers = api.app.state.writer, []
    try:
        with writer.held():
            thread = threading.Thread(target=lambda: answers.append(request()))
            thread.start()
            assert writer.wait_queued(1), "the transition never reached the writer"
            before_writer = list(statements)
        thread.join(timeout=60)
    finally:
        event.remove(engine_db, "before_cursor_execute", seen)
    return before_writer, answers[0]


def test_a_kept_caller_is_handed_to_the_writer_before_any_statement(api, engine_db, two_targets, kept_long):
    mine, _ = two_targets
    staff = token(api, "洪玮玮")
    assert api.get(f"/api/v1/targets/{mine}", headers=staff).status_code == 200  # the caller is now kept
    before_writer, answer = _before_the_writer(api, engine_db, lambda: _start(api, mine, staff))
    assert before_writer == []
    assert answer.status_code == 200 and answer.json()["state"] == "in_progress"
    assert answer.headers["ETag"] == '"2"'


def test_a_token_voided_by_a_logout_is_refused_though_the_caller_is_kept(api, two_targets, kept_long):
    mine, _ = two_targets
    before = token(api, "洪玮玮")
    with Session(api.app.state.engine) as session:
        end_sessions(session=session, user_id=session.exec(select(User.id).where(User.login == "洪玮玮")).one())
    after = token(api, "洪玮玮")
    assert api.get(f"/api/v1/targets/{mine}", headers=after).status_code == 200  # kept: the row after the logout
    refused = _start(api, mine, before)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert _start(api, mine, after).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}], ids=["no token", "bad token"])
def test_a_transition_without_a_valid_token_is_refused_whether_or_not_callers_are_kept(api, two_targets, headers):
    mine, _ = two_targets
    assert _start(api, mine, headers).status_code == 401  # the signing key not read yet: the reading path
    assert api.get(f"/api/v1/targets/{mine}", headers=token(api, "洪玮玮")).status_code == 200  # key and caller known
    assert _start(api, mine, headers).status_code == 401  # the kept path


def test_a_caller_due_to_expire_is_read_again_in_the_background_and_stays_kept(
        api, engine_db, two_targets, kept_long, monkeypatch):
    """Asked for in the last quarter of their time, a kept caller is read again behind the request; after the
    first time ends, the caller is still known without a statement."""
    from api import deps

    mine, _ = two_targets
    now = [1_000.0]
    monkeypatch.setattr(deps.callers, "clock", lambda: now[0])
    staff = token(api, "洪玮玮")
    assert api.get(f"/api/v1/targets/{mine}", headers=staff).status_code == 200  # kept until 1,000 + 3,600 s
    user_id = next(iter(deps.callers._known))
    first_end = deps.callers._known[user_id][0]
    now[0] += 3_600 * 0.8  # in its last quarter
    assert _start(api, mine, staff).status_code == 200  # answered from what is kept; the reading goes on behind it
    done = threading.Event()

    def read_again() -> None:
        while deps.callers._known.get(user_id, (0,))[0] <= first_end or user_id in deps.callers._reading:
            threading.Event().wait(0.01)
        done.set()

    threading.Thread(target=read_again, daemon=True).start()
    assert done.wait(60), "the caller was never read again"
    now[0] = first_end + 1  # the first time is over: the caller read in the background is the one kept
    body = {"trigger": "report_progress", "payload": PAYLOADS["report_progress"][0]}
    before_writer, answer = _before_the_writer(api, engine_db, lambda: api.post(
        f"/api/v1/targets/{mine}/transitions", headers={**staff, "If-Match": '"2"'}, json=body))
    assert before_writer == []
    assert answer.status_code == 200, answer.text


def _kept_actor_at_once(api, headers: dict[str, str], times: int, gate: threading.Event | None = None):
    """``kept_actor`` asked ``times`` at once, on one event loop, as a burst of one user's requests asks; ``gate``
    (if given) is opened once every one of them has begun and is waiting."""
    import asyncio

    from starlette.requests import Request

    from api import deps

    request = Request({"type": "http", "app": api.app, "headers": []})
    raw = headers["Authorization"].removeprefix("Bearer ")

    async def burst():
        asked = [asyncio.ensure_future(deps.kept_actor(request, raw)) for _ in range(times)]
        await asyncio.sleep(0)  # each has run up to its first wait
        if gate is not None:
            gate.set()
        return await asyncio.gather(*asked, return_exceptions=True)

    found: list = []  # on a loop of its own, in a thread of its own (the test's thread may be running one)
    thread = threading.Thread(target=lambda: found.extend(asyncio.run(burst())))
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the burst did not end"
    return found


def test_a_burst_of_one_callers_requests_reads_them_once(api, two_targets, kept_long, monkeypatch):
    from api import deps

    staff = token(api, "洪玮玮")
    assert api.get("/api/v1/targets", headers=staff).status_code == 200  # the signing key known
    deps.callers.forget()  # and the caller no longer kept
    reads, gate = [], threading.Event()
    real = deps.actor_of

    def reading(session, user):  # held until all sixteen asked: none can find the caller kept by another
        assert gate.wait(timeout=60)
        reads.append(user.name)
        return real(session, user)

    monkeypatch.setattr(deps, "actor_of", reading)
    found = _kept_actor_at_once(api, staff, 16, gate)
    assert reads == ["洪玮玮"]  # one reading for the sixteen
    assert [a.name for a in found] == ["洪玮玮"] * 16


def test_a_burst_whose_reading_fails_reads_the_caller_per_request(api, two_targets, kept_long, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    from api import deps

    staff = token(api, "洪玮玮")
    assert api.get("/api/v1/targets", headers=staff).status_code == 200
    deps.callers.forget()
    reads = []
    real = deps.actor_of

    def failing_once(session, user):
        reads.append(user.name)
        if len(reads) == 1:
            raise OperationalError("SELECT", {}, ConnectionResetError("server closed the connection"))
        return real(session, user)

    monkeypatch.setattr(deps, "actor_of", failing_once)
    found = _kept_actor_at_once(api, staff, 4)
    assert [a.name for a in found] == ["洪玮玮"] * 4  # each read them again, as without the shared reading
    assert len(reads) >= 2 and any("could not read caller" in r.getMessage() for r in caplog.records)


def test_a_burst_of_a_user_gone_inactive_is_refused_every_time(api, engine_db, two_targets, kept_long):
    from fastapi import HTTPException

    from api import deps

    staff = token(api, "洪玮玮")
    assert api.get("/api/v1/targets", headers=staff).status_code == 200
    with Session(engine_db) as session:
        user = session.exec(select(User).where(User.login == "洪玮玮")).one()
        user.active = False
        session.commit()
    deps.callers.forget()
    found = _kept_actor_at_once(api, staff, 4)
    assert all(isinstance(e, HTTPException) and e.status_code == 401 for e in found)


def test_a_reading_begun_on_one_event_loop_is_not_awaited_on_another(api, two_targets, kept_long, monkeypatch):
    """Two loops serving one application (a test's clients, say): a request on the second reads the caller
    itself rather than awaiting the first loop's reading."""
    import asyncio

    from starlette.requests import Request

    from api import deps

    staff = token(api, "洪玮玮")
    assert api.get("/api/v1/targets", headers=staff).status_code == 200
    deps.callers.forget()
    raw = staff["Authorization"].removeprefix("Bearer ")
    request = Request({"type": "http", "app": api.app, "headers": []})
    gate, started, results, real = threading.Event(), threading.Event(), {}, deps.actor_of

    def held(session, user):  # the first loop's reading waits until the second loop has its answer
        started.set()
        assert gate.wait(timeout=60)
        return real(session, user)

    monkeypatch.setattr(deps, "actor_of", held)
    first = threading.Thread(target=lambda: results.update(first=asyncio.run(deps.kept_actor(request, raw))))
    first.start()
    assert started.wait(timeout=60)
    monkeypatch.setattr(deps, "actor_of", real)

    async def on_another_loop():
        try:
            return await deps.kept_actor(request, raw)
        finally:
            gate.set()

    second = threading.Thread(target=lambda: results.update(second=asyncio.run(on_another_loop())))
    second.start()
    second.join(timeout=60)
    first.join(timeout=60)
    assert results["first"].name == results["second"].name == "洪玮玮"
