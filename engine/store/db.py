"""Database engines and sessions for SQLite (the default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. Its writes are serialised by the database
itself; a write transaction must take the write lock at BEGIN (``BEGIN IMMEDIATE``), or a
transaction that read first and writes later fails with "database is locked" instead of
waiting when another writer got in between. :func:`begin_write` asks for that.
PostgreSQL uses row locks (``SELECT … FOR UPDATE``) instead.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from engine.store.config import settings
from engine.store.direct import Direct

WRITE = "kaoping_write"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for a plain ``postgresql://`` URL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """An engine for ``url`` (default: ``KAOPING_DATABASE_URL``), set up for this engine's needs."""
    url = normalise_url(url or settings().database_url)
    if url.startswith("sqlite"):
        _private_file(make_url(url).database)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **kwargs)
        _set_up_sqlite(engine)
    else:
        engine = create_engine(url, **{"pool_pre_ping": settings().database_pre_ping, **kwargs})
    return engine


def _private_file(database: str | None) -> None:
    """Create a new SQLite file readable by its owner only (0600); SQLite gives its -wal and -shm files the same mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _set_up_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control from the sqlite3 module, so that BEGIN is ours to write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        _BEGIN[connection.get_execution_options().get(WRITE, False)].count(connection, {})


#: SQLite's BEGIN of a write transaction (which takes the write lock at once) and of a read, run on the driver's
#: cursor (:class:`Direct`: once per transaction, ``exec_driver_sql`` would cost as much as a statement of a fire).
_BEGIN = {True: Direct(text("BEGIN IMMEDIATE")), False: Direct(text("BEGIN"))}


def prepare(connection: Connection) -> None:
    """Compile the BEGIN of SQLite's transactions (a write's too) before a first transaction needs it."""
    if connection.dialect.name == "sqlite":
        for begin in _BEGIN.values():
            begin.prepare(connection)


def is_sqlite(session_or_engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "sqlite"


def begin_write(session: Session) -> Connection:
    """Start the session's transaction as a write transaction.

    A command that changes state calls this first. An open read-only transaction is ended
    first (it holds no changes); pending changes are a programming error, because the
    command commits and would commit them too. Returns the transaction's connection.
    """
    end_read(session)
    return session.connection(execution_options={WRITE: True})


def end_read(session: Session) -> None:
    """End the session's read-only transaction, if one is open, so that what it reads next is read anew.

    Uncommitted changes are a programming error: a read-only transaction has none.
    """
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("a session with uncommitted changes where only reads were expected")
        session.commit()


@contextlib.contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """Open a session, commit once at the end of the block (or roll back on error), close."""
    with Session(engine, expire_on_commit=False) as session:
        if write:
            begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
