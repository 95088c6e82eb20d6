"""Logout voids what was issued before it, even within the same second; oversized chunked bodies get 413."""
from __future__ import annotations

from sqlmodel import Session, select

from engine.people.accounts import end_sessions
from engine.store.models import User
from tests.api.conftest import token


def _end(api, name: str) -> None:
    with Session(api.app.state.engine) as session:
        end_sessions(session=session, user_id=session.exec(select(User.id).where(User.login == name)).one())


def test_a_token_issued_just_before_a_logout_is_void(api):
    for _ in range(5):  # each round well inside one second: whole-second stamps would let the old token live
        before = token(api, "洪玮玮")
        _end(api, "洪玮玮")
        assert api.get("/api/v1/me", headers=before).status_code == 401
        after = token(api, "洪玮玮")
        assert api.get("/api/v1/me", headers=after).status_code == 200


def test_a_chunked_body_over_the_limit_gets_413(api):
    def chunks():
        for _ in range(12):
            yield b"x" * 1_048_576

    for path in ("/api/v1/auth/token", "/api/v1/plans/import", "/login"):
        response = api.post(path, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert "content-length" not in {k.lower() for k in response.request.headers}
        assert response.status_code == 413, (path, response.status_code, response.text[:200])
