"""Alembic environment: the engine's tables, on whatever database the caller's config names.

SQLite alters a table by copying it (batch mode): create the new table, copy the rows, drop
the old one, rename. With foreign keys on, that ``DROP TABLE`` deletes the old table's rows
first — cascading to every table that references it with ``ON DELETE CASCADE`` and failing
(``FOREIGN KEY constraint failed``) where another table references it without. So, as SQLite's
own procedure for altering tables says, foreign keys are turned off for the upgrade (outside
the transaction: the pragma is a no-op inside one), every reference is checked with
``PRAGMA foreign_key_check`` before the commit, and foreign keys are turned back on.
"""
from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import engine.store.models  # noqa: F401  (registers the tables on the metadata)
from engine.store.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    bind = make_engine(config.get_main_option("sqlalchemy.url"))
    with bind.connect() as connection:
        _run(connection)
    bind.dispose()


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(connection, on=False)
    try:
        # One transaction for every migration and the reference check: all of it, or nothing.
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,  # SQLite alters tables by copying them
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                _sqlite_check_references(connection)
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection, *, on: bool) -> None:
    if connection.in_transaction():
        raise RuntimeError("SQLite migrations must start outside a transaction: PRAGMA foreign_keys is "
                           "ignored inside one, and copying a referenced table would then delete or refuse its rows")
    raw = connection.connection.driver_connection
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if raw.execute("PRAGMA foreign_keys").fetchone()[0] != int(on):
        raise RuntimeError(f"could not turn SQLite foreign keys {'on' if on else 'off'}")


def _sqlite_check_references(connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        shown = "; ".join(f"{table} 行 {rowid} → {parent}" for table, rowid, parent, _ in broken[:10])
        raise RuntimeError(f"迁移后有 {len(broken)} 处外键引用不存在的行（{shown}），已回滚")


run_migrations_online()
