"""Logging in: passwords, slowing down repeated failures, and the installation's signing key."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import IntegrityError
from sqlalchemy import update
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store import db
from engine.store.config import settings
from engine.store.errors import DomainError
from engine.store.models import Setting, User
from engine.people.users import check_password, hash_password

FREE_FAILURES = 3          # failures before attempts are slowed down
MAX_WAIT_SECONDS = 300
_DUMMY_HASH = hash_password("不存在的用户")  # compared against for unknown names, so timing tells nothing


class LoginFailed(DomainError):
    code = "login_failed"


class LoginThrottled(DomainError):
    """Too many failed logins for this user: ``retry_after`` seconds to wait."""

    code = "login_throttled"


def authenticate(*, session: Session, name: str, password: str) -> User:
    """The active user ``name`` if ``password`` is theirs.

    The password is checked outside any write transaction (Argon2 takes a while); only a known
    user's failure count is written, with one atomic UPDATE, so parallel guesses all count.
    """
    name = name.replace("\x00", "")
    user = session.exec(select(User).where(User.name == name)).first()
    session.rollback()  # end the read: nothing below holds a lock while Argon2 works
    now = clock.now()
    if user is not None and user.locked_until is not None and clock.local(user.locked_until) > now:
        wait = int((clock.local(user.locked_until) - now).total_seconds()) + 1
        raise LoginThrottled(f"登录失败次数过多，请 {wait} 秒后再试", retry_after=wait)
    if user is None or not user.active:
        check_password(User(name="", roles=[], password_hash=_DUMMY_HASH), password)
        raise LoginFailed("用户名或密码错误")
    if not check_password(user, password):
        _count_failure(session, user.id, now)
        raise LoginFailed("用户名或密码错误")
    if user.failed_logins or user.locked_until:
        db.begin_write(session)
        session.execute(update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None)
                        .execution_options(synchronize_session=False))
        session.commit()
    return user


def _count_failure(session: Session, user_id: int, now) -> None:
    db.begin_write(session)
    failures = session.execute(update(User).where(User.id == user_id).values(failed_logins=User.failed_logins + 1)
                               .returning(User.failed_logins).execution_options(synchronize_session=False)).scalar_one()
    if failures >= FREE_FAILURES:
        wait = min(MAX_WAIT_SECONDS, 2 ** (failures - FREE_FAILURES))
        session.execute(update(User).where(User.id == user_id).values(locked_until=clock.to_db(now + timedelta(seconds=wait)))
                        .execution_options(synchronize_session=False))
    session.commit()


def signing_key(session: Session) -> str:
    """The key that signs tokens: ``KAOPING_SECRET_KEY``, or one generated once and shared via the database."""
    if settings().secret_key:
        return settings().secret_key
    found = session.get(Setting, "secret_key")
    if found is None:
        try:
            db.begin_write(session)
            session.add(Setting(key="secret_key", value=secrets.token_urlsafe(48)))
            session.commit()
        except IntegrityError:  # another process generated it first: use theirs
            session.rollback()
        found = session.get(Setting, "secret_key")
    return found.value


def end_sessions(*, session: Session, user_id: int) -> None:
    """Void every session cookie and token the user holds now (logout, a new password); commits.

    Real time, not the engine's clock: cookies and tokens are stamped in real time.
    """
    db.begin_write(session)
    session.execute(update(User).where(User.id == user_id).values(sessions_since=datetime.now(timezone.utc))
                    .execution_options(synchronize_session=False))
    session.commit()


def still_valid(user: User, issued_at: datetime) -> bool:
    """Whether something issued at ``issued_at`` (whole seconds) outlives the user's last logout."""
    if user.sessions_since is None:
        return True
    since = user.sessions_since if user.sessions_since.tzinfo else user.sessions_since.replace(tzinfo=timezone.utc)
    return issued_at >= since.replace(microsecond=0)
