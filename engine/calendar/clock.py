"""One clock for the whole engine, so that tests and demos can travel in time.

Everything that asks "what time is it" calls :func:`now` or :func:`today`; nothing calls
``datetime.now()`` directly. Times are aware and in the bureau's zone (Asia/Shanghai);
the database stores them in UTC (:func:`to_db`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")


class Clock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(ZONE)


class FrozenClock(Clock):
    """A clock that stands still until it is moved."""

    def __init__(self, at: datetime) -> None:
        self.at = at if at.tzinfo else at.replace(tzinfo=ZONE)

    def now(self) -> datetime:
        return self.at.astimezone(ZONE)

    def move(self, delta: timedelta) -> None:
        self.at += delta


_current: Clock = Clock()


def now() -> datetime:
    """The current time, aware, in Asia/Shanghai."""
    return _current.now()


def today() -> date:
    """Today's date in Asia/Shanghai."""
    return now().date()


def to_db(moment: datetime) -> datetime:
    """Aware UTC, the form timestamps take in the database."""
    return moment.astimezone(timezone.utc)


def local(moment: datetime) -> datetime:
    """A timestamp from the database as Asia/Shanghai time (naive is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(ZONE)


def use(clock: Clock) -> Clock:
    """Install ``clock`` as the engine's clock; returns the previous one."""
    global _current
    previous, _current = _current, clock
    return previous


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[FrozenClock]:
    """Freeze time at ``at`` (naive means Asia/Shanghai) for the duration of the block."""
    clock = FrozenClock(at)
    previous = use(clock)
    try:
        yield clock
    finally:
        use(previous)
