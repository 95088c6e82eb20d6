"""The tamper-evident transition history: append-only chains of SHA-256 hashes, one per organisation.

Each record hashes its canonical content (with its place in its chain) together with the
previous record's hash, so editing a field, deleting a record or reordering records breaks the
chain from that point. Every organisation has its own chain and head
(:class:`~engine.store.models.ChainHead`, keyed by the organisation's id; 0 is the deployment
chain, for what belongs to no organisation, such as the holiday calendar): the records of a
target go to its organisation's chain, those of a user, a section or a plan to theirs. The head
pins the length and the last hash, so cutting records off the end is detected as well. Appends
are serialised on the head row of their chain only (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite's write lock, taken at BEGIN IMMEDIATE): two writers never fork a chain, and writers in
different organisations do not wait for each other.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, insert, inspect, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from engine.audit import offline_verifier
from engine.store import cells, db, rows
from engine.store.direct import Direct
from engine.store.models import ChainHead, Plan, Target, TransitionRecord

GENESIS = offline_verifier.GENESIS
#: The chain of what belongs to no organisation.
DEPLOYMENT = 0


canonical, digest, _timestamp = offline_verifier.canonical, offline_verifier.digest, offline_verifier.timestamp

_HEADS = ChainHead.__table__
_NEW_HEAD = {"sqlite": sqlite.insert(_HEADS).on_conflict_do_nothing(),
             "postgresql": postgresql.insert(_HEADS).on_conflict_do_nothing()}


def ensure_head(connection: Connection, org_id: int) -> None:
    """The head row of ``org_id``'s chain, made (empty) if the chain has none yet."""
    connection.execute(_NEW_HEAD[connection.dialect.name], {"id": org_id, "count": 0, "last_id": 0, "last_hash": ""})


def lock_head(session: Session, org_id: int = DEPLOYMENT) -> ChainHead:
    """The head of ``org_id``'s chain, locked for this transaction (made on the chain's first record)."""
    query = select(ChainHead).where(ChainHead.id == org_id).execution_options(populate_existing=True)
    if not db.is_sqlite(session):
        query = query.with_for_update()
    head = session.exec(query).first()
    if head is None:
        ensure_head(session.connection(), org_id)
        head = session.exec(query).one()
    return head


def _plan_of(entry: dict[str, Any]) -> Any:
    payload = entry.get("payload")
    return payload.get("plan_id") if isinstance(payload, dict) else None


def chains_of(session: Session, entries: list[dict[str, Any]]) -> list[int]:
    """The chain each entry goes to: its ``org_id`` if given, else its target's organisation, else the
    organisation of the plan it speaks of (``payload.plan_id``), else the deployment's."""
    open_ = [e for e in entries if e.get("org_id") is None]
    targets = {e["target_id"] for e in open_ if e.get("target_id") is not None}
    plans = {_plan_of(e) for e in open_ if e.get("target_id") is None and _plan_of(e) is not None}
    by_target = dict(session.exec(select(Target.id, Target.org_id).where(Target.id.in_(targets))).all()) if targets else {}
    by_plan = dict(session.exec(select(Plan.id, Plan.org_id).where(Plan.id.in_(plans))).all()) if plans else {}

    def chain_of(entry: dict[str, Any]) -> int:
        if entry.get("org_id") is not None:
            return entry["org_id"]
        if entry.get("target_id") is not None:
            return by_target.get(entry["target_id"], DEPLOYMENT)
        return by_plan.get(_plan_of(entry), DEPLOYMENT)

    return [chain_of(e) for e in entries]


def append(session: Session, **fields: Any) -> TransitionRecord:
    """Append a record with ``fields`` to its chain (``org_id``, or its target's); flushes, does not commit."""
    return extend(session, [fields])[0]


def extend(session: Session, entries: list[dict[str, Any]]) -> list[TransitionRecord]:
    """Append many records (each given by its fields) under one lock of each chain's head; flushes."""
    entries = [dict(e) for e in entries]
    chains = chains_of(session, entries)
    heads = lock_heads(session, chains)
    records = []
    for fields, org in zip(entries, chains, strict=True):
        fields.pop("org_id", None)
        head = heads[org]
        record = TransitionRecord(org_id=org, seq=head.count + 1, prev_hash=head.last_hash or GENESIS, hash="", **fields)
        record.hash = digest(record)
        head.count, head.last_hash = record.seq, record.hash
        records.append(record)
    session.add_all(records)
    session.flush()  # the database gives the keys
    for record in records:
        heads[record.org_id].last_id = record.id
    session.flush()
    return records


_RECORDS = TransitionRecord.__table__
#: The columns of a record :func:`next_record` gives (all but its key).
RECORD_COLUMNS = ("org_id", "seq", "prev_hash", "hash", "target_id", "kind", "actor", "role", "trigger", "from_state",
                  "to_state", "at", "comment", "payload")
_INSERT_RECORD = Direct(insert(_RECORDS).returning(_RECORDS.c.id))
_MOVE_HEAD = update(_HEADS).where(_HEADS.c.id == bindparam("_chain"))
_MOVE_HEAD_DIRECT = Direct(_MOVE_HEAD)
_HEAD_MOVES = ("count", "last_id", "last_hash", "_chain")


def prepare(connection: Connection) -> None:
    """Compile :func:`append_at`'s statements for ``connection``'s database before a first record needs them."""
    _INSERT_RECORD.prepare(connection, RECORD_COLUMNS)
    _MOVE_HEAD_DIRECT.prepare(connection, _HEAD_MOVES)


def append_at(session: Session, head: ChainHead, *, connection=None, **fields: Any) -> TransitionRecord:
    """Append a record to the chain whose head the caller read under the chain lock (see
    :func:`engine.workflow.targets.load_for_fire`): one INSERT, one UPDATE of the head, no
    unit of work. ``head`` moves on with it. Does not commit."""
    values = next_record(head, **fields)
    connection = connection or session.connection()
    values["id"] = _INSERT_RECORD.first(connection, values)[0]
    _MOVE_HEAD_DIRECT.count(connection, {"count": values["seq"], "last_id": values["id"], "last_hash": values["hash"],
                                         "_chain": head.id})
    return appended(session, head, values)


def next_record(head: ChainHead, **fields: Any) -> dict[str, Any]:
    """The values of the record with ``fields`` that follows ``head`` in its chain: its place and hash (the
    hash does not take the record's key). Not written: see :func:`append_at`, :func:`appended`."""
    values = {"org_id": head.id, "seq": head.count + 1, "prev_hash": head.last_hash or GENESIS, **fields}
    values["hash"] = digest(_Fields(values))
    return values


def appended(session: Session, head: ChainHead, values: dict[str, Any]) -> TransitionRecord:
    """The record ``values`` (:func:`next_record`'s, with the key the database gave), written with the head moved
    on to it by the caller's statement: ``head`` takes the new place, and the record is handed out as an object."""
    rows.committed(head, {"count": values["seq"], "last_id": values["id"], "last_hash": values["hash"]})
    return rows.known_or_detached(session, TransitionRecord, values)


def extend_rows(session: Session, entries: list[dict[str, Any]]) -> list[int]:
    """As :func:`extend` (the same records, hashes and heads), written with Core statements for many records: one
    bulk insert (:func:`rows.insert_many`) and one UPDATE per chain's head, no object per record; the records' keys in order."""
    entries = [dict(e) for e in entries]
    if not entries:
        return []
    chains = chains_of(session, entries)
    for fields, org in zip(entries, chains, strict=True):
        fields["org_id"] = org
    return _append_rows(session, lock_heads(session, chains), entries, rows.insert_many)


def lock_heads(session: Session, org_ids: Iterable[int]) -> dict[int, ChainHead]:
    """The heads of the chains of ``org_ids``, each locked for this transaction (in one order: no deadlock),
    for a transaction that appends to them many times (:func:`extend_at`) and reads each head once."""
    return {org: lock_head(session, org) for org in sorted(set(org_ids))}


def extend_at(session: Session, heads: dict[int, ChainHead], entries: list[dict[str, Any]]) -> list[int]:
    """As :func:`extend_rows` (the same records, hashes and heads) on chains whose heads the caller locked
    (:func:`lock_heads`), each entry naming its chain (``org_id``): one insert of the few rows of one change
    (:func:`rows.insert_few`), one UPDATE per chain it moves, no read. Does not commit."""
    return _append_rows(session, heads, entries, rows.insert_few)


def _append_rows(session: Session, heads: dict[int, ChainHead], entries: list[dict[str, Any]], insert_rows) -> list[int]:
    """The records ``entries`` (each naming its chain, ``org_id``) appended at the locked ``heads``: hashed in
    order, written by ``insert_rows`` (:func:`rows.insert_many` or :func:`rows.insert_few`), each chain's head
    moved once; ``heads`` move on with the records. The records' keys in order."""
    places = {org: {"count": head.count, "last_hash": head.last_hash} for org, head in heads.items()}
    values = []
    for fields in entries:
        place = places[fields["org_id"]]
        row = {**fields, "seq": place["count"] + 1, "prev_hash": place["last_hash"] or GENESIS}
        row["hash"] = digest(_Fields(row))
        place["count"], place["last_hash"] = row["seq"], row["hash"]
        values.append(row)
    connection = session.connection()
    ids = insert_rows(connection, _RECORDS, values)
    moved = {row["org_id"]: {**places[row["org_id"]], "last_id": row["id"]} for row in values}
    for org, place in moved.items():
        connection.execute(_MOVE_HEAD, {**place, "_chain": org})
        rows.committed(heads[org], place)
    return ids


@contextlib.contextmanager
def set_back_on_failure(heads: dict[int, ChainHead]) -> Iterator[dict[int, ChainHead]]:
    """A block that appends at ``heads`` (:func:`extend_at`) inside a savepoint: if it fails, the heads
    are set back where they stood, as rolling back the savepoint sets back their rows."""
    stood = {org: {"count": head.count, "last_id": head.last_id, "last_hash": head.last_hash}
             for org, head in heads.items()}
    try:
        yield heads
    except BaseException:
        for org, place in stood.items():
            rows.committed(heads[org], place)
        raise


class _Fields:
    """A record's values as attributes, for :func:`canonical`."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


@dataclass(frozen=True)
class ChainCheck:
    """The result of checking the chains."""

    count: int
    ok: bool
    first_bad_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Head:
    """What a chain's head row says: length, key of the last record, last hash."""

    org_id: int
    count: int = 0
    last_id: int = 0
    last_hash: str = GENESIS
    present: bool = True  # False: records without a head row

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "last_hash": self.last_hash or GENESIS, "last_id": self.last_id}


def per_organisation(connection: Connection) -> bool:
    """Whether the database has a chain per organisation (a schema older than that has one chain)."""
    return "seq" in {c["name"] for c in inspect(connection).get_columns("transitionrecord")}


def heads(connection: Connection, org_ids: Iterable[int] | None = None) -> list[Head]:
    """The heads of the chains of ``org_ids`` (every chain: ``None``), in the chains' order. A chain
    whose records have no head row is listed with an empty head (its check then fails); a
    requested chain with neither is left out."""
    found = {row.id: Head(row.id, row.count, row.last_id, row.last_hash or GENESIS)
             for row in connection.execute(text("SELECT id, count, last_id, last_hash FROM chainhead"))}
    if not per_organisation(connection):
        return list(found.values())[:1]
    if org_ids is None:
        having = {row[0] for row in connection.execute(text("SELECT DISTINCT org_id FROM transitionrecord"))}
        wanted = set(found) | having
    else:
        wanted = {o for o in org_ids if o in found or connection.execute(
            text("SELECT 1 FROM transitionrecord WHERE org_id = :o LIMIT 1"), {"o": o}).first()}
    return [found.get(o, Head(o, present=False)) for o in sorted(wanted)]


_COLUMNS = ", ".join(offline_verifier.ROW)
#: PostgreSQL writes the time in the form the hash covers itself (the column holds UTC, no zone), and
#: gives the payload as its text, for orjson (the driver's own JSON loader costs twice as much).
_PG_COLUMNS = _COLUMNS.replace(", at,", """, to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),""", 1) \
    .replace(", payload,", ", payload::text,", 1)


def _chain_query(connection: Connection, head: Head) -> tuple[str, dict[str, Any]]:
    """The query of a batch of ``head``'s chain after place ``:after``, in the driver's own style of
    named parameters, and its fixed parameters."""
    columns = _PG_COLUMNS if connection.dialect.name == "postgresql" else _COLUMNS
    if not per_organisation(connection):
        columns = columns.replace("seq", "id AS seq")
        rest = "WHERE id > :after AND id <= :upto ORDER BY id LIMIT :n"
        params = {"upto": max(head.count, head.last_id)}
    else:
        # Records past the head (a head set back, a record moved in) are :func:`beyond`'s to check.
        rest = "WHERE org_id = :org AND seq > :after AND seq <= :upto ORDER BY seq LIMIT :n"
        params = {"org": head.org_id, "upto": head.count if head.present else 2 ** 62}
    if connection.dialect.name != "sqlite":
        rest = re.sub(r":(\w+)", r"%(\1)s", rest)
    query = f"SELECT {columns} FROM transitionrecord {rest}"
    return query, params


def stream(connection: Connection, head: Head, *, batch: int = 5000, after: int = 0) -> Iterator[tuple]:
    """The records of ``head``'s chain as tuples in the order of
    :data:`~engine.audit.offline_verifier.ROW` (time in the form the hash covers, payload parsed),
    in order, up to that head (``after``: from the place after it on; records appended after the
    head was read are for :func:`beyond`), a keyset batch of plain rows at a time: memory stays
    flat, and no object is made per record. The next batch is fetched by a thread of its own while
    this one is checked (the drivers let go of the interpreter while they wait for the database).
    The payload is parsed here by orjson; SQLite's time is rewritten here, PostgreSQL's is written
    by the server."""
    from concurrent.futures import ThreadPoolExecutor

    query, params = _chain_query(connection, head)
    # The driver's cursor, in this connection's transaction: plain tuples, no row objects.
    cursor = connection.connection.cursor()
    timed = _hashed_time if connection.dialect.name == "sqlite" else _same

    def fetch(after: int) -> list[tuple]:
        cursor.execute(query, {**params, "after": after, "n": batch})
        return cursor.fetchall()

    loads, broken = orjson.loads, (orjson.JSONDecodeError, TypeError)
    with ThreadPoolExecutor(1, thread_name_prefix="audit-fetch") as fetcher:
        try:
            coming = fetcher.submit(fetch, after)
            while coming is not None:
                found = coming.result()
                coming = fetcher.submit(fetch, found[-1][1]) if len(found) == batch else None
                for row in found:
                    payload = row[11]
                    try:
                        payload = loads(payload)
                    except broken:
                        payload = _parsed(payload) if isinstance(payload, str) else payload
                    yield (row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                           timed(row[9]), row[10], payload, row[12], row[13])
        finally:
            if coming is not None:  # stopped early: the batch on its way is read, then the cursor closed
                coming.cancel() or coming.exception()
            cursor.close()


def beyond(connection: Connection, head: Head, *, batch: int = 5000) -> tuple[int, str] | None:
    """The first record of ``head``'s chain past its head that does not continue the chain, and why, or
    ``None``. Records appended since the head was read continue it place by place and link by link;
    one moved in from another organisation's chain (its ``org_id`` changed: the hash does not cover
    it, the chain it is in does) or slipped in behind the head does not, and would otherwise be shown
    to that organisation's readers without ever being verified."""
    if not head.present or not per_organisation(connection):
        return None
    expected, prev = head.count + 1, head.last_hash or GENESIS
    for row in stream(connection, Head(head.org_id, count=2 ** 62), batch=batch, after=head.count):
        if row[1] != expected or row[12] != prev or row_digest(row) != row[13]:
            return row[0], (f"记录 {row[0]}（第 {row[1]} 条）在链头之后且不接续本链：记录从另一单位的链移入，"
                            "或在链头之后补写")
        expected, prev = expected + 1, row[13]
    return None


def _same(value: Any) -> Any:
    return value


def _parsed(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what only Python's reader takes (integers beyond 64 bits, NaN)
        return json.loads(text)


_SORTED = orjson.OPT_SORT_KEYS


def row_digest(row: tuple) -> str:
    """:func:`~engine.audit.offline_verifier.row_digest`, an order of magnitude faster: the canonical
    bytes written by orjson, and where they do not give the record's hash, by the canonical writer
    itself (so a number or a character orjson writes otherwise can never fail an honest record; and
    bytes that do give the hash are the bytes that were hashed)."""
    _, seq, target_id, kind, actor, role, trigger, from_state, to_state, at, comment, payload, prev, hashed = row
    try:
        found = hashlib.sha256(orjson.dumps({
            "id": seq, "target_id": target_id, "kind": kind, "actor": actor, "role": role, "trigger": trigger,
            "from": from_state, "to": to_state, "at": at, "comment": comment, "payload": payload, "prev": prev,
        }, option=_SORTED)).hexdigest()
    except TypeError:
        return offline_verifier.row_digest(row)
    return found if found == hashed else offline_verifier.row_digest(row)


def _hashed_time(value: Any) -> str:
    """A stored time in the form the hash covers; SQLite's text (UTC, microseconds) is rewritten, not parsed."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}+00:00"
        value = datetime.fromisoformat(value)
    return _timestamp(value)


def verify(session: Session, *, org_ids: Iterable[int] | None = None, batch: int = 5000) -> ChainCheck:
    """Check every record of the chains of ``org_ids`` (every chain: ``None``) in order, and their heads;
    report the first that fails."""
    connection = session.connection()
    total = 0
    for head in heads(connection, org_ids):
        expected_prev, expected, count = GENESIS, 1, 0
        for row in stream(connection, head, batch=batch):
            if row[1] != expected:
                return ChainCheck(total + count, False, row[0],
                                  f"记录编号不连续：应为 {expected}，实为 {row[1]}（记录被删除或插入）")
            if row[12] != expected_prev:
                return ChainCheck(total + count, False, row[0], "前一条记录的哈希不符（记录被删除、插入或重排）")
            if row_digest(row) != row[13]:
                return ChainCheck(total + count, False, row[0], "记录内容与其哈希不符（记录被修改）")
            expected_prev, expected, count = row[13], expected + 1, count + 1
        total += count
        if head.count != count or (count and head.last_hash != expected_prev):
            return ChainCheck(total, False, count + 1 if head.count > count else None,
                              f"链头记载 {head.count} 条记录，实有 {count} 条（末尾记录被删除或链头被改动）")
        stray = beyond(connection, head, batch=batch)
        if stray:
            return ChainCheck(total, False, *stray)
    return ChainCheck(total, True)


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
    #: The reader's organisations, as a condition on the records (:func:`engine.people.scope.records`);
    #: ``None``: every record (the system).
    within: Any = None


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
    if filters.within is not None:
        query = query.where(filters.within)
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


def unfiltered(filters: AuditFilter) -> bool:
    return filters.within is None and not any(v for k, v in vars(filters).items() if k != "within")


def count(*, session: Session, filters: AuditFilter) -> int:
    """How many records match ``filters``: without filters the chain heads' counts (no scan)."""
    from sqlalchemy import func

    if unfiltered(filters):
        return session.exec(select(func.coalesce(func.sum(ChainHead.count), 0))).one()
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
