"""The scheduled jobs (APScheduler 3, in-memory job store): escalation sweep, reminders, report items, early
warnings, the monthly circular's draft, outbox dispatch, the daily checkpoint and the daily digest.

Every process that runs a scheduler (each ``serve`` worker, each ``worker``) has its own jobs
in memory — APScheduler 3 must not share a persistent job store between processes. A job
takes a database lock first (:func:`engine.schedule.locks.job_lock`) and skips if another process holds
it; the work is idempotent besides. ``coalesce`` runs a backlog of missed runs once,
``max_instances=1`` never overlaps a job with itself, and ``misfire_grace_time`` says how
late a run may still start (long for the daily jobs: a process that was down at 09:00 still
sends the day's reminders when it comes back).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine

from engine.audit import checkpoints
from engine.scoring import circulars
from engine.calendar import clock
from engine.schedule import escalation, reminders, recurring as reports, warnings
from engine.store.config import settings
from engine.schedule.locks import job_lock
from notifications import digest, dispatch

log = logging.getLogger("kaoping.jobs")

JOBS: dict[str, Callable[[Engine], Any]] = {
    "reports": lambda bind: reports.create_due(bind),
    "escalation": lambda bind: escalation.sweep(bind),
    "reminders": lambda bind: reminders.sweep(bind),
    "warnings": lambda bind: warnings.sweep(bind),
    "circulars": lambda bind: circulars.due_today(bind),
    "dispatch": lambda bind: dispatch.dispatch(bind),
    "checkpoint": lambda bind: checkpoints.scheduled(bind),
    "digest": lambda bind: digest.send_all(bind),
}
SKIPPED = "skipped: another process holds the lock"


def run_job(bind: Engine, name: str) -> Any:
    """Run one job now if this process gets its lock; otherwise return :data:`SKIPPED`."""
    with job_lock(bind, name) as mine:
        if not mine:
            log.info("job %s: %s", name, SKIPPED)
            return SKIPPED
        result = JOBS[name](bind)
        log.info("job %s: %s", name, result)
        return result


#: What a run at another time than now says of the checkpoint: a signature states when it was made.
NOT_SIGNED_AT_ANOTHER_TIME = "skipped: a checkpoint is signed only at the real time"


def run_all(bind: Engine, at: datetime | None = None) -> dict[str, Any]:
    """Every job once, in order, as of ``at`` (the engine's clock stands there meanwhile). At another
    time than now the checkpoint is not signed: it would state a moment that is not when it was made."""
    if at is None:
        return {name: run_job(bind, name) for name in JOBS}
    with clock.frozen(at):
        return {name: run_job(bind, name) if name != "checkpoint" else NOT_SIGNED_AT_ANOTHER_TIME for name in JOBS}


def schedule(scheduler, bind: Engine) -> None:
    config = settings()
    hour, minute = (int(p) for p in config.reminder_time.split(":"))
    now = datetime.now(clock.ZONE)
    scheduler.add_job(run_job, "interval", minutes=config.sweep_minutes, args=[bind, "escalation"], id="escalation",
                      next_run_time=now, misfire_grace_time=config.sweep_minutes * 60)
    scheduler.add_job(run_job, "cron", hour=hour, minute=minute, args=[bind, "reminders"], id="reminders",
                      misfire_grace_time=6 * 3600)
    scheduler.add_job(run_job, "cron", hour=0, minute=20, args=[bind, "warnings"], id="warnings",
                      next_run_time=now, misfire_grace_time=12 * 3600)
    scheduler.add_job(run_job, "cron", hour=7, minute=0, args=[bind, "circulars"], id="circulars",
                      misfire_grace_time=12 * 3600)
    scheduler.add_job(run_job, "cron", hour=0, minute=10, args=[bind, "reports"], id="reports",
                      next_run_time=now, misfire_grace_time=12 * 3600)
    hour, minute = (int(p) for p in config.checkpoint_time.split(":"))
    scheduler.add_job(run_job, "cron", hour=hour, minute=minute, args=[bind, "checkpoint"], id="checkpoint",
                      misfire_grace_time=12 * 3600)
    hour, minute = (int(p) for p in config.digest_time.split(":"))
    scheduler.add_job(run_job, "cron", hour=hour, minute=minute, args=[bind, "digest"], id="digest",
                      misfire_grace_time=12 * 3600)
    scheduler.add_job(run_job, "interval", seconds=config.dispatch_seconds, args=[bind, "dispatch"], id="dispatch",
                      misfire_grace_time=max(30, config.dispatch_seconds * 4))


def _defaults() -> dict[str, Any]:
    return {"coalesce": True, "max_instances": 1}


def background(bind: Engine) -> BackgroundScheduler:
    """A started scheduler in a background thread (inside ``kaoping serve``)."""
    scheduler = BackgroundScheduler(timezone=clock.ZONE, job_defaults=_defaults())
    schedule(scheduler, bind)
    scheduler.start()
    return scheduler


def blocking(bind: Engine) -> BlockingScheduler:
    """A scheduler that runs in the calling thread until stopped (``kaoping worker``)."""
    scheduler = BlockingScheduler(timezone=clock.ZONE, job_defaults=_defaults())
    schedule(scheduler, bind)
    return scheduler
