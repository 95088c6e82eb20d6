"""The whole-state chain check as a job: started from the audit page, run in the background, its
progress and result kept in a setting that every process of the installation reads.

A check of a long chain takes minutes; no request waits for it. One check runs at a time; one
whose process went away (no progress for :data:`STALE`) may be started again.
"""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from engine.audit import chain, checkpoints, replay
from engine.calendar import clock
from engine.store import db
from engine.store.models import Setting

KEY = "chain_check"
STALE = timedelta(minutes=5)
_threads: dict[str, threading.Thread] = {}


@dataclass(frozen=True)
class ChainCheckJob:
    """A chain check: who started it and when, how far it got, and what it found."""

    id: str
    started_by: str
    started_at: str            # ISO times, local (Asia/Shanghai)
    updated_at: str
    total: int                 # records in the chain when the check started
    checked: int = 0
    done: bool = False
    ok: bool | None = None     # None while running, or when the check could not finish
    lines: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        """Whether it stopped without a result (its process ended)."""
        return not self.done and clock.now() - datetime.fromisoformat(self.updated_at) > STALE

    @property
    def running(self) -> bool:
        return not self.done and not self.stale

    @property
    def percent(self) -> int:
        if self.done:
            return 100
        return min(99, self.checked * 100 // self.total) if self.total else 0


def status(session: Session) -> ChainCheckJob | None:
    """The newest chain check (running or finished), or ``None`` before the first."""
    row = session.get(Setting, KEY, populate_existing=True)
    return ChainCheckJob(**json.loads(row.value)) if row else None


def start(*, session: Session, by: str) -> tuple[ChainCheckJob, bool]:
    """Record a new check started by ``by`` and commit; while one is running, that one instead.
    Returns the job and whether it is new (then the caller runs it: :func:`launch`)."""
    row = session.get(Setting, KEY, populate_existing=True, with_for_update=_lock(session))
    if row is not None:
        current = ChainCheckJob(**json.loads(row.value))
        if current.running:
            session.rollback()
            return current, False
    total = sum(head.count for head in chain.heads(session.connection()))  # every organisation's chain
    now = clock.now().isoformat()
    job = ChainCheckJob(id=uuid.uuid4().hex, started_by=by, started_at=now, updated_at=now, total=total)
    if row is None:
        session.add(Setting(key=KEY, value=json.dumps(asdict(job), ensure_ascii=False)))
    else:
        row.value = json.dumps(asdict(job), ensure_ascii=False)
    try:
        session.commit()
    except IntegrityError:  # another request started one at the same moment: that one runs
        session.rollback()
        return status(session), False
    return job, True


def _lock(session: Session) -> bool | None:
    """Lock the setting's row while deciding (PostgreSQL); SQLite's write lock serialises by itself."""
    return None if db.is_sqlite(session) else True


def _save(bind, job: ChainCheckJob) -> None:
    """Write ``job``'s progress, unless a newer check has replaced it."""
    with Session(bind) as session:
        row = session.get(Setting, KEY, with_for_update=_lock(session))
        if row is None or json.loads(row.value)["id"] != job.id:
            return
        row.value = json.dumps(asdict(job), ensure_ascii=False)
        session.commit()


def run(bind, job: ChainCheckJob, *, batch: int = 5000) -> ChainCheckJob:
    """Carry out the check ``job`` (in a session of its own, reading only), recording progress as it
    goes and the result at the end; returns the finished job."""
    def progress(checked: int) -> None:
        nonlocal job
        job = _replace(job, checked=checked)
        _save(bind, job)

    try:
        with Session(bind) as session:
            check = replay.verify(session=session, public_pem=checkpoints.public_pem(), batch=batch,
                                  progress=progress)
        job = _replace(job, checked=check.count, done=True, ok=check.ok, lines=check.lines)
    except Exception as error:  # the check itself failed (database gone, …): say so, keep the job closed
        job = _replace(job, done=True, ok=None, lines=[f"校验未能完成：{type(error).__name__}: {error}"])
    _save(bind, job)
    return job


def _replace(job: ChainCheckJob, **changes) -> ChainCheckJob:
    return ChainCheckJob(**{**asdict(job), **changes, "updated_at": clock.now().isoformat()})


def launch(bind, job: ChainCheckJob) -> None:
    """Run ``job`` in a background thread of this process."""
    thread = threading.Thread(target=run, args=(bind, job), name=f"chain-check-{job.id[:8]}", daemon=True)
    _threads[job.id] = thread
    thread.start()


def wait(job_id: str, timeout: float | None = None) -> bool:
    """Wait until the check ``job_id`` started in this process has finished; whether it has."""
    thread = _threads.get(job_id)
    if thread is None:
        return True
    thread.join(timeout)
    if thread.is_alive():
        return False
    _threads.pop(job_id, None)
    return True
