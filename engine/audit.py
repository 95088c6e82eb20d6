"""The tamper-evident transition history: an append-only chain of SHA-256 hashes.

Each record hashes its canonical content together with the previous record's hash, so
editing a field, deleting a record or reordering records breaks the chain from that point.
The chain head (:class:`~engine.models.ChainHead`) pins the length and the last hash, so
cutting records off the end is detected as well. Appends are serialised on the head row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock, taken at BEGIN IMMEDIATE):
two writers never fork the chain.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlmodel import Session, select

from engine import db
from engine.models import ChainHead, TransitionRecord

GENESIS = "0" * 64


def canonical(record: Any) -> bytes:
    """The bytes a record's hash covers: every field but the hash, in a fixed form."""
    content = {
        "id": record.id,
        "target_id": record.target_id,
        "kind": record.kind,
        "actor": record.actor,
        "role": record.role,
        "trigger": record.trigger,
        "from": record.from_state,
        "to": record.to_state,
        "at": _timestamp(record.at),
        "comment": record.comment,
        "payload": record.payload,
        "prev": record.prev_hash,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:  # a database without time zones gives UTC without an offset
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def digest(record: Any) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def lock_head(session: Session) -> ChainHead:
    """The chain head, locked for this transaction (the first migration creates it)."""
    query = select(ChainHead).where(ChainHead.id == 1).execution_options(populate_existing=True)
    if not db.is_sqlite(session):
        query = query.with_for_update()
    head = session.exec(query).first()
    if head is None:
        raise RuntimeError("the audit chain has no head row: run `kaoping init` to set up the database")
    return head


def append(session: Session, **fields: Any) -> TransitionRecord:
    """Append a record with ``fields`` to the chain; flushes, does not commit."""
    head = lock_head(session)
    record = TransitionRecord(id=head.last_id + 1, prev_hash=head.last_hash or GENESIS, hash="", **fields)
    record.hash = digest(record)
    session.add(record)
    head.count += 1
    head.last_id = record.id
    head.last_hash = record.hash
    session.flush()
    return record


@dataclass(frozen=True)
class ChainCheck:
    """The result of checking the whole chain."""

    count: int
    ok: bool
    first_bad_id: int | None = None
    reason: str = ""


def verify(session: Session, *, batch: int = 2000) -> ChainCheck:
    """Check every record of the chain in order, and the head; report the first that fails."""
    expected_prev, expected_id, count = GENESIS, 1, 0
    # Plain rows, streamed: checking a long chain must not load it into the session.
    table = TransitionRecord.__table__
    rows = session.connection().execute(select(table).order_by(table.c.id).execution_options(yield_per=batch))
    for record in rows:
        if record.id != expected_id:
            return ChainCheck(count, False, record.id, f"记录编号不连续：应为 {expected_id}，实为 {record.id}（记录被删除或插入）")
        if record.prev_hash != expected_prev:
            return ChainCheck(count, False, record.id, "前一条记录的哈希不符（记录被删除、插入或重排）")
        if digest(record) != record.hash:
            return ChainCheck(count, False, record.id, "记录内容与其哈希不符（记录被修改）")
        expected_prev, expected_id, count = record.hash, expected_id + 1, count + 1
    head = session.get(ChainHead, 1)
    head_count, head_hash = (head.count, head.last_hash) if head else (0, GENESIS)
    if head_count != count or (count and head_hash != expected_prev):
        return ChainCheck(count, False, count + 1 if head_count > count else None,
                          f"链头记载 {head_count} 条记录，实有 {count} 条（末尾记录被删除或链头被改动）")
    return ChainCheck(count, True)
