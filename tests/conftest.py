"""Shared fixtures: a real database (SQLite file and PostgreSQL), a frozen clock, factories.

Database tests take the ``engine_db`` fixture and run once per backend. PostgreSQL is the
server at ``KAOPING_TEST_PG_URL`` (default: the local one, database ``test``); the suite
creates its own database ``kaoping_test`` (``KAOPING_TEST_PG_DB``) next to it. Where the server cannot be reached the
PostgreSQL variants are skipped with the reason — except under CI (``CI=true``), where
that is a failure.
"""
from __future__ import annotations

import os
import shutil
from datetime import datetime

import pytest
from hypothesis import HealthCheck, settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from engine.calendar import clock
from engine.store import schema
from engine.store.db import make_engine
import engine.store.models  # noqa: F401,E402  (registers every table on the metadata)

# Property tests must not depend on the machine's speed: no deadline per example, no "too slow" check.
hypothesis_settings.register_profile("kaoping", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("kaoping")

PG_ADMIN_URL = os.environ.get("KAOPING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: With several test processes (pytest-xdist) each has its own databases: kaoping_test_gw0, kaoping_test_gw1 …
PG_TEST_DB = os.environ.get("KAOPING_TEST_PG_DB", "kaoping_test") + (
    f"_{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else "")
#: Every table of the schema, emptied between PostgreSQL tests (new tables join by construction).
TABLES = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]


def pg_url(database: str = PG_TEST_DB) -> str:
    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> str:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    schema.upgrade(f"sqlite:///{path}")
    return str(path)


def _fresh_pg_database(database: str) -> str:
    """Drop and create ``database`` on the test server; skip (fail under CI) when it cannot be reached."""
    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {database}"))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and could not be reached at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    return pg_url(database)


@pytest.fixture(scope="session")
def _pg_database() -> str:
    """A fresh, migrated PostgreSQL database for this test session."""
    url = _fresh_pg_database(PG_TEST_DB)
    schema.upgrade(url)
    return url


def _reset_pg(url: str) -> None:
    bind = make_engine(url)
    with bind.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in TABLES) + " RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO chainhead (id, count, last_id, last_hash) VALUES (1, 0, 0, :h)"), {"h": "0" * 64})
    bind.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """The URL of an empty, migrated database: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "kaoping.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("_pg_database")
    _reset_pg(url)
    return url


def blank_database(kind: str, tmp_path, name: str) -> str:
    """The URL of a new database without any schema: a SQLite file, or a PostgreSQL database ``<test db>_<name>``."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    return _fresh_pg_database(f"{PG_TEST_DB}_{name}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request, tmp_path) -> str:
    """An empty database without any schema (for building one at a chosen revision)."""
    return blank_database(request.param, tmp_path, "blank")


@pytest.fixture
def spare_url(db_url, tmp_path) -> str:
    """A second empty database, without schema, of the same kind as ``db_url`` (to restore into)."""
    return blank_database("sqlite" if db_url.startswith("sqlite") else "postgres", tmp_path, "spare")


@pytest.fixture
def engine_db(db_url):
    bind = make_engine(db_url)
    yield bind
    bind.dispose()


@pytest.fixture
def session(engine_db):
    with Session(engine_db, expire_on_commit=False) as s:
        yield s


@pytest.fixture(autouse=True)
def _key_file(tmp_path, monkeypatch):
    """Each test's signing keys and checkpoint file in its own folder, never in the working directory
    (also for the processes a test starts, through the environment)."""
    from engine.store.config import settings

    keys = tmp_path / "keys"
    for name, file in (("secret_key_file", "kaoping.key"), ("audit_key_file", "audit.pem"),
                       ("checkpoint_file", "checkpoints.jsonl")):
        monkeypatch.setattr(settings(), name, str(keys / file))
        monkeypatch.setenv(f"KAOPING_{name.upper()}", str(keys / file))


@pytest.fixture
def frozen():
    """Time stands still at 2024-06-03 09:00 Asia/Shanghai (a Monday) until moved."""
    with clock.frozen(datetime(2024, 6, 3, 9, 0)) as frozen_clock:
        yield frozen_clock


@pytest.fixture(autouse=True)
def _deployments_forgotten():
    """Each test's database has its own deployments: no definition read from another one stays cached."""
    from engine.workflow import deployments

    deployments.forget()
    yield
    deployments.forget()
