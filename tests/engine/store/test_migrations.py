"""Upgrading a database that holds data keeps every row, at every revision, on both databases.

The revisions come from the script directory, so a new migration joins these tests by being
written. For each one a fresh database is built at that revision, filled with rows in every
table it has (plans, targets with assignments and signatures, a valid hash chain, escalations,
the outbox, inboxes, evidence …; see :mod:`tests.engine.store.rows`), upgraded to head, and
compared row by row; the audit chain must still verify.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session, SQLModel, select

from engine.audit import chain, replay
from engine.store import schema
from engine.store.config import settings
from engine.store.db import make_engine
from tests.engine.store import rows

SCRIPT = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
REVISIONS = [r.revision for r in reversed(list(SCRIPT.walk_revisions()))]
HEAD = SCRIPT.get_current_head()
#: Tables an upgrade may add rows to: the chain (baseline records) and its head.
GROWING = {"transitionrecord", "chainhead"}
#: From this revision on every change writes what it leaves; before it, the upgrade writes a baseline.
BASELINE = "0013"


def _revision(bind) -> str | None:
    with bind.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


#: The target list's orders, each an index (0014, 0022); expression indexes, which reflection does not show.
ORDER_INDEXES = {"ix_target_due_order", "ix_target_code_order", "ix_target_state_order", "ix_target_weight_order"}


def _target_indexes(bind) -> set[str]:
    query = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'target'"
             if bind.dialect.name == "sqlite" else "SELECT indexname FROM pg_indexes WHERE tablename = 'target'")
    with bind.connect() as connection:
        return set(connection.execute(sa.text(query)).scalars())


def test_every_revision_is_tested():
    assert REVISIONS[0] == "0001" and REVISIONS[-1] == HEAD and len(REVISIONS) == len(set(REVISIONS))


@pytest.mark.parametrize("revision", REVISIONS)
def test_upgrading_a_filled_database_keeps_every_row(blank_url, revision, tmp_path, monkeypatch):
    schema.upgrade(blank_url, revision=revision)
    bind = make_engine(blank_url)
    try:
        with bind.begin() as connection:
            counts = rows.fill(connection)
        with bind.connect() as connection:
            before = rows.snapshot(connection)
        assert {"plan", "target", "assignment", "transitionrecord", "signature", "outboxevent"} <= set(counts)
        with Session(bind) as session:
            assert chain.verify(session) == chain.ChainCheck(count=rows.RECORDS, ok=True)

        schema.upgrade(blank_url)

        assert _revision(bind) == HEAD
        # every order of the target list has its index, whatever copies of the table the upgrade made
        assert ORDER_INDEXES <= _target_indexes(bind), f"after the upgrade from {revision}"
        with bind.connect() as connection:
            after = rows.snapshot(connection, tables=list(before))
        for table, old_rows in before.items():
            assert table in after, f"table {table} is gone after the upgrade from {revision}"
            kept = [{k: row[k] for k in old_rows[0]} for row in after[table]] if old_rows else after[table]
            if table in GROWING:  # an upgrade may append records (a baseline of what was there), never change one
                kept = kept[:len(old_rows)] if table == "transitionrecord" else kept
            if table == "chainhead":
                assert kept[0]["count"] >= old_rows[0]["count"], f"the chain got shorter in the upgrade from {revision}"
                continue
            assert kept == old_rows, f"rows of {table} changed in the upgrade from {revision}"
        with Session(bind) as session:
            check = chain.verify(session)
            assert check.ok and check.count >= rows.RECORDS, check
            if revision < BASELINE:  # the upgrade stated what was there: the whole-state replay agrees
                monkeypatch.setattr(settings(), "files_dir", str(tmp_path / "files"))
                rows.write_evidence(session.connection(), tmp_path / "files")
                state = replay.verify(session=session)
                assert state.ok, state.lines
            for mapper in SQLModel._sa_registry.mappers:  # the engine's models read the upgraded rows
                model = mapper.class_
                if model.__tablename__ in counts:
                    found = len(session.exec(select(model)).all())
                    grew = model.__tablename__ in GROWING and found >= counts[model.__tablename__]
                    assert grew or found == counts[model.__tablename__], model.__name__
    finally:
        bind.dispose()


def test_an_upgrade_that_would_leave_a_broken_reference_changes_nothing(tmp_path):
    """The reference check runs before the commit: a bad row found there undoes every migration."""
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    schema.upgrade(url, revision="0006")
    bind = make_engine(url)
    try:
        with bind.begin() as connection:
            rows.fill(connection)
        raw = bind.raw_connection()
        try:  # an assignment of a target that does not exist, written with foreign keys off
            raw.driver_connection.execute("PRAGMA foreign_keys=OFF")
            raw.driver_connection.execute("UPDATE assignment SET target_id = 999 WHERE id = 1")
        finally:
            raw.close()
        bind.dispose()
        with pytest.raises(RuntimeError, match="外键"):
            schema.upgrade(url)
        assert _revision(bind) == "0006"
        with bind.connect() as connection:
            columns = {c["name"]: c for c in sa.inspect(connection).get_columns("target")}
            assert columns["code"]["type"].length == 40  # 0007 undone with the rest
    finally:
        bind.dispose()
