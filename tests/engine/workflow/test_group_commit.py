"""Group commit: fires handed to one writer share a transaction; each is still all or nothing."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from engine.audit import chain as audit
from engine.people.actors import Actor
from engine.store.config import settings
from engine.store.models import Evidence, OutboxEvent, Target, TransitionRecord
from engine.workflow import commands, evidence
from engine.workflow.writer import GroupWriter, WriterClosed
from tests import factories as f
from tests.engine.audit import trail
from tests.engine.lifecycle import PAYLOADS, drive, step
from tests.engine.workflow import workers
from tests.engine.workflow.test_concurrency import _history_matches

WRITERS = 16
spawn = multiprocessing.get_context("spawn")


class Batches:
    """Counts the fires of each batch at its COMMIT."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, count: int) -> None:
        self.sizes.append(count)


@pytest.fixture
def batches():
    return Batches()


@pytest.fixture
def writer(engine_db, batches):
    w = GroupWriter(engine_db, before_commit=batches)
    yield w
    w.close()


def _outcome(call):
    try:
        call()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - the test reads the outcome
        return getattr(exc, "code", f"error: {type(exc).__name__}: {exc}")


def _together(writer, calls):
    """Run ``calls`` from threads of their own, queued in this order, then let the writer take them at once."""
    outcomes = [None] * len(calls)

    def run(number):
        outcomes[number] = _outcome(calls[number])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    with writer.held():
        for number, thread in enumerate(threads):
            thread.start()
            assert writer.wait_queued(number + 1), "a writer never handed its fire in"
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def _fire(writer, target_id, trigger, actor, **extra):
    payload, comment = PAYLOADS[trigger]
    return lambda: writer.fire(target_id=target_id, trigger=trigger, actor=actor, payload=extra.pop("payload", payload),
                               comment=comment, **extra)


def test_sixteen_writers_on_one_version_one_wins_the_rest_are_stale(session, writer, batches):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    for seen in (2, 3, 4):  # three rounds, each at the version the last one left
        outcomes = _together(writer, [_fire(writer, t.id, "report_progress", f.STAFF, expected_version=seen)] * WRITERS)
        assert sorted(outcomes) == ["ok"] + ["stale_version"] * (WRITERS - 1)
    assert batches.sizes == [1, 1, 1]  # each round one batch, one commit, one fire in it
    session.expire_all()
    target, records = _history_matches(session, t.id)
    assert target.version == 5 and [r.trigger for r in records] == ["start"] + ["report_progress"] * 3
    assert audit.verify(session).ok


def test_sixteen_writers_without_a_version_lose_no_update(session, writer, batches):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    outcomes = _together(writer, [_fire(writer, t.id, "report_progress", f.STAFF)] * WRITERS)
    assert outcomes == ["ok"] * WRITERS
    assert batches.sizes == [WRITERS]  # all sixteen in one transaction
    session.expire_all()
    target, records = _history_matches(session, t.id)
    assert target.version == 2 + WRITERS
    assert [r.seq for r in records] == sorted(r.seq for r in records)  # the chain in the order they ran
    assert audit.verify(session).ok


def test_sixteen_writers_unheld_one_wins_per_version(session, writer):
    """Without holding the writer: however the fires fall into batches, each version is won once."""
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    barrier, outcomes = threading.Barrier(WRITERS), []

    def run():
        barrier.wait()
        outcomes.append(_outcome(_fire(writer, t.id, "report_progress", f.STAFF, expected_version=2)))

    threads = [threading.Thread(target=run) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["ok"] + ["stale_version"] * (WRITERS - 1)
    session.expire_all()
    assert _history_matches(session, t.id)[0].version == 3
    assert audit.verify(session).ok


def _files() -> list[Path]:
    folder = Path(settings().files_dir)
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_fire_failing_in_the_middle_of_a_batch_leaves_the_others_and_nothing_of_itself(
        session, writer, batches, monkeypatch, tmp_path):
    trail.use_files(monkeypatch, tmp_path)
    a, b, c = (f.target(session) for _ in range(3))
    for t in (a, b, c):
        drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    appended = audit.appended

    def failing_for_b(session, head, values):
        # Late in b's fire: its target, record, chain head and evidence are written by now.
        if values["target_id"] == b.id:
            raise RuntimeError("the disk is full")
        return appended(session, head, values)

    monkeypatch.setattr(audit, "appended", failing_for_b)
    calls = [_fire(writer, t.id, "self_assess", f.STAFF, uploads=[evidence.Upload(f"{t.code}.pdf", b"%PDF-1.4 x")])
             for t in (a, b, c)]
    outcomes = _together(writer, calls)
    assert outcomes == ["ok", "error: RuntimeError: the disk is full", "ok"]
    assert batches.sizes == [2]  # a and c committed together
    session.expire_all()
    for t in (a, c):
        assert _history_matches(session, t.id)[0].state == "self_assessed"
    target, records = _history_matches(session, b.id)
    assert (target.state, target.version, target.self_score) == ("in_progress", 2, None)
    assert [r.trigger for r in records] == ["start"]
    assert not session.exec(select(OutboxEvent).where(OutboxEvent.target_id == b.id,
                                                      OutboxEvent.event_type.like("%self_assess"))).all()
    kept = session.exec(select(Evidence)).all()
    assert sorted(e.target_id for e in kept) == sorted([a.id, c.id])
    assert [p.name for p in _files()] == sorted(e.stored_as for e in kept)  # b's bytes are gone too
    assert audit.verify(session).ok
    monkeypatch.setattr(audit, "appended", appended)
    assert step(session, b.id, "self_assess", f.STAFF).target.state == "self_assessed"  # b may go again


def test_a_failed_commit_fails_every_caller_and_keeps_no_file(session, engine_db, monkeypatch, tmp_path):
    trail.use_files(monkeypatch, tmp_path)
    a, b = f.target(session), f.target(session)
    for t in (a, b):
        drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)

    def refuse(_count):
        raise OSError("disk full")

    writer = GroupWriter(engine_db, before_commit=refuse)
    calls = [_fire(writer, t.id, "self_assess", f.STAFF, uploads=[evidence.Upload("台账.pdf", b"%PDF-1.4 x")])
             for t in (a, b)]
    assert _together(writer, calls) == ["error: OSError: disk full"] * 2
    writer.close()
    session.expire_all()
    for t in (a, b):
        assert _history_matches(session, t.id)[0].state == "in_progress"
    assert session.exec(select(func.count()).select_from(Evidence)).one() == 0 and _files() == []
    assert audit.verify(session).ok


def test_closing_writes_what_was_handed_in_and_refuses_what_comes_after(session, engine_db, batches):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    writer = GroupWriter(engine_db, before_commit=batches)
    outcomes = []
    with writer.held():
        thread = threading.Thread(target=lambda: outcomes.append(_outcome(_fire(writer, t.id, "report_progress", f.STAFF))))
        thread.start()
        assert writer.wait_queued(1)
        writer.close()  # while held: what is queued is still written
    thread.join(timeout=60)
    assert outcomes == ["ok"] and batches.sizes == [1]
    with pytest.raises(WriterClosed):
        _fire(writer, t.id, "report_progress", f.STAFF)()
    session.expire_all()
    assert _history_matches(session, t.id)[0].version == 3


def test_countersign_by_leaders_in_one_batch(session, writer, batches):
    leaders = [Actor(f"领导{i}", frozenset({"leader"})) for i in range(4)]
    t = f.target(session, leaders=[leader.name for leader in leaders])
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=leaders, office=f.OFFICE)
    seen = session.get(Target, t.id).version
    outcomes = _together(writer, [_fire(writer, t.id, "sign", leader, expected_version=seen) for leader in leaders])
    assert outcomes == ["ok"] * 4 and batches.sizes == [4]
    session.expire_all()
    assert _history_matches(session, t.id)[0].state == "leader_signed"
    assert audit.verify(session).ok


def test_killed_before_the_batch_commits_leaves_none_of_its_fires(db_url, session):
    ts = [f.target(session) for _ in range(4)]
    for t in ts:
        drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    reached = spawn.Event()
    proc = spawn.Process(target=workers.group_fire_and_hang, args=(db_url, [t.id for t in ts], "self_assess", f.STAFF,
                                                                   reached))
    proc.start()
    assert reached.wait(timeout=120), "the child's batch never reached its commit"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    with Session(session.get_bind()) as fresh:
        for t in ts:
            target, _ = _history_matches(fresh, t.id)
            assert (target.state, target.version) == ("in_progress", 2)
        assert audit.verify(fresh).ok
    # The locks died with the process: the next transition goes through.
    assert step(session, ts[0].id, "self_assess", f.STAFF).target.state == "self_assessed"


def test_killed_at_random_moments_during_batches_leaves_whole_fires(db_url, session):
    ts = [f.target(session) for _ in range(4)]
    for t in ts:
        drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    base = audit.verify(session).count
    commits = workers.kill_after_commits(workers.group_fire_forever, (db_url, [t.id for t in ts], f.STAFF),
                                         rounds=4, fewest=4, most=12, beyond=len(ts))
    with Session(session.get_bind()) as fresh:
        for t in ts:
            _history_matches(fresh, t.id)
        check = audit.verify(fresh)
    # Every fire the parent heard of, and at most one fire per target per kill committed but not yet announced.
    assert check.ok and base + commits <= check.count <= base + commits + 4 * len(ts)


def test_what_follows_a_fire_reads_its_writes_and_its_failure_keeps_the_fire(session, writer, batches):
    a, b = f.target(session), f.target(session)

    def state_read_back(own, fired):
        return own.exec(select(Target.state, Target.version).where(Target.id == fired.target.id)).one()

    def broken(own, fired):
        raise LookupError("no such page")

    calls = [lambda: results.append(writer.fire(target_id=a.id, trigger="start", actor=f.STAFF, then=state_read_back)),
             lambda: writer.fire(target_id=b.id, trigger="start", actor=f.STAFF, then=broken)]
    results = []
    assert _together(writer, calls) == ["ok", "error: LookupError: no such page"]
    assert results == [("in_progress", 2)] and batches.sizes == [2]
    session.expire_all()
    assert _history_matches(session, b.id)[0].state == "in_progress"  # committed all the same
    assert audit.verify(session).ok


class _Deadlock(Exception):
    sqlstate = "40P01"  # what PostgreSQL says when it breaks a deadlock


def test_a_fire_that_loses_a_lock_conflict_runs_again_after_the_others_commit(session, writer, batches, monkeypatch):
    a, b, c = (f.target(session) for _ in range(3))
    fire, lost = commands.fire, []

    def conflicting(*, session, **kwargs):
        # b loses twice: in the batch run together (which then runs apart) and in the batch run apart
        if kwargs["target_id"] == b.id and len(lost) < 2:
            lost.append(True)
            raise OperationalError("SELECT … FOR UPDATE", {}, _Deadlock("deadlock detected"))
        return fire(session=session, **kwargs)

    monkeypatch.setattr(commands, "fire", conflicting)
    assert _together(writer, [_fire(writer, t.id, "start", f.STAFF) for t in (a, b, c)]) == ["ok"] * 3
    assert batches.sizes == [1, 2]  # a committed, then b (again) and c
    session.expire_all()
    assert all(_history_matches(session, t.id)[0].state == "in_progress" for t in (a, b, c))
    assert audit.verify(session).ok


def test_a_batch_runs_together_without_savepoints_and_a_refusal_in_it_changes_nothing(
        session, engine_db, writer, batches):
    """The usual batch: no SAVEPOINT at all; a fire refused in the middle (a stale version, a role) is the
    caller's error and leaves the fires before and after it to commit in the same transaction."""
    a, b, c = (f.target(session) for _ in range(3))
    sent = []
    listen = lambda _c, _cursor, statement, *_a: sent.append(statement.split()[0].upper())  # noqa: E731
    event.listen(engine_db, "before_cursor_execute", listen)
    try:
        outcomes = _together(writer, [_fire(writer, a.id, "start", f.STAFF),
                                      _fire(writer, b.id, "start", f.STAFF, expected_version=7),
                                      _fire(writer, b.id, "sign", f.LEADER),
                                      _fire(writer, c.id, "start", f.STAFF)])
    finally:
        event.remove(engine_db, "before_cursor_execute", listen)
    assert outcomes == ["ok", "stale_version", "invalid_trigger", "ok"]
    assert batches.sizes == [2]
    assert "SAVEPOINT" not in sent and "RELEASE" not in sent and "ROLLBACK" not in sent
    session.expire_all()
    assert [_history_matches(session, t.id)[0].state for t in (a, b, c)] == ["in_progress", "assigned", "in_progress"]
    assert audit.verify(session).ok


def test_a_fire_handed_in_without_waiting_is_answered_through_its_future(session, writer, batches):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    payload, comment = PAYLOADS["report_progress"]
    with writer.held():
        future = writer.submit(target_id=t.id, trigger="report_progress", actor=f.STAFF, payload=payload,
                               comment=comment, expected_version=2)
        assert writer.wait_queued(1) and not future.done()  # handed in, the caller not held
        refused = writer.submit(target_id=t.id, trigger="report_progress", actor=f.STAFF, payload=payload,
                                comment=comment, expected_version=2)
    fired = future.result(timeout=60)
    assert fired.target.version == 3 and fired.record.trigger == "report_progress"
    assert getattr(refused.exception(timeout=60), "code", None) == "stale_version"  # its error, through its future
    assert batches.sizes == [1]
    writer.close()
    with pytest.raises(WriterClosed):
        writer.submit(target_id=t.id, trigger="report_progress", actor=f.STAFF, payload=payload, comment=comment)


def _loads(statements: list[str]) -> int:
    """How many of ``statements`` read targets for fires (the one door's load, alone or for a batch)."""
    return sum(1 for s in statements if "FROM target AS t, chainhead AS h" in s)


def test_a_batch_reads_all_its_targets_in_one_statement_and_chains_in_the_order_run(
        session, engine_db, writer, batches):
    many = [f.target(session) for _ in range(5)]
    f.organisation(session, "厦门市教育局")
    other = f.target_of(session, "厦门市教育局", code="X-1")  # another organisation: its own chain
    session.commit()
    sent = []
    listen = lambda _c, _cursor, statement, *_a: sent.append(statement)  # noqa: E731
    event.listen(engine_db, "before_cursor_execute", listen)
    try:
        order = [many[3], other, many[0], many[4], many[1], many[2]]
        outcomes = _together(writer, [_fire(writer, t.id, "start", f.STAFF, expected_version=1) for t in order])
    finally:
        event.remove(engine_db, "before_cursor_execute", listen)
    assert outcomes == ["ok"] * 6 and batches.sizes == [6]
    assert _loads(sent) == 1  # not one per fire
    session.expire_all()
    records = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "start")
                           .order_by(TransitionRecord.id)).all()
    assert [r.target_id for r in records] == [t.id for t in order]  # appended in the order the fires ran
    mine = [r for r in records if r.org_id == many[0].org_id]
    assert [r.seq for r in mine] == list(range(mine[0].seq, mine[0].seq + 5))  # one chain, no gap, no repeat
    assert all(_history_matches(session, t.id)[0].state == "in_progress" for t in (*many, other))
    assert audit.verify(session).ok


def test_a_target_fired_twice_in_a_batch_is_read_again_for_its_second_fire(session, writer, batches):
    a, b = f.target(session), f.target(session)
    outcomes = _together(writer, [_fire(writer, a.id, "start", f.STAFF, expected_version=1),
                                  _fire(writer, b.id, "start", f.STAFF, expected_version=1),
                                  _fire(writer, a.id, "report_progress", f.STAFF, expected_version=2),
                                  _fire(writer, a.id, "report_progress", f.STAFF, expected_version=2)])
    assert outcomes == ["ok", "ok", "ok", "stale_version"] and batches.sizes == [3]
    session.expire_all()
    target, records = _history_matches(session, a.id)
    assert target.version == 3 and [r.trigger for r in records] == ["start", "report_progress"]
    assert audit.verify(session).ok


def test_a_batch_leaves_a_target_with_targets_handed_down_from_it_to_be_read_when_fired(session):
    """A fire on a child target changes what its parent's fire reads (whether its children are still open):
    the parent is not read ahead of the batch."""
    from engine.workflow import targets

    parent = f.target(session)
    child = f.target(session, parent_id=parent.id)
    session.commit()
    with session.begin():
        found = targets.preload(session, [child.id, parent.id, 2_000_000_000])
    assert set(found) == {child.id}
    assert found[child.id]["version"] == child.version and found[child.id]["parent_id"] == parent.id
