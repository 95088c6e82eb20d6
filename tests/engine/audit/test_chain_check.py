"""The chain check as a background job: one at a time, its progress and result in a setting."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from engine.audit import chain_check, replay
from tests.engine.audit import trail


@pytest.fixture
def built(session, frozen, monkeypatch, tmp_path):
    trail.use_files(monkeypatch, tmp_path)
    return trail.build(session, frozen)


def test_a_check_runs_reports_progress_and_keeps_its_result(session, engine_db, built):
    assert chain_check.status(session) is None
    job, new = chain_check.start(session=session, by="审计员")
    assert new and job.running and job.total == len(trail.rows(session)) and job.percent == 0
    again, new_again = chain_check.start(session=session, by="绩效办")
    assert not new_again and again.id == job.id and again.started_by == "审计员"  # one at a time
    seen = []
    real = chain_check._save
    chain_check._save = lambda bind, j: (seen.append(j.checked), real(bind, j))
    try:
        done = chain_check.run(engine_db, job, batch=3)
    finally:
        chain_check._save = real
    assert done.done and done.ok and done.checked == job.total and done.percent == 100
    assert seen[:-1] == list(range(3, job.total + 1, 3)) and seen[-1] == job.total
    kept = chain_check.status(session)
    assert kept == done and not kept.running and "当前状态与历史一致" in kept.lines[0]
    follow, new = chain_check.start(session=session, by="绩效办")  # finished: the next starts anew
    assert new and follow.id != job.id and chain_check.status(session).started_by == "绩效办"


def test_a_tampered_record_is_reported_by_the_job(session, engine_db, built):
    session.execute(text("UPDATE transitionrecord SET comment = 'changed' WHERE id = 2"))
    session.commit()
    job, _ = chain_check.start(session=session, by="审计员")
    chain_check.launch(engine_db, job)
    assert chain_check.wait(job.id, timeout=120)
    result = chain_check.status(session)
    assert result.done and result.ok is False and result.id == job.id
    assert "记录内容与其哈希不符" in " ".join(result.lines)


def test_a_check_whose_process_ended_may_be_started_again(session, built, frozen):
    job, _ = chain_check.start(session=session, by="审计员")
    frozen.move(chain_check.STALE - timedelta(seconds=1))
    assert chain_check.status(session).running
    assert not chain_check.start(session=session, by="绩效办")[1]
    frozen.move(timedelta(seconds=2))
    stale = chain_check.status(session)
    assert stale.stale and not stale.running and not stale.done
    restarted, new = chain_check.start(session=session, by="绩效办")
    assert new and restarted.id != job.id


def test_the_replay_tells_its_progress_every_batch(session, built):
    told = []
    run, _ = replay.replay(session, batch=4, progress=told.append)
    assert told == list(range(4, run.count + 1, 4)) and run.count == len(trail.rows(session))
