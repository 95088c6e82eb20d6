"""Access tokens: short-lived JWTs (HS256), signed with the installation's key; logging in off the event loop."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import partial

import jwt
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from engine.people import accounts
from engine.store.config import settings
from engine.store.models import User

ALGORITHM = "HS256"


def issue(user_id: int, name: str, key: str) -> tuple[str, int]:
    """A signed token for the user and its lifetime in seconds."""
    lifetime = settings().token_minutes * 60
    now = datetime.now(timezone.utc)  # real time, not the engine's clock: tokens expire in the real world
    # "at": the issue time to the microsecond, so that a logout voids a token issued the same second
    claims = {"sub": str(user_id), "name": name, "iat": now, "at": now.timestamp(),
              "exp": now + timedelta(seconds=lifetime), "typ": "access"}
    return jwt.encode(claims, key, algorithm=ALGORITHM), lifetime


#: Tokens found valid, with their claims and expiry: a caller's next request is neither parsed nor its signature
#: computed again, only its expiry checked. Forgotten all at once when full.
_checked: dict[tuple[str, str], tuple[tuple[int, datetime], int]] = {}
CHECKED_MAX = 4096


def claims_of(token: str, key: str) -> tuple[int, datetime] | None:
    """(user id, issued at) of a valid, unexpired access token; ``None`` for anything else."""
    known = _checked.get((token, key))
    if known is not None:
        return known[0] if known[1] > time.time() else None  # as jwt.decode: valid while exp lies ahead
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access":
        return None
    try:
        found = int(claims["sub"]), datetime.fromtimestamp(float(claims.get("at", claims.get("iat", 0))), timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None
    if len(_checked) >= CHECKED_MAX:
        _checked.clear()
    _checked[(token, key)] = found, int(claims["exp"])
    return found


#: Argon2 runs here, off the event loop, a few at a time: a flood of logins cannot starve other requests.
HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kaoping-hash")
MAX_WAITING = 32
_waiting = 0
_waiting_lock = threading.Lock()


async def log_in(request: Request, session: Session, name: str, password: str) -> User:
    """The user whose name and password these are: the client gate, the check in the bounded pool, the count.

    Raises :class:`LoginFailed` or :class:`LoginThrottled` (also when too many checks are waiting).
    """
    global _waiting
    client = request.client.host if request.client else "unknown"
    attempt = await run_in_threadpool(partial(accounts.admit, session=session, name=name, client=client))
    with _waiting_lock:
        busy = _waiting >= MAX_WAITING
        _waiting += 0 if busy else 1
    if busy:
        raise accounts.LoginThrottled("登录请求过多，请 1 秒后再试", retry_after=1)
    try:
        matched = await asyncio.wrap_future(HASHING.submit(accounts.verify, attempt, password))
    finally:
        with _waiting_lock:
            _waiting -= 1
    return await run_in_threadpool(partial(accounts.settle, session=session, attempt=attempt, matched=matched))
