"""Representative rows for whatever tables a database has, found by reflection.

The migration tests fill a database built at any revision: the tables and columns that exist
there are reflected, every column gets a value (a domain-like one for the columns named in
``VALUES``, else one made from its type), references point at rows of the referenced table,
and the transition records form a valid hash chain computed with the engine's own code. A
migration that adds a table or a column is covered without touching this file.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.audit import chain

ROWS = 3  # rows per table
RECORDS = 7  # transition records in the chain
SKIP = {"alembic_version", "chainhead"}
STATES = ["assigned", "in_progress", "self_assessed", "leader_signed", "verified", "scored"]

#: Domain-like values for known columns: table → column → value for row i (a callable) or a constant.
VALUES: dict[str, dict[str, Any]] = {
    "plan": {"org": lambda i: f"泉州市教育局{i}", "year": lambda i: 2024 + i, "title": "年度绩效目标考评表",
             "timezone": "Asia/Shanghai", "categories": {"重点工作目标": 68, "行政能力目标": 20}, "scoring": {}},
    "organisation": {"name": lambda i: f"泉州市教育局{i}", "kind": "bureau", "path": lambda i: f"{i + 1}/"},
    "section": {"name": lambda i: ["规划科", "思政科", "办公室"][i % 3] + str(i)},
    "user": {"name": lambda i: f"洪玮玮{i}", "login": lambda i: f"洪玮玮{i}", "roles": lambda i: [["staff"], ["leader"], ["office"]][i % 3],
             "active": True, "failed_logins": 0, "locked_until": None, "password_hash": None},
    "target": {"code": lambda i: f"1-{i + 1}-1", "workflow": "target", "text": "按年度计划组织实施学位扩容工程",
               "state": lambda i: STATES[i % len(STATES)], "deadline_phrase": "12月底前", "supervised": False,
               "version": lambda i: i + 1, "entry": 1, "escalation_level": 0, "progress": 50},
    "assignment": {"kind": lambda i: ["section", "leader", "person"][i % 3], "name": lambda i: f"林长华{i}"},
    "signature": {"signer": lambda i: f"林长华{i}"},
    "indicator": {"name": lambda i: f"新增学位{i}", "raw": "≥560个", "actual": "600个"},
    "milestone": {"key": lambda i: f"self_assessment_signed_{i}", "label": "自评结果经分管领导审签后报送",
                  "phrase": "12月30日前"},
    "outboxevent": {"event_type": "target.sign", "recipients": [{"name": "洪玮玮0", "role": "staff"}],
                    "data": {"code": "1-1-1", "阶段": "签署"}, "status": "pending", "attempts": 0, "last_error": ""},
    "inboxitem": {"subject": lambda i: f"目标 1-{i + 1}-1 已审签", "body": "请查看。", "read_at": None},
    "delivery": {"channel": "inbox", "key": lambda i: f"evt-{i}:user-{i}:inbox", "status": "sent", "last_error": ""},
    "escalation": {"state": "in_progress", "level": lambda i: i + 1, "entry": 1, "working_days_late": lambda i: 3 * i},
    "reminder": {"entry": 1, "days_before": lambda i: [5, 1, 3][i % 3]},
    "reportschedule": {"key": lambda i: f"monthly_{i}", "label": "月度工作进展", "phrase": "每月25日前", "lead_days": 10},
    "evidence": {"filename": lambda i: f"佐证材料{i}.pdf", "content_type": "application/pdf",
                 "size": lambda i: len(evidence_bytes(i)), "sha256": lambda i: hashlib.sha256(evidence_bytes(i)).hexdigest(),
                 "stored_as": lambda i: f"{i:032x}.pdf", "uploaded_by": "洪玮玮0"},
    "setting": {"key": lambda i: f"setting_{i}", "value": lambda i: f"值{i}"},
    "calendarday": {"kind": lambda i: ["holiday", "workday"][i % 2], "name": "国庆节", "set_by": "绩效办"},
}

MOMENT = datetime(2024, 6, 3, 1, 0, 0, 123456, tzinfo=timezone.utc)


def reflect(connection: Connection) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(connection)
    return metadata


def fill(connection: Connection) -> dict[str, int]:
    """Fill every table of the database with rows; returns how many went into each."""
    metadata = reflect(connection)
    keys: dict[str, list[Any]] = {}
    counts: dict[str, int] = {}
    for table in metadata.sorted_tables:
        if table.name in SKIP:
            continue
        if table.name == "transitionrecord":
            keys[table.name] = _chain(connection, table, keys)
        else:
            keys[table.name] = []
            for i in range(ROWS):
                keys[table.name].append(_insert(connection, table, _row(connection, table, i, keys)))
        counts[table.name] = len(keys[table.name])
    return counts


def _chain(connection: Connection, table: sa.Table, keys: dict[str, list[Any]]) -> list[Any]:
    prev = chain.GENESIS
    # With a chain per organisation, the records are the first organisation's chain.
    place = {"org_id": keys["organisation"][0], "seq": None} if "seq" in table.c else {}
    for i in range(RECORDS):
        row = _row(connection, table, i, keys)
        row.update(place)
        if place:
            row["seq"] = i + 1
        row.update(id=i + 1, kind="transition" if i % 3 else "system", actor="洪玮玮0", role="staff",
                   trigger="report_progress", from_state="in_progress", to_state="in_progress",
                   at=MOMENT + timedelta(hours=i), comment=f"第{i + 1}次进展", payload={"percent": 10 * i, "note": "进展"},
                   prev_hash=prev, hash="")
        row["hash"] = chain.digest(SimpleNamespace(**row))
        _insert(connection, table, row)
        prev = row["hash"]
    if place:
        connection.execute(sa.text("DELETE FROM chainhead"))
        connection.execute(sa.text("INSERT INTO chainhead (id, count, last_id, last_hash) VALUES (:o, :n, :n, :h)"),
                           {"o": place["org_id"], "n": RECORDS, "h": prev})
    else:
        connection.execute(sa.text("UPDATE chainhead SET count = :n, last_id = :n, last_hash = :h WHERE id = 1"),
                           {"n": RECORDS, "h": prev})
    return list(range(1, RECORDS + 1))


def _insert(connection: Connection, table: sa.Table, row: dict[str, Any]) -> Any:
    result = connection.execute(table.insert().values(**row))
    key = result.inserted_primary_key
    return key[0] if len(key) == 1 else tuple(key)


def _row(connection: Connection, table: sa.Table, i: int, keys: dict[str, list[Any]]) -> dict[str, Any]:
    known = VALUES.get(table.name, {})
    references = {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name in references:
            parents = keys.get(references[column.name]) or []  # its own table: the rows before
            if not parents and not column.nullable:
                raise AssertionError(f"{table.name}.{column.name} needs a row of {references[column.name]}, which has none")
            row[column.name] = parents[i % len(parents)] if parents else None
        elif column.name in known:
            value = known[column.name]
            row[column.name] = value(i) if callable(value) else value
        elif column.primary_key and _generated(connection, table, column):
            continue
        else:
            row[column.name] = _value(table, column, i)
    return row


def _generated(connection: Connection, table: sa.Table, column: sa.Column) -> bool:
    """Whether the database numbers this primary key column itself."""
    if len(table.primary_key.columns) != 1 or not isinstance(column.type, sa.Integer):
        return False
    if connection.dialect.name == "sqlite":
        return True  # INTEGER PRIMARY KEY is the rowid
    return column.server_default is not None or column.identity is not None


def _value(table: sa.Table, column: sa.Column, i: int) -> Any:
    """A value of the column's type, distinct per row (so that unique constraints hold)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return i % 2 == 0
    if isinstance(kind, sa.Integer):
        return i + 1
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return Decimal(f"{i + 1}.50")
    if isinstance(kind, sa.Float):
        return i + 0.5
    if isinstance(kind, sa.DateTime):
        return MOMENT + timedelta(days=i, minutes=i)
    if isinstance(kind, sa.Date):
        return date(2024, 6, 1) + timedelta(days=i)
    if isinstance(kind, sa.JSON):
        return {"n": i, "名称": f"值{i}"}
    if isinstance(kind, sa.LargeBinary):
        return f"{table.name}-{i}".encode()
    if isinstance(kind, sa.String):
        text = f"{column.name}-{i}"
        return text[-kind.length:] if kind.length else text
    raise AssertionError(f"no representative value for {table.name}.{column.name} ({kind!r}): add one to VALUES")


def snapshot(connection: Connection, tables: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (or of ``tables``), in primary-key order, as comparable plain values."""
    metadata = reflect(connection)
    out = {}
    for table in metadata.sorted_tables:
        if table.name == "alembic_version" or (tables is not None and table.name not in tables):
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        out[table.name] = [{k: _plain(v) for k, v in row._mapping.items()}
                           for row in connection.execute(sa.select(table).order_by(*order))]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLite returns naive UTC, PostgreSQL aware: compare the instant
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def evidence_bytes(i: int) -> bytes:
    """The content of the ``i``-th evidence file the fill names (its row carries this file's SHA-256)."""
    return f"%PDF-1.4 佐证材料{i}".encode("utf-8")


def write_evidence(connection: Connection, folder) -> None:
    """Put every evidence file the filled rows name into ``folder``, as their uploads would have."""
    folder.mkdir(parents=True, exist_ok=True)
    for (stored_as,) in connection.execute(sa.text("SELECT stored_as FROM evidence")):
        (folder / stored_as).write_bytes(evidence_bytes(int(stored_as.split(".")[0], 16)))
