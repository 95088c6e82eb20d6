"""Logging in: passwords, slowing down repeated failures, and the installation's signing key."""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store import db
from engine.store.config import settings
from engine.store.errors import DomainError
from engine.store.models import LoginThrottle, Setting, User
from engine.people import names
from engine.people.users import check_password, hash_password

FREE_FAILURES = 3          # wrong passwords for one name before its wrong guesses are answered 429
MAX_WAIT_SECONDS = 300
CLIENT_FREE_FAILURES = 10  # failed logins one client may make (any names) before it must wait
CLIENT_MAX_WAIT_SECONDS = 900
FORGET_AFTER = timedelta(minutes=15)  # a client's failures are forgotten this long after its last one
_DUMMY_HASH = hash_password("不存在的用户")  # compared against for unknown names, so timing tells nothing
FAILED = "用户名或密码错误"


class LoginFailed(DomainError):
    code = "login_failed"


class LoginThrottled(DomainError):
    """Too many failed logins from this client, or for this name: ``retry_after`` seconds to wait."""

    code = "login_throttled"


@dataclass(frozen=True)
class Attempt:
    """A login let through the client gate: whom it names, the hash to check, whether the name is locked."""

    name: str
    client: str
    user_id: int | None
    password_hash: str
    name_wait: int  # seconds the name is still locked for (0: not locked)


def _wait(failures: int, free: int, longest: int) -> int:
    return min(longest, 2 ** (failures - free)) if failures >= free else 0


def _row(session: Session, key: str) -> LoginThrottle:
    """The throttle row of ``key``, created if need be and locked (inside a write transaction)."""
    insert = sqlite_insert if db.is_sqlite(session) else pg_insert
    session.execute(insert(LoginThrottle).values(key=key, failures=0).on_conflict_do_nothing(index_elements=["key"]))
    return session.exec(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
                        .execution_options(populate_existing=True)).one()


def _seconds_left(row: LoginThrottle, now: datetime) -> int:
    if row.locked_until is None or clock.local(row.locked_until) <= now:
        return 0
    return int((clock.local(row.locked_until) - now).total_seconds()) + 1


def admit(*, session: Session, name: str, client: str) -> Attempt:
    """Check and count one login attempt from ``client`` in one transaction; commits.

    A client over its budget is refused (:class:`LoginThrottled`) before any password is
    checked. Otherwise the attempt is counted as a failure up front (a success gives it back),
    so parallel guesses cannot all slip through between a check and a count.
    """
    name = names.clean(name.replace("\x00", ""))[:100]  # as names are kept
    now = clock.now()
    db.begin_write(session)
    gate = _row(session, f"client:{client}"[:200])
    if gate.last_at is not None and clock.local(gate.last_at) < now - FORGET_AFTER:
        gate.failures, gate.locked_until = 0, None
    wait = _seconds_left(gate, now)
    if wait:
        session.commit()
        raise LoginThrottled(f"登录失败次数过多，请 {wait} 秒后再试", retry_after=wait)
    gate.failures += 1
    gate.last_at = clock.to_db(now)
    if gate.failures >= CLIENT_FREE_FAILURES:  # the budget spent: the next attempt waits 1, 2, 4 … seconds
        gate.locked_until = clock.to_db(now + timedelta(
            seconds=_wait(gate.failures, CLIENT_FREE_FAILURES, CLIENT_MAX_WAIT_SECONDS)))
    session.add(gate)
    lock = session.get(LoginThrottle, f"name:{name}")
    user = session.exec(select(User).where(User.login == name)).first()
    session.commit()
    usable = user is not None and user.active and user.password_hash
    return Attempt(name, client, user.id if usable else None, user.password_hash if usable else _DUMMY_HASH,
                   _seconds_left(lock, now) if lock is not None else 0)


def verify(attempt: Attempt, password: str) -> bool:
    """Whether ``password`` matches (Argon2: slow on purpose; no database). Unknown names cost the same."""
    matches = check_password(User(name="", login="", roles=[], password_hash=attempt.password_hash), password)
    return matches and attempt.user_id is not None


def settle(*, session: Session, attempt: Attempt, matched: bool) -> User:
    """The user, when the password matched; else :class:`LoginFailed` (or 429 while the name is locked). Commits.

    Known and unknown names are answered alike. The right password gets through a name's lock:
    only the client budget holds a guesser back, so one bad guess per period cannot keep a person out.
    """
    now = clock.now()
    db.begin_write(session)
    gate = _row(session, f"client:{attempt.client}"[:200])
    lock = _row(session, f"name:{attempt.name}")
    if matched:
        gate.failures = max(0, gate.failures - 1)  # not a failure after all
        lock.failures, lock.locked_until = 0, None
        session.add_all([gate, lock])
        session.commit()
        return session.get(User, attempt.user_id)
    lock.failures += 1
    lock.last_at = clock.to_db(now)
    wait = _wait(lock.failures, FREE_FAILURES, MAX_WAIT_SECONDS)
    if wait:
        lock.locked_until = clock.to_db(now + timedelta(seconds=wait))
    session.add(lock)
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_at < clock.to_db(now - timedelta(days=1)))
                    .execution_options(synchronize_session=False))  # forget old names and clients
    session.commit()
    if attempt.name_wait:
        raise LoginThrottled(f"登录失败次数过多，请 {attempt.name_wait} 秒后再试", retry_after=attempt.name_wait)
    raise LoginFailed(FAILED)


def authenticate(*, session: Session, name: str, password: str, client: str = "local") -> User:
    """The active user ``name`` if ``password`` is theirs: :func:`admit`, :func:`verify`, :func:`settle` in a row.

    The password is checked outside any transaction (Argon2 takes a while). The web layer runs
    the same three steps with the check in a bounded pool, off its event loop.
    """
    attempt = admit(session=session, name=name, client=client)
    return settle(session=session, attempt=attempt, matched=verify(attempt, password))


def signing_key(session: Session) -> str:
    """The key that signs tokens and cookies: ``KAOPING_SECRET_KEY``, else the key file (``KAOPING_SECRET_KEY_FILE``).

    The file is created on first use (0600). The database keeps only the key's fingerprint; a key
    an older version kept in the database moves to the file (sessions stay valid) and leaves the
    database. A key file whose fingerprint differs from the recorded one was rotated: recorded anew.
    """
    if settings().secret_key:
        return settings().secret_key
    path = Path(settings().secret_key_file)
    legacy = session.get(Setting, "secret_key")
    if not path.exists():
        write_key_file(path, legacy.value if legacy else secrets.token_urlsafe(48))
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise RuntimeError(f"签名密钥文件 {path} 是空的")
    recorded = session.get(Setting, "secret_key_fingerprint")
    if legacy is not None or recorded is None or recorded.value != fingerprint(key):
        try:
            db.begin_write(session)
            session.execute(delete(Setting).where(Setting.key.in_(["secret_key", "secret_key_fingerprint"])))
            session.add(Setting(key="secret_key_fingerprint", value=fingerprint(key)))
            session.commit()
        except IntegrityError:  # another process recorded it first
            session.rollback()
    return key


def fingerprint(key: str) -> str:
    """What the database keeps of the key: enough to tell keys apart, nothing to sign with."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def write_key_file(path: Path, key: str) -> None:
    """Write ``key`` to ``path`` readable by its owner only (0600), replacing it atomically; another
    process creating the file at the same moment wins."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    with os.fdopen(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        out.write(key + "\n")
    try:
        if path.exists():
            os.replace(fresh, path)  # a rotation: the new key replaces the old one
        else:
            os.link(fresh, path)  # first use: fails if another process was first
    except FileExistsError:
        pass
    finally:
        fresh.unlink(missing_ok=True)


def end_sessions(*, session: Session, user_id: int) -> None:
    """Void every session cookie and token the user holds now (logout, a new password); commits.

    Real time, not the engine's clock: cookies and tokens are stamped in real time.
    """
    db.begin_write(session)
    session.execute(update(User).where(User.id == user_id).values(sessions_since=datetime.now(timezone.utc))
                    .execution_options(synchronize_session=False))
    session.commit()


def still_valid(user: User, issued_at: datetime) -> bool:
    """Whether something issued at ``issued_at`` outlives the user's last logout, to the microsecond.

    A stamp in whole seconds (from before sub-second stamps) that falls in the logout's own second
    counts as earlier: it may have been issued before the logout.
    """
    if user.sessions_since is None:
        return True
    since = user.sessions_since if user.sessions_since.tzinfo else user.sessions_since.replace(tzinfo=timezone.utc)
    return issued_at >= since
