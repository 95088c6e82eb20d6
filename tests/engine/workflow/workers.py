"""Functions run in child processes by the concurrency and crash tests (importable for spawn)."""
from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading

from sqlalchemy import event
from sqlmodel import Session

from engine.people.actors import Actor
from engine.store.db import make_engine
from engine.store.errors import DomainError
from engine.workflow.writer import GroupWriter
from tests.engine.lifecycle import PAYLOADS, step


def fire_once(url, target_id, trigger, actor: Actor, expected_version, barrier, results) -> None:
    """Wait for every sibling, fire once, report the outcome ("ok" or the error code)."""
    bind = make_engine(url)
    with Session(bind, expire_on_commit=False) as session:
        barrier.wait()
        try:
            step(session, target_id, trigger, actor, expected_version=expected_version)
            results.put("ok")
        except DomainError as exc:
            results.put(exc.code)
        except Exception as exc:  # noqa: BLE001 - report anything else to the test
            results.put(f"error: {type(exc).__name__}: {exc}")
    bind.dispose()


def fire_and_hang(url, target_id, trigger, actor: Actor, flushed) -> None:
    """Fire, but stop forever after the flush, before the commit: the parent kills us there."""
    bind = make_engine(url)
    with Session(bind, expire_on_commit=False) as session:
        @event.listens_for(session, "before_commit")
        def _hang(_session):
            flushed.set()
            _until_killed()

        step(session, target_id, trigger, actor)


def fire_forever(url, target_ids, actor: Actor, committed, allowed=None) -> None:
    """Report progress on the targets round and round until killed; release ``committed`` after each commit.
    ``allowed``: a semaphore to take before each fire (the parent's bound on how many it may start)."""
    bind = make_engine(url)
    with Session(bind, expire_on_commit=False) as session:
        while True:
            for target_id in target_ids:
                if allowed is not None:
                    allowed.acquire()
                step(session, target_id, "report_progress", actor)
                committed.release()


def _until_killed() -> None:
    """Block this process for good: the parent, which waited for our event, kills it here."""
    threading.Event().wait()


def group_fire_and_hang(url, target_ids, trigger, actor: Actor, reached) -> None:
    """Hand one fire per target to a group writer, all in one batch; stop forever just before its COMMIT."""
    def hang(_count):
        reached.set()
        _until_killed()

    writer = GroupWriter(make_engine(url), before_commit=hang)
    payload, comment = PAYLOADS[trigger]
    with writer.held():
        for target_id in target_ids:
            threading.Thread(target=writer.fire, kwargs=dict(target_id=target_id, trigger=trigger, actor=actor,
                                                             payload=payload, comment=comment), daemon=True).start()
        writer.wait_queued(len(target_ids))
    _until_killed()


def group_fire_forever(url, target_ids, actor: Actor, committed, allowed) -> None:
    """One thread per target reports progress through a group writer until killed; ``committed`` after each,
    ``allowed`` taken before each (as :func:`fire_forever`)."""
    writer = GroupWriter(make_engine(url))
    payload, comment = PAYLOADS["report_progress"]

    def loop(target_id):
        while True:
            allowed.acquire()
            writer.fire(target_id=target_id, trigger="report_progress", actor=actor, payload=payload, comment=comment)
            committed.release()

    for target_id in target_ids:
        threading.Thread(target=loop, args=(target_id,), daemon=True).start()
    _until_killed()


def kill_after_commits(worker, args, *, rounds: int, fewest: int, most: int, beyond: int = 1,
                       seed: int = 20241231) -> int:
    """``rounds`` times: start ``worker(*args, committed, allowed)`` in a fresh process and kill -9 it after a random
    number (``fewest`` to ``most``) of the commits it announced, whatever the machine's speed: the kill lands
    somewhere in what follows (reading, flushing, committing). The worker may start only ``beyond`` fires more
    than those (it takes ``allowed`` before each), so that however late the kill lands, at most ``beyond`` fires
    per round are committed without being announced. Returns the commits announced."""
    spawn, rng, commits = multiprocessing.get_context("spawn"), random.Random(seed), 0
    for _ in range(rounds):
        wanted = rng.randint(fewest, most)
        committed, allowed = spawn.Semaphore(0), spawn.Semaphore(wanted + beyond)
        proc = spawn.Process(target=worker, args=(*args, committed, allowed))
        proc.start()
        for _ in range(wanted):
            assert committed.acquire(timeout=300), "the child never committed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)
        commits += wanted
    return commits
