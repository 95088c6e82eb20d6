"""Functions run in child processes by the concurrency and crash tests (importable for spawn)."""
from __future__ import annotations

import time

from sqlalchemy import event
from sqlmodel import Session

from engine.people.actors import Actor
from engine.store.db import make_engine
from engine.store.errors import DomainError
from tests.engine.lifecycle import step


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
            time.sleep(3600)

        step(session, target_id, trigger, actor)


def fire_forever(url, target_ids, actor: Actor, committed) -> None:
    """Report progress on the targets round and round until killed; release ``committed`` after each commit."""
    bind = make_engine(url)
    with Session(bind, expire_on_commit=False) as session:
        while True:
            for target_id in target_ids:
                step(session, target_id, "report_progress", actor)
                committed.release()
