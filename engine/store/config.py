"""Configuration from the environment: every setting is ``KAOPING_<NAME>`` (see the README)."""
from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FIELDS = ("secret_key", "smtp_password", "database_url", "webhook_url")


class Settings(BaseSettings):
    """Effective settings. Defaults suit the embedded demo: one SQLite file in the working directory."""

    model_config = SettingsConfigDict(env_prefix="KAOPING_", extra="ignore")

    database_url: str = "sqlite:///kaoping.db"
    #: PostgreSQL: test each pooled connection with a round trip before use (a dropped connection is then
    #: replaced unseen). Off: a dropped connection fails the one statement that meets it, and the pool
    #: replaces every connection of that time.
    database_pre_ping: bool = False
    timezone: str = "Asia/Shanghai"
    #: Signs access tokens and session cookies. Empty: the key in ``secret_key_file``.
    secret_key: str = ""
    #: The key file, created (0600) with a random key on first run; the database keeps only a fingerprint.
    secret_key_file: str = "kaoping.key"
    token_minutes: int = 30
    #: Mark the session cookie Secure. Unset: when the request came over https (behind a proxy,
    #: run uvicorn with its proxy headers, or set this to true).
    cookie_secure: bool | None = None
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 10_485_760
    #: Where evidence files are kept (created on first upload).
    files_dir: str = "kaoping-files"
    max_evidence_bytes: int = 10_485_760
    #: Each uploaded file is read in a child process with these limits, at most this many at once.
    upload_cpu_seconds: int = 10
    upload_memory_mib: int = 768
    upload_workers: int = 2
    #: The Ed25519 key that signs audit checkpoints (created 0600 on first use; keep it off the database server).
    audit_key_file: str = "kaoping-audit-key.pem"
    #: Where every checkpoint is also appended, one JSON line each (outside the database).
    checkpoint_file: str = "kaoping-checkpoints.jsonl"
    #: When the daily checkpoint is signed (local time).
    checkpoint_time: str = "23:50"
    #: The address people open the pages at (https://kaoping.example.gov.cn): messages link to their target.
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_from: str = "kaoping@localhost"
    webhook_url: str = ""
    webhook_kind: str = "json"  # json | wecom | dingtalk
    #: Run the scheduler inside ``kaoping serve`` (``kaoping worker`` always runs it).
    scheduler: bool = True
    sweep_minutes: int = 5
    reminder_time: str = "09:00"
    #: When the daily digest goes to those who chose it (local time).
    digest_time: str = "08:30"
    dispatch_seconds: int = 5
    #: Group commit (the API's transitions): at most this many fires share one transaction …
    write_batch: int = 32
    #: … and, while others are writing, the writer waits up to this long for more to join it.
    write_wait_ms: float = 2.0
    #: How long the API keeps who a token's user is (roles, sections) before reading it again; 0: every request.
    caller_seconds: float = 2.0


@lru_cache
def settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def masked() -> dict[str, object]:
    """The effective settings with secrets hidden (passwords in URLs included)."""
    from sqlalchemy.engine import make_url

    out: dict[str, object] = {}
    for name, value in settings().model_dump().items():
        if name == "database_url":
            value = make_url(value).render_as_string(hide_password=True)
        elif name in SECRET_FIELDS and value:
            value = "******"
        out[name] = value
    return out
