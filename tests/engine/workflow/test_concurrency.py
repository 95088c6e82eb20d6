"""Many processes firing on the same targets at once; processes killed in mid-transition."""
from __future__ import annotations

import multiprocessing
import os
import signal

from sqlmodel import Session, func, select

from engine.audit import chain as audit
from engine.people.actors import Actor
from engine.store.models import Signature, Target, TransitionRecord
from tests import factories as f
from tests.engine.workflow import workers
from tests.engine.lifecycle import drive, step

PROCESSES = 8
spawn = multiprocessing.get_context("spawn")


def _race(db_url, session, jobs):
    """Run ``fire_once`` for each (target_id, trigger, actor, expected_version) at the same moment."""
    barrier, results = spawn.Barrier(len(jobs)), spawn.Queue()
    procs = [spawn.Process(target=workers.fire_once, args=(db_url, *job, barrier, results)) for job in jobs]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    session.expire_all()  # what the children wrote, not what this session remembers
    return sorted(outcomes)


def _history_matches(session, target_id):
    target = session.get(Target, target_id)
    session.refresh(target)
    records = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == target_id,
                                                          TransitionRecord.kind != "creation")
                           .order_by(TransitionRecord.id)).all()
    assert target.version == len(records) + 1
    assert target.state == (records[-1].to_state if records else "assigned")
    return target, records


def test_same_version_one_wins_the_rest_conflict(db_url, session):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    outcomes = _race(db_url, session, [(t.id, "report_progress", f.STAFF, 2)] * PROCESSES)
    assert outcomes == ["ok"] + ["stale_version"] * (PROCESSES - 1)
    target, records = _history_matches(session, t.id)
    assert target.version == 3
    assert audit.verify(session).ok


def test_no_update_is_lost(db_url, session):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    outcomes = _race(db_url, session, [(t.id, "report_progress", f.STAFF, None)] * PROCESSES)
    assert outcomes == ["ok"] * PROCESSES
    target, records = _history_matches(session, t.id)
    assert target.version == 2 + PROCESSES
    assert audit.verify(session) == audit.ChainCheck(count=3 + PROCESSES, ok=True)  # milestones, creation, start


def test_countersign_by_eight_leaders_at_once(db_url, session):
    leaders = [Actor(f"领导{i}", frozenset({"leader"})) for i in range(PROCESSES)]
    t = f.target(session, leaders=[leader.name for leader in leaders])
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=leaders, office=f.OFFICE)
    outcomes = _race(db_url, session, [(t.id, "sign", leader, None) for leader in leaders])
    assert outcomes == ["ok"] * PROCESSES
    target, records = _history_matches(session, t.id)
    assert target.state == "leader_signed"
    assert [r.to_state for r in records[2:]] == ["self_assessed"] * (PROCESSES - 1) + ["leader_signed"]
    assert session.exec(select(func.count()).select_from(Signature)).one() == PROCESSES
    assert audit.verify(session).ok


def test_countersign_at_once_by_leaders_who_saw_the_same_version(db_url, session):
    """Two (and more) leaders sign the page they opened together: none of them gets a stale-version error."""
    leaders = [Actor(f"领导{i}", frozenset({"leader"})) for i in range(3)]
    t = f.target(session, leaders=[leader.name for leader in leaders])
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=leaders, office=f.OFFICE)
    seen = session.get(Target, t.id).version
    outcomes = _race(db_url, session, [(t.id, "sign", leader, seen) for leader in leaders])
    assert outcomes == ["ok"] * 3
    target, _ = _history_matches(session, t.id)
    assert target.state == "leader_signed"
    assert audit.verify(session).ok


def test_sign_and_verify_race_on_several_targets(db_url, session):
    """Leaders sign while the office verifies: each target is verified once, the chain never forks."""
    ts = [f.target(session) for _ in range(4)]
    for t in ts:
        drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    jobs = [(t.id, "sign", f.LEADER, None) for t in ts] + [(t.id, "verify", f.OFFICE, None) for t in ts]
    outcomes = _race(db_url, session, jobs)
    # A verify that comes before its target's signature is refused; otherwise both succeed.
    assert outcomes.count("ok") >= 4 and set(outcomes) <= {"ok", "invalid_trigger"}
    verified = sum(session.get(Target, t.id).state == "verified" for t in ts)
    assert outcomes.count("ok") == 4 + verified
    for t in ts:
        _history_matches(session, t.id)
    assert audit.verify(session).ok


def test_killed_before_commit_leaves_nothing(db_url, session):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    flushed = spawn.Event()
    proc = spawn.Process(target=workers.fire_and_hang, args=(db_url, t.id, "self_assess", f.STAFF, flushed))
    proc.start()
    assert flushed.wait(timeout=60), "the child never reached its commit"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    session.expire_all()
    target, records = _history_matches(session, t.id)
    assert (target.state, target.version, target.self_score) == ("in_progress", 2, None)
    assert audit.verify(session).ok
    # The lock died with the process: the next transition goes through.
    assert step(session, t.id, "self_assess", f.STAFF).target.state == "self_assessed"


def test_killed_at_random_moments_the_history_stays_whole(db_url, session):
    ts = [f.target(session) for _ in range(3)]
    for t in ts:
        drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    base = audit.verify(session).count  # the targets' creation, the plan's milestones, the 3 starts
    commits = workers.kill_after_commits(workers.fire_forever, (db_url, [t.id for t in ts], f.STAFF),
                                         rounds=5, fewest=1, most=4)
    with Session(session.get_bind()) as fresh:
        for t in ts:
            _history_matches(fresh, t.id)
        check = audit.verify(fresh)
    # What was there, every commit the parent saw, and at most one more per kill (committed, not yet announced).
    assert check.ok and base + commits <= check.count <= base + commits + 5
