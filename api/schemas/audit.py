"""Request and response shapes of the API: audit."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from engine.calendar import clock
from engine.store.models import TransitionRecord


class RecordPublic(BaseModel):
    id: int
    target_id: int | None
    kind: str
    actor: str
    role: str
    trigger: str
    from_state: str | None
    to_state: str | None
    at: datetime
    comment: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class RecordsPublic(BaseModel):
    data: list[RecordPublic]
    #: How many match in all; not counted on keyset pages (``after`` given).
    count: int | None
    #: The ``after`` that asks for the next page; ``None`` on the last page.
    next_after: int | None = None


class ChainCheckPublic(BaseModel):
    count: int
    ok: bool
    first_bad_id: int | None
    reason: str
    #: Objects whose current state is not what the replayed history says (first first).
    differences: list[str] = []
    report: list[str] = []


class AuditKeyPublic(BaseModel):
    """The public half of the checkpoint signing key, and the newest checkpoint."""

    public_key: str | None
    fingerprint: str | None
    latest_checkpoint: dict[str, Any] | None


def record_public(record: TransitionRecord) -> RecordPublic:
    return RecordPublic(id=record.id, target_id=record.target_id, kind=record.kind, actor=record.actor,
                        role=record.role, trigger=record.trigger, from_state=record.from_state,
                        to_state=record.to_state, at=clock.local(record.at), comment=record.comment,
                        payload=record.payload, prev_hash=record.prev_hash, hash=record.hash)
