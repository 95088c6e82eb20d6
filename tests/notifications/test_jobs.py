"""Scheduled jobs: locks between processes, `kaoping jobs run --at`, the scheduler's settings."""
from __future__ import annotations

import logging
import threading
from datetime import date

from sqlmodel import Session, func, select

from engine.schedule.locks import job_lock
from engine.store.models import Escalation, InboxItem, OutboxEvent
from engine.people.users import add
from notifications import jobs
from tests import factories as f
from tests.cli_runner import kaoping
from tests.engine.lifecycle import step


def test_a_job_skips_while_another_process_holds_its_lock(engine_db):
    with job_lock(engine_db, "escalation") as mine:
        assert mine
        assert jobs.run_job(engine_db, "escalation") == jobs.SKIPPED
    assert jobs.run_job(engine_db, "escalation") != jobs.SKIPPED


def test_jobs_run_at_a_given_time(db_url, session, frozen):
    add(session=session, name="洪玮玮", roles=["staff"], sections=["规划科"])
    t = f.target(session, due_date=date(2024, 9, 30))
    step(session, t.id, "start", f.STAFF)
    env = {"KAOPING_DATABASE_URL": db_url}
    out = kaoping("jobs", "run", "--at", "2024-10-12T09:00", env=env)
    assert out.returncode == 0, out.stderr
    assert "escalation: SweepResult(checked=1, fired=[" in out.stdout
    session.rollback()
    assert session.exec(select(func.count()).select_from(Escalation)).one() == 3
    # 洪玮玮: level 1, the red warning (no report since June) and the 督办单 of level 3; no users for the rest
    assert session.exec(select(func.count()).select_from(InboxItem)).one() == 3
    assert session.exec(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.status == "expanded")).one() == 5
    bad = kaoping("jobs", "run", "--at", "下周一", env=env)
    assert bad.returncode == 2 and "ISO" in bad.stderr


class _Ran(logging.Handler):
    """Notes which jobs have finished a run (each run logs "job NAME: result")."""

    def __init__(self, names) -> None:
        super().__init__(logging.INFO)
        self.finished = {name: threading.Event() for name in names}

    def emit(self, record: logging.LogRecord) -> None:
        if record.args and record.args[0] in self.finished:
            self.finished[record.args[0]].set()


def test_scheduler_jobs_are_set_on_purpose(engine_db):
    log, ran = logging.getLogger("kaoping.jobs"), _Ran(["escalation", "reports"])
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(ran)
    scheduler = jobs.background(engine_db)
    try:
        found = {job.id: job for job in scheduler.get_jobs()}
        assert set(found) == {"escalation", "reminders", "reports", "dispatch", "checkpoint", "warnings", "circulars", "digest"}
        for job in found.values():
            assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time >= 30
        assert str(found["reminders"].trigger) == "cron[hour='9', minute='0']"
        assert str(found["checkpoint"].trigger) == "cron[hour='23', minute='50']"  # the daily signed checkpoint
        assert str(found["digest"].trigger) == "cron[hour='8', minute='30']"  # the daily digest
        for name, finished in ran.finished.items():  # the escalation sweep and the report job run at start
            assert finished.wait(timeout=300), f"{name} did not run at start"
    finally:
        scheduler.shutdown(wait=True)
        log.removeHandler(ran)
        log.setLevel(level)


def test_the_app_runs_and_stops_its_scheduler(engine_db):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(engine_db, scheduler=True)) as client:
        assert client.get("/healthz").status_code == 200
    with Session(engine_db) as session:
        assert session.exec(select(func.count()).select_from(OutboxEvent)).one() == 0
