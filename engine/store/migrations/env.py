"""Alembic environment: the engine's tables, on whatever database the caller's config names."""
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
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
