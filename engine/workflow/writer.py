"""Group commit: the fires that arrive together in a process share one transaction and one commit.

A :class:`GroupWriter` is the single writer of one database in the process. Callers hand it a
fire (:meth:`GroupWriter.fire`) and wait; its thread takes what has queued up (at most
``write_batch`` fires; when the last batch held more than one, it waits up to ``write_wait_ms``
for more), opens one write transaction, and runs each fire through the one door, :func:`fire`,
in a session of its own joined to that transaction by a SAVEPOINT. A fire that fails rolls back
to its savepoint (its evidence files are removed) and only its caller gets the error; the others
go on. One COMMIT ends the batch; if it fails, every caller of the batch gets the error and no
file of the batch stays. The targets of a batch are read (and on PostgreSQL locked) by one
statement before its first fire (:func:`targets.preload`); each fire appends at the chain head the
previous one left, inside the transaction, so the chain grows in the order the fires ran.

SQLite: one writer per database in the process, so its threads never poll the write lock. The
writers of several processes on one SQLite file (``kaoping serve --workers N``) take turns through
an operating-system lock beside the database (``<file>-writer.lock``), waiting in the kernel
rather than in SQLite's sleep-and-retry; the lock dies with its process. PostgreSQL: one commit
(one WAL flush) per batch instead of per transition, the row locks held until it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from engine.store import db
from engine.store.config import settings
from engine.store.errors import DomainError
from engine.workflow import commands, evidence, targets


#: Seconds a writer's thread waits without work before it ends.
IDLE = 30.0


class WriterClosed(DomainError):
    """The writer stopped before it could take the fire: nothing was written."""

    code = "writer_closed"


#: A fire that lost a lock conflict (PostgreSQL's deadlock or serialization failure) runs again, this often at most.
ATTEMPTS = 3
_CONFLICTS = {"40P01", "40001"}


@dataclass
class _Request:
    kwargs: dict[str, Any]
    then: Callable[[Session, commands.Fired], Any] | None = None
    future: Future = field(default_factory=Future)
    attempts: int = 0


class GroupWriter:
    """The one writer of ``engine``'s database in this process (see the module's text).

    ``size`` and ``wait`` (seconds) default to the settings ``write_batch`` and ``write_wait_ms``.
    ``before_commit(count)`` is called in the writer's thread with the batch's successful fires
    just before its COMMIT (tests stop a batch there).
    """

    def __init__(self, engine: Engine, *, size: int | None = None, wait: float | None = None,
                 before_commit: Callable[[int], None] | None = None) -> None:
        config = settings()
        self.engine = engine
        self.size = max(1, size if size is not None else config.write_batch)
        self.wait = max(0.0, wait if wait is not None else config.write_wait_ms / 1000)
        self.before_commit = before_commit
        self._queue: deque[_Request] = deque()
        self._changed = threading.Condition()
        self._closed = False
        self._held = 0
        self._last_batch = 1
        self._thread: threading.Thread | None = None
        self._lock_path = _lock_path(engine)
        #: How many batches and fires the writer committed (for the benchmarks).
        self.batches = 0
        self.fires = 0

    def fire(self, *, then: Callable[[Session, commands.Fired], Any] | None = None, **kwargs: Any) -> Any:
        """Fire through the group: the arguments of :func:`commands.fire` but ``session``.

        Blocks until the batch holding it committed; returns what :func:`commands.fire` returns
        (its objects detached, their values loaded) or raises what it raised. ``then(session, fired)``,
        if given, runs right after the fire in the same transaction (it reads what the fire wrote, on
        the same connection; what it writes is undone) and its result is returned instead; should it
        fail, the fire is still committed and its caller gets the error.
        """
        return self.submit(then=then, **kwargs).result()

    def submit(self, *, then: Callable[[Session, commands.Fired], Any] | None = None, **kwargs: Any) -> Future:
        """Hand a fire to the group without waiting: :meth:`fire`'s arguments; the future holds what
        :meth:`fire` returns or raises once the batch holding it committed (an event loop awaits it with
        ``asyncio.wrap_future`` instead of holding a thread). Raises :class:`WriterClosed` at once when
        the writer stopped."""
        request = _Request(kwargs, then)
        with self._changed:
            if self._closed:
                raise WriterClosed("服务正在停止，本次操作未执行，请稍后重试")
            self._queue.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kaoping-writer", daemon=True)
                self._thread.start()
            self._changed.notify_all()
        return request.future

    def close(self) -> None:
        """Stop taking fires; those already handed in are still written (or refused with their error)."""
        with self._changed:
            self._closed = True
            self._held = 0
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Let fires queue up without running them until the block ends (they then run together)."""
        with self._changed:
            self._held += 1
        try:
            yield
        finally:
            with self._changed:
                self._held -= 1
                self._changed.notify_all()

    def wait_queued(self, count: int, timeout: float = 60) -> bool:
        """Wait until ``count`` fires are queued and not yet taken; whether they are."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._queue) >= count, timeout=timeout)

    def _take(self) -> list[_Request]:
        with self._changed:
            ready = self._changed.wait_for(lambda: self._closed or (self._queue and not self._held), timeout=IDLE)
            if not self._queue or not ready:
                self._thread = None  # closed, or idle a while (the next fire starts a thread again)
                return []
            if self.wait and self._last_batch > 1 and len(self._queue) < self.size and not self._closed:
                # Others were writing a moment ago: give them a few ms to join this commit.
                self._changed.wait_for(lambda: len(self._queue) >= self.size or self._closed, timeout=self.wait)
            batch = [self._queue.popleft() for _ in range(min(self.size, len(self._queue)))]
        self._last_batch = len(batch)
        return batch

    def _run(self) -> None:
        while batch := self._take():
            try:
                again = self._write(batch)
            except BaseException as exc:  # noqa: BLE001 - every caller of the batch hears of it
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            if again:
                with self._changed:
                    self._queue.extendleft(reversed(again))

    def _write(self, batch: list[_Request]) -> list[_Request]:
        """Run ``batch`` in one transaction; returns the fires to run again in the next (lock conflicts).

        First together, without savepoints: a fire refused before it changed anything (the usual
        failure: a stale version, a guard, a role) leaves the transaction as it was. Should a fire fail
        after it began to change, the transaction is rolled back and the batch runs again with a
        SAVEPOINT around each fire."""
        try:
            outcomes = self._write_together(batch)
        except _Apart:
            return self._write_apart(batch)
        self._answer(outcomes)
        return []

    def _write_together(self, batch: list[_Request]) -> list[tuple[_Request, Any]]:
        outcomes: list[tuple[_Request, Any]] = []
        try:
            with self._cross_process_lock(), self.engine.connect() as connection:
                connection.execution_options(**{db.WRITE: True})
                with connection.begin() as transaction, Session(
                        bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False,
                        info={commands.GROUPED: True}) as session:
                    preloaded = _preload(session, batch)
                    for request in batch:
                        try:
                            fired = commands.fire(session=session, **request.kwargs,
                                                  preloaded=preloaded.pop(request.kwargs.get("target_id"), None))
                        except DomainError as exc:
                            if not transaction.is_active:  # it had begun to change: rolled back
                                raise _Apart from exc
                            outcomes.append((request, _Failed(exc)))
                            continue
                        except Exception as exc:  # a database error: the transaction is gone
                            raise _Apart from exc
                        outcomes.append((request, (fired, _then_together(session, request, fired, transaction))))
                        session.expunge_all()  # the next fire reads its own objects; this one's stay as they are
                    self._before_commit(outcomes)
        except BaseException:
            _discard(outcomes)
            raise
        return outcomes

    def _answer(self, outcomes: list[tuple[_Request, Any]]) -> None:
        self.batches += 1
        for request, outcome in outcomes:
            if isinstance(outcome, _Failed):
                request.future.set_exception(outcome.error)
                continue
            fired, then = outcome
            self.fires += 1
            if isinstance(then, _Failed):
                request.future.set_exception(then.error)
            else:
                request.future.set_result(fired if request.then is None else then)

    def _write_apart(self, batch: list[_Request]) -> list[_Request]:
        """The batch in one transaction, each fire in a SAVEPOINT of its own (see :meth:`_write`)."""
        outcomes: list[tuple[_Request, Any]] = []
        again: list[_Request] = []
        try:
            with self._cross_process_lock(), self.engine.connect() as connection:
                connection.execution_options(**{db.WRITE: True})
                with connection.begin():
                    for number, request in enumerate(batch):
                        # Its own session, joined by a SAVEPOINT: fire's commit releases it, its rollback undoes
                        # this fire alone.
                        with Session(bind=connection, join_transaction_mode="create_savepoint",
                                     expire_on_commit=False) as session:
                            try:
                                fired = commands.fire(session=session, **request.kwargs)
                            except Exception as exc:  # noqa: BLE001 - this caller's error, the batch goes on
                                request.attempts += 1
                                if _lock_conflict(exc) and request.attempts < ATTEMPTS:
                                    # Another process's transaction waits for locks this batch holds (a batch
                                    # takes targets after a chain head): commit what ran, run the rest anew.
                                    again = batch[number:]
                                    break
                                outcomes.append((request, _Failed(exc)))
                                continue
                            outcomes.append((request, (fired, _then(session, request, fired))))
                    self._before_commit(outcomes)
        except BaseException:
            _discard(outcomes)
            raise
        self._answer(outcomes)
        return again

    def _before_commit(self, outcomes: list[tuple[_Request, Any]]) -> None:
        if self.before_commit is not None:
            self.before_commit(sum(1 for _, outcome in outcomes if not isinstance(outcome, _Failed)))

    @contextlib.contextmanager
    def _cross_process_lock(self) -> Iterator[None]:
        if self._lock_path is None:
            yield
            return
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _lock_conflict(exc: Exception) -> bool:
    """Whether the database refused the statement to break a lock conflict (it may simply run again)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _CONFLICTS


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _discard(outcomes: list[tuple[_Request, Any]]) -> None:
    """The files of a batch's fires that were not committed after all."""
    for _, outcome in outcomes:
        if not isinstance(outcome, _Failed):
            evidence.discard(list(outcome[0].stored))


class _Apart(Exception):
    """A fire of a batch run together failed after it began to change: run the batch apart."""


def _preload(session: Session, batch: list[_Request]) -> dict[int, dict]:
    """The targets of a batch of several fires read at once (:func:`targets.preload`): one round trip instead of
    one per fire. A database error here (a lock conflict) sends the batch to run apart."""
    if len(batch) < 2:
        return {}
    try:
        return targets.preload(session, [r.kwargs["target_id"] for r in batch
                                         if isinstance(r.kwargs.get("target_id"), int)])
    except Exception as exc:
        raise _Apart from exc


def _then_together(session: Session, request: _Request, fired: commands.Fired, transaction) -> Any:
    """The caller's follow-up in a batch run together: it only reads (what it leaves pending is
    expunged with the fire's objects, never flushed); its refusal is the caller's alone, a database
    error sends the batch apart."""
    if request.then is None:
        return None
    try:
        with session.no_autoflush:
            return request.then(session, fired)
    except DomainError as exc:
        if not transaction.is_active:
            raise _Apart from exc
        return _Failed(exc)
    except Exception as exc:
        raise _Apart from exc


def _then(session: Session, request: _Request, fired: commands.Fired) -> Any:
    """The caller's follow-up, in a savepoint of its own: rolled back after (it only reads), or on its error."""
    if request.then is None:
        return None
    try:
        return request.then(session, fired)
    except Exception as exc:  # noqa: BLE001 - the caller's, after the fire that stays
        return _Failed(exc)
    finally:
        session.rollback()


def _lock_path(engine: Engine) -> str | None:
    """The SQLite file's writer lock beside it; none for PostgreSQL or a database in memory."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return None
    return f"{url.database}-writer.lock"
