"""Locks that let a scheduled job run in one process at a time, whatever number of processes run.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its own,
held for the job and released after it (or by the server if the process dies). SQLite: an
exclusive ``flock`` on a file beside the database (SQLite lives on one machine). Either way a
process that does not get the lock skips the run; the work itself is idempotent besides.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

_memory_locks: dict[str, threading.Lock] = {}


def _key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    return int.from_bytes(hashlib.sha256(f"kaoping:{name}".encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def job_lock(bind: Engine, name: str) -> Iterator[bool]:
    """Yield whether this process holds the lock for job ``name`` (it does not wait)."""
    if bind.dialect.name == "postgresql":
        with bind.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}).scalar()
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                    conn.commit()
        return
    database = bind.url.database
    if not database or database == ":memory:":
        lock = _memory_locks.setdefault(name, threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    path = Path(f"{database}.{name}.lock")
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
