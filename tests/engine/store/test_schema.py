"""The migrations keep their revision ids wherever their module lives, so databases stay at head."""
from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.store import schema
from engine.store.db import make_engine

#: Revision ids released before; a database records these, so they never change.
RELEASED = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"]


def _current(url: str) -> str | None:
    bind = make_engine(url)
    try:
        with bind.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        bind.dispose()


def test_released_revision_ids_are_kept_in_order():
    script = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert chain[: len(RELEASED)] == RELEASED
    assert len(script.get_heads()) == 1


def test_a_database_at_head_stays_at_head(db_url):
    script = ScriptDirectory.from_config(schema.alembic_config(db_url))
    head = script.get_current_head()
    assert _current(db_url) == head
    schema.upgrade(db_url)  # nothing to do: no error, no new revision
    assert _current(db_url) == head
