"""Access tokens: a token found valid once is known again without its signature being computed, and is still
refused once it expires; a changed, foreign or non-access token is refused however often its genuine twin came."""
from __future__ import annotations

import types
from datetime import datetime, timedelta, timezone

import jwt

from api import security

KEY = "a-test-key-that-is-long-enough-for-hs256"


def _token(**claims) -> str:
    now = datetime.now(timezone.utc)
    return jwt.encode({"sub": "7", "iat": now, "at": now.timestamp(), "exp": now + timedelta(minutes=5), "typ": "access",
                       **claims}, KEY, algorithm=security.ALGORITHM)


def test_a_checked_token_is_known_again_until_it_expires(monkeypatch):
    token = _token()
    first = security.claims_of(token, KEY)
    assert first is not None and first[0] == 7
    monkeypatch.setattr(jwt, "decode", lambda *_a, **_k: (_ for _ in ()).throw(AssertionError("decoded again")))
    assert security.claims_of(token, KEY) == first
    exp = security._checked[(token, KEY)][1]
    monkeypatch.setattr(security, "time", types.SimpleNamespace(time=lambda: exp))  # the second it expires
    assert security.claims_of(token, KEY) is None


def test_changed_foreign_and_other_tokens_are_refused_beside_a_checked_one():
    token = _token()
    assert security.claims_of(token, KEY) is not None
    head, body, signature = token.split(".")
    changed = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert security.claims_of(f"{head}.{body}.{changed}", KEY) is None  # its signature changed
    assert security.claims_of(token, KEY + "-other") is None  # checked with another key
    assert security.claims_of(_token(typ="refresh"), KEY) is None
    assert security.claims_of(_token(exp=datetime.now(timezone.utc) - timedelta(seconds=1)), KEY) is None
