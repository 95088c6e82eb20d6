"""Writing notifications into the outbox, inside the transaction of the change they report.

The engine names recipients as the plan does (a person, a section, a role); the dispatcher
(``notifications``) resolves them to users and channels and delivers.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from engine.calendar import clock
from engine.people.actors import Parties
from engine.store import rows
from engine.store.direct import Direct
from engine.store.models import OutboxEvent

_INSERT = Direct(insert(OutboxEvent.__table__))
#: The columns of a message :func:`row` gives, but the record it reports (``record_id``).
COLUMNS = ("event_type", "target_id", "recipients", "data", "status", "attempts", "available_at", "last_error",
           "created_at")


def prepare(connection) -> None:
    """Compile :func:`write`'s statement for ``connection``'s database before a first message needs it."""
    _INSERT.prepare(connection, (*COLUMNS, "record_id"))


def recipients(notify: tuple[str, ...] | list[str], parties: Parties) -> list[dict[str, str]]:
    """Turn a definition's recipient names into concrete addressees, without repeats."""
    out: list[dict[str, str]] = []
    for name in notify:
        if name == "responsible":
            out += [{"kind": "person", "name": person} for person in parties.persons]
        elif name == "sections":
            out += [{"kind": "section", "name": section} for section in parties.sections]
        elif name == "leaders":
            out += [{"kind": "person", "name": leader} for leader in parties.leaders]
        elif name == "office":
            out.append({"kind": "role", "name": "office"})
    unique = {(r["kind"], r["name"]): r for r in out}
    return list(unique.values())


def emit(
    session: Session,
    *,
    event_type: str,
    target_id: int | None,
    record_id: int | None,
    notify: tuple[str, ...] | list[str],
    parties: Parties,
    data: dict[str, Any],
) -> OutboxEvent | None:
    """Add an outbox event (flushed with the caller's transaction); ``None`` when nobody is to be told."""
    to = recipients(notify, parties)
    if not to:
        return None
    event = OutboxEvent(event_type=event_type, target_id=target_id, record_id=record_id, recipients=to, data=data)
    session.add(event)
    return event


def row(event: dict[str, Any], now=None) -> dict[str, Any] | None:
    """The outbox row of ``event`` (:func:`emit`'s keyword arguments), pending from ``now`` (default: now);
    ``None``: nobody to tell. For a statement that writes it along with the change it reports."""
    now = now if now is not None else clock.to_db(clock.now())
    to = recipients(event["notify"], event["parties"])
    if not to:
        return None
    return {"event_type": event["event_type"], "target_id": event["target_id"], "record_id": event["record_id"],
            "recipients": to, "data": event["data"], "status": "pending", "attempts": 0, "available_at": now,
            "last_error": "", "created_at": now}


def write(session: Session, *, connection=None, **event: Any) -> bool:
    """:func:`emit` (the same keyword arguments) as one INSERT, now, without the unit of work — the
    one door's way; ``False`` when nobody is to be told."""
    values = row(event)
    if values is None:
        return False
    _INSERT.count(connection or session.connection(), values)
    return True


def write_many(session: Session, events: list[dict[str, Any]], *, connection=None) -> int:
    """:func:`write` for the several events of one change (each given by :func:`emit`'s keyword arguments):
    one INSERT for all; how many were written (an event telling nobody is left out)."""
    now = clock.to_db(clock.now())
    found = [values for event in events if (values := row(event, now)) is not None]
    rows.insert_few(connection or session.connection(), OutboxEvent.__table__, found, keys=False)
    return len(found)
