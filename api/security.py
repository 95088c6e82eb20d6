"""Access tokens: short-lived JWTs (HS256), signed with the installation's key."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt

from engine.store.config import settings

ALGORITHM = "HS256"


def issue(user_id: int, name: str, key: str) -> tuple[str, int]:
    """A signed token for the user and its lifetime in seconds."""
    lifetime = settings().token_minutes * 60
    now = datetime.now(timezone.utc)  # real time, not the engine's clock: tokens expire in the real world
    claims = {"sub": str(user_id), "name": name, "iat": now, "exp": now + timedelta(seconds=lifetime), "typ": "access"}
    return jwt.encode(claims, key, algorithm=ALGORITHM), lifetime


def claims_of(token: str, key: str) -> tuple[int, datetime] | None:
    """(user id, issued at) of a valid, unexpired access token; ``None`` for anything else."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access":
        return None
    try:
        return int(claims["sub"]), datetime.fromtimestamp(int(claims.get("iat", 0)), timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None
