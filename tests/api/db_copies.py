"""Databases set up once per test process and copied into each test's database.

Some set-ups cost seconds per test: the demo (``engine.plans.demo.set_up``) hashes a password for each of its 37
people (Argon2, slow on purpose) and imports the shipped plan; adding a few people writes their audit records. A
copy is what the set-up on the test's empty database would have written: copies are kept per database kind, set-up
and clock (a frozen clock's moment, or today's date), so that the timestamps and the plan's year are those the test
would have seen. A database that is not empty gets the set-up itself.
"""
from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, func, select

from engine.calendar import clock
from engine.plans.demo import set_up
from engine.store import schema
from engine.store.db import make_engine
from engine.store.models import Plan, Target, TransitionRecord, User
from tests.conftest import PG_ADMIN_URL, PG_TEST_DB, _fresh_pg_database

SetUp = Callable[[Session], object]


def _clock_key() -> object:
    """The moment a frozen clock stands at, or today's date under the real clock."""
    current = clock.use(clock.Clock())
    clock.use(current)
    return current.now() if isinstance(current, clock.FrozenClock) else clock.today()


def _empty(bind: Engine) -> bool:
    with Session(bind) as session:
        return all(session.exec(select(func.count()).select_from(table)).one() == 0
                   for table in (User, Plan, Target, TransitionRecord))


class Copies:
    """Set-up databases by (kind, name, clock), built on first use; :meth:`put` copies one into a test's database."""

    def __init__(self, folder: Path, sqlite_template: str) -> None:
        self.folder, self.sqlite_template = folder, sqlite_template
        self.built: dict[tuple, str] = {}

    def _source(self, kind: str, name: str, build: SetUp) -> str:
        key = (kind, name, _clock_key())
        if key not in self.built:
            label = f"copy{len(self.built)}"
            if kind == "sqlite":
                path = self.folder / f"{label}.db"
                shutil.copy(self.sqlite_template, path)
                url = f"sqlite:///{path}"
            else:
                url = _fresh_pg_database(f"{PG_TEST_DB}_{label}")
                schema.upgrade(url)
            bind = make_engine(url)
            with Session(bind) as session:
                build(session)
            bind.dispose()
            if kind == "sqlite":  # everything in the main file, so that copying the file copies the database
                with sqlite3.connect(path) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.close()
            self.built[key] = url
        return self.built[key]

    def put(self, bind: Engine, name: str, build: SetUp, *, on_postgres: bool = True) -> None:
        """Give the empty, migrated database of ``bind`` what ``build(session)`` writes (``name`` names the set-up).

        On PostgreSQL the copy is a new database from a template, which takes seconds on a busy server: worth it for
        a slow set-up only (``on_postgres=False`` builds there directly)."""
        kind = "sqlite" if bind.dialect.name == "sqlite" else "postgres"
        if (kind == "postgres" and not on_postgres) or not _empty(bind):
            with Session(bind) as session:
                build(session)
            return
        source = self._source(kind, name, build)
        bind.dispose()
        if kind == "sqlite":
            _copy_file(source, Path(bind.url.database))
            return
        database = bind.url.database
        assert database == PG_TEST_DB, f"only the test database is replaced, not {database}"
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {database} TEMPLATE {make_url(source).database}"))
        admin.dispose()

    def sqlite_file(self, path: Path, name: str, build: SetUp) -> str:
        """A SQLite file at ``path`` holding what ``build(session)`` writes; its URL."""
        _copy_file(self._source("sqlite", name, build), path)
        return f"sqlite:///{path}"


def _copy_file(source_url: str, path: Path) -> None:
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.copy(make_url(source_url).database, path)


class DemoCopies:
    """The demo, as ``set_up(session, year=year)`` writes it, copied."""

    def __init__(self, copies: Copies) -> None:
        self.copies = copies

    @staticmethod
    def _set_up(year: int | None) -> tuple[str, SetUp]:
        year = year or clock.today().year
        return f"demo {year}", lambda session: set_up(session, year=year)

    def put(self, bind: Engine, *, year: int | None = None) -> None:
        """Give the empty, migrated database of ``bind`` the demo of ``year`` (this year's by default)."""
        self.copies.put(bind, *self._set_up(year))

    def sqlite_file(self, path: Path, *, year: int | None = None) -> str:
        """A SQLite file at ``path`` holding the demo; its URL."""
        return self.copies.sqlite_file(path, *self._set_up(year))
