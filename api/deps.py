"""Dependencies shared by the routers: the database session, the caller, role checks."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import event
from sqlmodel import Session

from api import security
from engine.people.accounts import signing_key, still_valid
from engine.people.actors import Actor, actor_of
from engine.store import db, rows
from engine.store.config import settings
from engine.store.models import Organisation, Section, User, UserSection
from engine.workflow.rules import ROLES
from engine.workflow.writer import GroupWriter

log = logging.getLogger(__name__)
bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
MAX_LIMIT = 200
MAX_ID = 2_147_483_647  # ids and offsets stay within what every database's integer holds

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_writer(request: Request) -> GroupWriter:
    """The application's group writer (see :mod:`engine.workflow.writer`), started with the application."""
    state = request.app.state
    if getattr(state, "writer", None) is None:
        state.writer = GroupWriter(state.engine)
    return state.writer


class Callers:
    """Who a token's user is, kept for ``caller_seconds``: the user's row and their sections, read once.

    Forgotten at once when this process writes a user, a section, a membership or an organisation;
    another process's change of rights counts here after ``caller_seconds`` at most (0: not kept).
    A caller asked for in the last quarter of that time is read again in the background
    (:meth:`due`), so that a busy caller is never found expired and read again by every request
    arriving at that moment.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._known: dict[int, tuple[float, dict, Actor]] = {}
        self._reading: set[int] = set()
        #: Moves on at each forgetting: what was read before it is not kept after it.
        self.generation = 0

    def get(self, user_id: int) -> tuple[dict, Actor] | None:
        with self._lock:
            found = self._known.get(user_id)
        if found is None or found[0] < self.clock():
            return None
        return found[1], found[2]

    def due(self, user_id: int) -> bool:
        """Whether the kept caller is in the last quarter of their time with nobody reading them again yet; if so,
        the caller of this method reads them (:meth:`keep`, then :meth:`read`)."""
        with self._lock:
            found = self._known.get(user_id)
            if found is None or user_id in self._reading or found[0] - self.clock() > settings().caller_seconds / 4:
                return False
            self._reading.add(user_id)
            return True

    def read(self, user_id: int) -> None:
        """The reading :meth:`due` gave is over (kept or not)."""
        with self._lock:
            self._reading.discard(user_id)

    def keep(self, user: User, actor: Actor, generation: int) -> None:
        """Keep what was read since ``generation`` (:attr:`generation` when the reading began)."""
        seconds = settings().caller_seconds
        if seconds > 0:
            values = {column.key: getattr(user, column.key) for column in User.__table__.columns}
            with self._lock:
                if generation == self.generation:
                    self._known[user.id] = (self.clock() + seconds, values, actor)

    def forget(self) -> None:
        with self._lock:
            self.generation += 1
            self._known.clear()


callers = Callers()
_RIGHTS = (User, UserSection, Section, Organisation)
_RIGHTS_TABLES = {cls.__table__.name for cls in _RIGHTS}


@event.listens_for(Session, "after_flush")
def _rights_flushed(session, _context) -> None:
    if any(isinstance(obj, _RIGHTS) for obj in (*session.new, *session.dirty, *session.deleted)):
        _rights_changed(session)


@event.listens_for(Session, "do_orm_execute")
def _rights_written(state) -> None:
    table = getattr(state.statement, "table", None)  # an INSERT, UPDATE or DELETE statement's table
    if (state.is_insert or state.is_update or state.is_delete) and getattr(table, "name", None) in _RIGHTS_TABLES:
        _rights_changed(state.session)


def _rights_changed(session) -> None:
    # Forgotten now, and again once committed: a request that read the old row meanwhile keeps nothing.
    callers.forget()
    session.info["kaoping_rights_changed"] = True


@event.listens_for(Session, "after_commit")
def _rights_committed(session) -> None:
    if session.info.pop("kaoping_rights_changed", False):
        callers.forget()


def key_of(request: Request, session: Session) -> str:
    """The token signing key, read once per process."""
    state = request.app.state
    if getattr(state, "signing_key", None) is None:
        state.signing_key = signing_key(session)
    return state.signing_key


def warm(state) -> None:
    """Read the token signing key into the application's ``state`` before the first request, so that the
    first requests check their tokens on the event loop (:func:`kept_actor`) rather than each in a thread
    (on a new installation this makes the key, as the first request would)."""
    with db.session_scope(state.engine) as session:
        state.signing_key = signing_key(session)


def _unauthorised() -> HTTPException:
    return HTTPException(401, "请先登录（Authorization: Bearer <token>）", headers={"WWW-Authenticate": "Bearer"})


def _check(user: User | None, claims: tuple[int, datetime]) -> None:
    """Refuse a token whose user is gone, inactive, or logged out since it was issued."""
    if user is None or not user.active or not still_valid(user, claims[1]):
        raise _unauthorised()


def current_user(request: Request, session: SessionDep, token: Annotated[str | None, Depends(bearer)]) -> User:
    if not token:
        raise _unauthorised()
    claims = security.claims_of(token, key_of(request, session))
    if claims is None:
        raise _unauthorised()
    request.state.generation = callers.generation
    known = callers.get(claims[0])
    if known is not None:  # the session's own copy of the row, as if just read
        user = session.merge(rows.detached(User, dict(known[0])), load=False)
        request.state.actor = known[1]
    else:
        user = session.get(User, claims[0])
    _check(user, claims)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def current_actor(request: Request, session: SessionDep, user: CurrentUser) -> Actor:
    actor = getattr(request.state, "actor", None)
    if actor is None or actor.user_id != user.id:
        actor = actor_of(session, user)
        callers.keep(user, actor, request.state.generation)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def kept_actor(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Actor:
    """The caller, as :func:`current_actor` finds them, for an ``async`` route: when the signing key is known and
    the caller kept (:class:`Callers`), on the event loop without a thread, a session or a statement; else read
    by :func:`current_actor` in a worker thread."""
    key = getattr(request.app.state, "signing_key", None)
    if token and key is not None:
        claims = security.claims_of(token, key)
        if claims is None:
            raise _unauthorised()
        known = callers.get(claims[0])
        if known is None and settings().caller_seconds > 0:
            known = await _read_once(request, claims[0])
        if known is not None:
            _check(rows.detached(User, dict(known[0])), claims)
            if callers.due(claims[0]):
                _read_again_soon(request.app.state.engine, claims[0])
            return known[1]
    return await run_in_threadpool(_read_actor, request, token)


async def _read_once(request: Request, user_id: int) -> tuple[dict, Actor] | None:
    """The caller ``user_id`` read and kept by one reading for every request that asks for them while it runs
    (a burst of a user's requests finding them not kept would each read them: a connection each); ``None`` when
    not kept after it (the user is gone, rights changed meanwhile, the reading failed): the request reads them itself."""
    state = request.app.state
    readings = getattr(state, "caller_readings", None)
    if readings is None:
        readings = state.caller_readings = {}
    key = (id(asyncio.get_running_loop()), user_id)  # a reading is awaited on the loop it runs on only
    reading = readings.get(key)
    if reading is None:
        reading = readings[key] = asyncio.ensure_future(
            run_in_threadpool(_read_caller, state.engine, user_id, callers.generation))
        reading.add_done_callback(lambda _done: readings.pop(key, None))
    await asyncio.shield(reading)  # _read_caller logs its own failure; a cancelled request leaves it running
    return callers.get(user_id)


_background: set[asyncio.Task] = set()  # the readings under way behind requests (a task is kept until it ends)


def _read_again_soon(engine, user_id: int) -> None:
    """Read a kept caller again in a worker thread, without holding up the request that found them due."""
    task = asyncio.get_running_loop().create_task(run_in_threadpool(_read_again, engine, user_id, callers.generation))
    _background.add(task)
    task.add_done_callback(_background.discard)


def _read_again(engine, user_id: int, generation: int) -> None:
    try:
        _read_caller(engine, user_id, generation)
    finally:
        callers.read(user_id)


def _read_caller(engine, user_id: int, generation: int) -> None:
    """Read the caller ``user_id`` and keep them (read since ``generation``)."""
    try:
        with Session(engine, expire_on_commit=False) as session:
            user = session.get(User, user_id)
            if user is not None:  # else (gone) the kept caller expires and the next request is refused
                callers.keep(user, actor_of(session, user), generation)
            db.end_read(session)
    except Exception:  # noqa: BLE001 - not kept: a request that needs them reads them itself, and is told why
        log.warning("could not read caller %s", user_id, exc_info=True)


def _read_actor(request: Request, token: str | None) -> Actor:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        actor = current_actor(request, session, current_user(request, session, token))
        db.end_read(session)
    return actor


KeptActor = Annotated[Actor, Depends(kept_actor)]


def require(*roles: str):
    """A dependency that lets only callers holding one of ``roles`` through."""
    names = "、".join(ROLES[r] for r in roles)

    def check(user: CurrentUser) -> User:
        if not set(roles) & set(user.roles):
            raise HTTPException(403, f"只有{names}可以访问")
        return user

    return Depends(check)
