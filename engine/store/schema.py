"""Creating and upgrading the database schema with Alembic (``kaoping init``)."""
from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from engine.store.config import settings
from engine.store.db import make_engine, normalise_url


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the migrations shipped in ``engine.store.migrations``."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("engine.store").joinpath("migrations")))
    config.set_main_option("sqlalchemy.url", normalise_url(url or settings().database_url))
    return config


def upgrade(url: str | None = None, *, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``, the newest schema by default (creating it if empty).

    All migrations run in one transaction (the environment opens it: on SQLite it must first
    turn foreign keys off, which only works outside a transaction).
    """
    bind = make_engine(url)
    try:
        with bind.connect() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        bind.dispose()
