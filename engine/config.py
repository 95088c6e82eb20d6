"""Configuration from the environment: every setting is ``KAOPING_<NAME>``."""
from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Effective settings. Defaults suit the embedded demo: one SQLite file in the working directory."""

    model_config = SettingsConfigDict(env_prefix="KAOPING_", extra="ignore")

    database_url: str = "sqlite:///kaoping.db"
    timezone: str = "Asia/Shanghai"


@lru_cache
def settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
