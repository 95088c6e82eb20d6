"""The tamper-evident transition history: an append-only chain of SHA-256 hashes.

Each record hashes its canonical content together with the previous record's hash, so
editing a field, deleting a record or reordering records breaks the chain from that point.
The chain head (:class:`~engine.store.models.ChainHead`) pins the length and the last hash, so
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

from engine.store import cells, db
from engine.store.models import ChainHead, TransitionRecord

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
    # The head first: records appended while the check runs (after this read) are not its business,
    # whatever the isolation level; they are checked next time.
    head = session.get(ChainHead, 1, populate_existing=True)
    head_count, head_hash, head_last = (head.count, head.last_hash, head.last_id) if head else (0, GENESIS, 0)
    # Plain rows, streamed: checking a long chain must not load it into the session.
    table = TransitionRecord.__table__
    rows = session.connection().execute(select(table).where(table.c.id <= max(head_last, head_count))
                                        .order_by(table.c.id).execution_options(yield_per=batch))
    for record in rows:
        if record.id != expected_id:
            return ChainCheck(count, False, record.id, f"记录编号不连续：应为 {expected_id}，实为 {record.id}（记录被删除或插入）")
        if record.prev_hash != expected_prev:
            return ChainCheck(count, False, record.id, "前一条记录的哈希不符（记录被删除、插入或重排）")
        if digest(record) != record.hash:
            return ChainCheck(count, False, record.id, "记录内容与其哈希不符（记录被修改）")
        expected_prev, expected_id, count = record.hash, expected_id + 1, count + 1
    if head_count != count or (count and head_hash != expected_prev):
        return ChainCheck(count, False, count + 1 if head_count > count else None,
                          f"链头记载 {head_count} 条记录，实有 {count} 条（末尾记录被删除或链头被改动）")
    return ChainCheck(count, True)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    section: str | None = None
    trigger: str | None = None
    target_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _in_utc(moment: datetime) -> datetime:
    """A bound in UTC; one at the very ends of the calendar (9999-12-31 at -14:00) stays at the end."""
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        return (datetime.max if moment.year > 1 else datetime.min).replace(tzinfo=timezone.utc)


def _filtered(filters: AuditFilter):
    from sqlalchemy import exists

    from engine.store.models import Assignment

    query = select(TransitionRecord)
    filters = AuditFilter(**{k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in vars(filters).items()})
    if filters.actor:
        query = query.where(TransitionRecord.actor == filters.actor)
    if filters.trigger:
        query = query.where(TransitionRecord.trigger == filters.trigger)
    if filters.target_id is not None:
        query = query.where(TransitionRecord.target_id == filters.target_id)
    if filters.section:
        query = query.where(exists().where(Assignment.target_id == TransitionRecord.target_id,
                                           Assignment.kind == "section", Assignment.name == filters.section))
    if filters.since:
        query = query.where(TransitionRecord.at >= _in_utc(filters.since))
    if filters.until:
        query = query.where(TransitionRecord.at < _in_utc(filters.until))
    return query


def search(*, session: Session, filters: AuditFilter, limit: int | None, offset: int = 0) -> tuple[list[TransitionRecord], int]:
    """Records matching ``filters``, oldest first, and how many there are in all."""
    from sqlalchemy import func

    query = _filtered(filters)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = query.order_by(TransitionRecord.id).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return list(session.exec(page)), total


def history(*, session: Session, target_id: int) -> list[TransitionRecord]:
    """A target's transition records, oldest first."""
    return search(session=session, filters=AuditFilter(target_id=target_id), limit=None)[0]


EXPORT_COLUMNS = ("序号", "时间", "目标编号", "操作人", "角色", "操作", "原状态", "新状态", "意见", "内容", "哈希", "前一哈希")


def export_rows(session: Session, filters: AuditFilter) -> list[list[Any]]:
    """The matching records as table rows (local time, target codes), for CSV or XLSX export."""
    records, _ = search(session=session, filters=filters, limit=None)
    codes = target_codes(session, records)
    return [[r.id, _local(r.at), codes.get(r.target_id, ""), r.actor, r.role, r.trigger, r.from_state or "",
             r.to_state or "", r.comment, json.dumps(r.payload, ensure_ascii=False, sort_keys=True), r.hash, r.prev_hash]
            for r in records]


def _local(moment: datetime) -> str:
    from engine.calendar.clock import local

    return local(moment).strftime("%Y-%m-%d %H:%M:%S")


def export_csv(session: Session, filters: AuditFilter) -> bytes:
    """CSV with a BOM, so that spreadsheet programs read the Chinese correctly."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows([cells.inert(v) for v in row] for row in export_rows(session, filters))
    return buffer.getvalue().encode("utf-8-sig")


def export_xlsx(session: Session, filters: AuditFilter) -> bytes:
    import io

    from openpyxl import Workbook

    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("流转记录")
    sheet.append(EXPORT_COLUMNS)
    for row in export_rows(session, filters):
        row_cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            cells.as_text(cell)
            row_cells.append(cell)
        sheet.append(row_cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def target_codes(session: Session, records: list[TransitionRecord]) -> dict[int, str]:
    """The codes of the targets some records speak of, in one query."""
    from engine.store.models import Target

    ids = {r.target_id for r in records if r.target_id is not None}
    if not ids:
        return {}
    return dict(session.exec(select(Target.id, Target.code).where(Target.id.in_(ids))).all())
