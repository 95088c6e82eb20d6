"""The tamper-evident transition history: an append-only chain of SHA-256 hashes.

Each record hashes its canonical content together with the previous record's hash, so
editing a field, deleting a record or reordering records breaks the chain from that point.
The chain head (:class:`~engine.store.models.ChainHead`) pins the length and the last hash, so
cutting records off the end is detected as well. Appends are serialised on the head row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock, taken at BEGIN IMMEDIATE):
two writers never fork the chain.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, select

from engine.audit import offline_verifier
from engine.store import cells, db, rows
from engine.store.models import ChainHead, TransitionRecord

GENESIS = offline_verifier.GENESIS


canonical, digest, _timestamp = offline_verifier.canonical, offline_verifier.digest, offline_verifier.timestamp


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
    return extend(session, [fields])[0]


def extend(session: Session, entries: list[dict[str, Any]]) -> list[TransitionRecord]:
    """Append many records (each given by its fields) under one lock of the head; flushes."""
    head = lock_head(session)
    records = []
    for fields in entries:
        record = TransitionRecord(id=head.last_id + 1, prev_hash=head.last_hash or GENESIS, hash="", **fields)
        record.hash = digest(record)
        head.count, head.last_id, head.last_hash = head.count + 1, record.id, record.hash
        records.append(record)
    session.add_all(records)
    session.flush()
    return records


_RECORDS = TransitionRecord.__table__
_INSERT_RECORD = insert(_RECORDS)
_HEADS = ChainHead.__table__
_MOVE_HEAD = update(_HEADS).where(_HEADS.c.id == 1)


def append_at(session: Session, head: ChainHead, *, connection=None, **fields: Any) -> TransitionRecord:
    """Append a record to the chain whose head the caller read under the chain lock (see
    :func:`engine.workflow.targets.load_for_fire`): one INSERT, one UPDATE of the head, no
    unit of work. ``head`` moves on with it. Does not commit."""
    values = {"id": head.last_id + 1, "prev_hash": head.last_hash or GENESIS, **fields}
    values["hash"] = digest(_Fields(values))
    connection = connection or session.connection()
    connection.execute(_INSERT_RECORD, values)
    moved = {"count": head.count + 1, "last_id": values["id"], "last_hash": values["hash"]}
    connection.execute(_MOVE_HEAD, moved)
    rows.committed(head, moved)
    return rows.known_or_detached(session, TransitionRecord, values)


class _Fields:
    """A record's values as attributes, for :func:`canonical`."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


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
    code: str | None = None  # the target's code as the plan writes it (1-2-1)
    state: str | None = None  # the state the record led to


@dataclass(frozen=True)
class Labels:
    """Words for the codes of a record (actions, states, roles), for the table and the exports."""

    triggers: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)


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
    if filters.code:
        from engine.store.models import Target

        query = query.where(exists().where(Target.id == TransitionRecord.target_id, Target.code == filters.code.strip()))
    if filters.state:
        query = query.where(TransitionRecord.to_state == filters.state)
    if filters.section:
        query = query.where(exists().where(Assignment.target_id == TransitionRecord.target_id,
                                           Assignment.kind == "section", Assignment.name == filters.section))
    if filters.since:
        query = query.where(TransitionRecord.at >= _in_utc(filters.since))
    if filters.until:
        query = query.where(TransitionRecord.at < _in_utc(filters.until))
    return query


def _unfiltered(filters: AuditFilter) -> bool:
    return not any(vars(filters).values())


def count(*, session: Session, filters: AuditFilter) -> int:
    """How many records match ``filters``: without filters the chain head's count (no scan)."""
    from sqlalchemy import func

    if _unfiltered(filters):
        head = session.get(ChainHead, 1, populate_existing=True)
        return head.count if head else 0
    return session.exec(select(func.count()).select_from(_filtered(filters).subquery())).one()


def search(*, session: Session, filters: AuditFilter, limit: int | None, offset: int = 0) -> tuple[list[TransitionRecord], int]:
    """Records matching ``filters``, oldest first, and how many there are in all."""
    total = count(session=session, filters=filters)
    page = _filtered(filters).order_by(TransitionRecord.id).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return list(session.exec(page)), total


def page_after(*, session: Session, filters: AuditFilter, after: int, limit: int) -> tuple[list[TransitionRecord], int | None]:
    """Keyset paging: up to ``limit`` matching records with an id above ``after``, oldest first, and
    the ``after`` of the next page (``None`` on the last). Costs the same at any depth; counts nothing."""
    rows = list(session.exec(_filtered(filters).where(TransitionRecord.id > after)
                             .order_by(TransitionRecord.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def page_before(*, session: Session, filters: AuditFilter, before: int,
                limit: int) -> tuple[list[TransitionRecord], int | None]:
    """Keyset paging backwards: up to ``limit`` matching records with an id below ``before``, oldest
    first, and the ``before`` of the page before them (``None`` when there is none)."""
    rows = list(session.exec(_filtered(filters).where(TransitionRecord.id < before)
                             .order_by(TransitionRecord.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit][::-1]
    return rows, (rows[0].id if more else None)


def history(*, session: Session, target_id: int) -> list[TransitionRecord]:
    """A target's transition records, oldest first."""
    return search(session=session, filters=AuditFilter(target_id=target_id), limit=None)[0]


EXPORT_COLUMNS = ("序号", "时间", "目标编号", "操作人", "角色", "操作", "原状态", "新状态", "意见", "内容", "哈希", "前一哈希")


def export_rows(session: Session, filters: AuditFilter, labels: Labels | None = None) -> list[list[Any]]:
    """The matching records as table rows (local time, target codes, words for the codes), for CSV or XLSX export."""
    return list(iter_export_rows(session, filters, labels))


def iter_export_rows(session: Session, filters: AuditFilter, labels: Labels | None = None, *,
                     batch: int = 2000) -> Iterator[list[Any]]:
    """:func:`export_rows` one batch of records at a time (keyset): memory stays flat however many match."""
    words = labels or Labels()
    state = lambda name: words.states.get(name, name) if name else ""  # noqa: E731
    after: int | None = 0
    while after is not None:
        records, after = page_after(session=session, filters=filters, after=after, limit=batch)
        codes = target_codes(session, records)
        for r in records:
            yield [r.id, _local(r.at), codes.get(r.target_id, ""), r.actor, words.roles.get(r.role, r.role),
                   words.triggers.get(r.trigger, r.trigger), state(r.from_state), state(r.to_state), r.comment,
                   json.dumps(r.payload, ensure_ascii=False, sort_keys=True), r.hash, r.prev_hash]


def _local(moment: datetime) -> str:
    from engine.calendar.clock import local

    return local(moment).strftime("%Y-%m-%d %H:%M:%S")


def export_csv(session: Session, filters: AuditFilter, labels: Labels | None = None) -> bytes:
    """CSV with a BOM, so that spreadsheet programs read the Chinese correctly."""
    return b"".join(stream_csv(session, filters, labels))


def stream_csv(session: Session, filters: AuditFilter, labels: Labels | None = None, *,
               batch: int = 2000) -> Iterator[bytes]:
    """:func:`export_csv` in pieces of about ``batch`` rows, for a streamed download."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    first, count = True, 0
    for row in iter_export_rows(session, filters, labels, batch=batch):
        writer.writerow([cells.inert(v) for v in row])
        count += 1
        if count % batch == 0:
            yield buffer.getvalue().encode("utf-8-sig" if first else "utf-8")
            buffer.seek(0)
            buffer.truncate()
            first = False
    yield buffer.getvalue().encode("utf-8-sig" if first else "utf-8")


def export_xlsx(session: Session, filters: AuditFilter, labels: Labels | None = None) -> bytes:
    return b"".join(stream_xlsx(session, filters, labels))


def stream_xlsx(session: Session, filters: AuditFilter, labels: Labels | None = None, *,
                piece: int = 1 << 16) -> Iterator[bytes]:
    """The XLSX export in pieces of ``piece`` bytes. The workbook is written row by row to a
    temporary file (openpyxl's write-only mode), then sent: memory stays flat however many match."""
    import tempfile

    with tempfile.TemporaryFile() as file:
        _write_xlsx(session, filters, labels, file)
        file.seek(0)
        while chunk := file.read(piece):
            yield chunk


def _write_xlsx(session: Session, filters: AuditFilter, labels: Labels | None, file) -> None:
    from openpyxl import Workbook

    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("流转记录")
    sheet.append(EXPORT_COLUMNS)
    for row in iter_export_rows(session, filters, labels):
        row_cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            cells.as_text(cell)
            row_cells.append(cell)
        sheet.append(row_cells)
    book.save(file)


def stream_json(session: Session, filters: AuditFilter, *, batch: int = 2000) -> Iterator[bytes]:
    """The matching records as one JSON array of objects (codes as stored, times in ISO 8601 with
    their offset, payloads as objects), in pieces of about ``batch`` records."""
    from engine.calendar.clock import local

    yield b"["
    after: int | None = 0
    first = True
    while after is not None:
        records, after = page_after(session=session, filters=filters, after=after, limit=batch)
        codes = target_codes(session, records)
        items = [json.dumps({"id": r.id, "at": local(r.at).isoformat(), "target_id": r.target_id,
                             "target_code": codes.get(r.target_id), "kind": r.kind, "actor": r.actor, "role": r.role,
                             "trigger": r.trigger, "from_state": r.from_state, "to_state": r.to_state,
                             "comment": r.comment, "payload": r.payload, "hash": r.hash, "prev_hash": r.prev_hash},
                            ensure_ascii=False, sort_keys=True) for r in records]
        if items:
            yield (("\n" if first else ",\n") + ",\n".join(items)).encode("utf-8")
            first = False
    yield b"\n]\n"


def target_codes(session: Session, records: list[TransitionRecord]) -> dict[int, str]:
    """The codes of the targets some records speak of, in one query."""
    from engine.store.models import Target

    ids = {r.target_id for r in records if r.target_id is not None}
    if not ids:
        return {}
    return dict(session.exec(select(Target.id, Target.code).where(Target.id.in_(ids))).all())
