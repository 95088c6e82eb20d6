"""Statements run straight on the driver's cursor (engine.store.direct): the same rows, events and errors as
``connection.execute``, on SQLite and PostgreSQL."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from engine.store.direct import Direct
from engine.store.models import OutboxEvent, Setting, Signature, Target
from tests import factories as f

_OUTBOX = OutboxEvent.__table__
AT = datetime(2024, 12, 30, 8, 15, 30, 250000, tzinfo=timezone.utc)


def _event(**changes):
    return {"event_type": "target.start", "target_id": None, "record_id": None,
            "recipients": [{"kind": "person", "name": "洪玮玮"}], "data": {"code": "一.1", "分值": "2.50"},
            "status": "pending", "attempts": 0, "available_at": AT, "last_error": "", "created_at": AT, **changes}


def test_an_insert_writes_what_connection_execute_would(engine_db):
    returning = Direct(insert(_OUTBOX).returning(_OUTBOX.c.id))
    with engine_db.begin() as conn:
        direct_id = returning.first(conn, _event())[0]
        plain_id = conn.execute(insert(_OUTBOX).returning(_OUTBOX.c.id), _event()).scalar()
        rows = {r.id: r for r in conn.execute(select(_OUTBOX).where(_OUTBOX.c.id.in_([direct_id, plain_id])))}
    assert direct_id != plain_id
    written, expected = rows[direct_id]._asdict(), rows[plain_id]._asdict()
    written.pop("id"), expected.pop("id")
    assert written == expected  # JSON and times converted by the columns' own processors
    assert written["data"] == {"code": "一.1", "分值": "2.50"} and written["available_at"] == AT


def test_an_update_counts_the_rows_it_changed(engine_db, session):
    target = f.target(session)
    bump = Direct(update(Target.__table__).where(Target.__table__.c.id == bindparam("_id"),
                                                 Target.__table__.c.version == bindparam("_version"))
                  .values(version=bindparam("version")))
    with engine_db.begin() as conn:
        assert bump.count(conn, {"_id": target.id, "_version": target.version, "version": target.version + 1}) == 1
        assert bump.count(conn, {"_id": target.id, "_version": target.version, "version": target.version + 1}) == 0
        assert conn.execute(select(Target.__table__.c.version).where(Target.__table__.c.id == target.id)).scalar() \
            == target.version + 1


def test_a_select_row_is_converted_by_name_from_its_first_result_on(engine_db, session):
    target = f.target(session)
    read = Direct(text("SELECT id, weight, state_entered_at, checkpoints, supervised FROM target WHERE id = :t")
                  .columns(*(Target.__table__.c[name] for name in
                             ("id", "weight", "state_entered_at", "checkpoints", "supervised"))))
    with engine_db.connect() as conn:
        first, again = read.mapping(conn, {"t": target.id}), read.mapping(conn, {"t": target.id})
        assert read.mapping(conn, {"t": 2_000_000_000}) is None
    assert first == again  # the second row comes from the driver's cursor, converted as the first was
    assert first["weight"] == target.weight and first["supervised"] is False
    assert first["state_entered_at"].tzinfo is not None and first["checkpoints"] == target.checkpoints


def test_the_cursor_events_see_every_statement(engine_db):
    heard: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        heard.append(statement)

    event.listen(engine_db, "before_cursor_execute", listen)
    try:
        with engine_db.begin() as conn:
            Direct(insert(_OUTBOX)).count(conn, _event())
    finally:
        event.remove(engine_db, "before_cursor_execute", listen)
    written = [s for s in heard if not s.startswith("BEGIN")]  # SQLite's BEGIN is a statement of its own
    assert len(written) == 1 and written[0].startswith("INSERT INTO outboxevent")


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(engine_db):
    signature = Direct(insert(Signature.__table__))
    with engine_db.connect() as conn, conn.begin():
        with pytest.raises(IntegrityError):  # no such target
            signature.count(conn, {"target_id": 2_000_000_000, "signer": "林长华", "record_id": None, "signed_at": AT})


def test_an_insert_must_give_every_column_with_a_python_default(engine_db):
    without_times = {k: v for k, v in _event().items() if k not in ("available_at", "created_at")}
    with engine_db.begin() as conn, pytest.raises(TypeError, match="available_at"):
        Direct(insert(_OUTBOX)).count(conn, without_times)


def test_with_echo_on_the_statement_is_logged(db_url, caplog):
    from engine.store.db import make_engine

    bind = make_engine(db_url, echo=True)
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"), bind.begin() as conn:
            Direct(insert(_OUTBOX)).count(conn, _event())
            assert conn.execute(select(_OUTBOX.c.event_type)).scalar() == "target.start"
    finally:
        bind.dispose()
    assert any("INSERT INTO outboxevent" in r.getMessage() for r in caplog.records)


def test_a_prepared_statement_runs_without_compiling_again(engine_db, monkeypatch):
    """Compiled before it first runs, for its columns in any order: the run finds it compiled."""
    from sqlalchemy.sql.elements import CompilerElement

    statement = Direct(insert(Setting.__table__))
    with engine_db.begin() as connection:
        statement.prepare(connection, ("value", "key"))

        def compiled_again(*_args, **_kwargs):
            raise AssertionError("compiled again")

        monkeypatch.setattr(CompilerElement, "compile", compiled_again)
        assert statement.count(connection, {"key": "prepared", "value": "是"}) == 1
        assert connection.execute(select(Setting.value).where(Setting.key == "prepared")).scalar() == "是"
