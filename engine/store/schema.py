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


def upgrade(url: str | None = None) -> None:
    """Bring the database at ``url`` to the newest schema (creating it if it is empty)."""
    bind = make_engine(url)
    try:
        with bind.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        bind.dispose()
