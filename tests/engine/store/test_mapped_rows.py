"""Rows read with Core, handed out as mapped objects (:mod:`engine.store.rows`): each behaves as the object the
ORM would have loaded for that row."""
from __future__ import annotations

from sqlalchemy import event, inspect, select
from sqlmodel import Session

from engine.store import rows
from engine.store.models import Target
from tests import factories as f


def _row(session: Session, target_id: int) -> dict:
    return dict(session.connection().execute(select(Target.__table__).where(Target.id == target_id)).one()._mapping)


def test_a_row_becomes_the_sessions_object_as_if_loaded(engine_db, session):
    target_id = f.target(session, code="R-1").id
    with Session(engine_db) as other:
        values = _row(other, target_id)
        seen = []
        event.listen(other, "loaded_as_persistent", lambda _s, instance: seen.append(instance))
        obj = rows.persistent(other, Target, values)
        state = inspect(obj)
        assert state.persistent and not state.modified and obj not in other.dirty and obj not in other.new
        assert seen == [obj]  # as a query's load tells it
        assert other.get(Target, target_id) is obj  # the identity map holds it: no second object
        obj.text = "改写后的目标"
        assert obj in other.dirty
        other.commit()
    with Session(engine_db) as third:
        assert third.get(Target, target_id).text == "改写后的目标"  # its change was flushed as an UPDATE


def test_a_row_the_session_holds_already_updates_that_object(engine_db, session):
    target = f.target(session, code="R-2")
    values = {**_row(session, target.id), "text": "库中的新值"}
    assert rows.persistent(session, Target, values) is target
    assert target.text == "库中的新值" and not inspect(target).modified


def test_a_column_not_given_is_read_when_first_asked_for(engine_db, session):
    target_id = f.target(session, code="R-3", text="按计划完成").id
    with Session(engine_db) as other:
        values = _row(other, target_id)
        del values["text"]
        obj = rows.persistent(other, Target, values)
        assert "text" not in inspect(obj).dict
        assert obj.text == "按计划完成"  # expired, so loaded, not taken as empty


def test_a_detached_object_joins_a_session_without_a_query(engine_db, session):
    target_id = f.target(session, code="R-4").id
    values = _row(session, target_id)
    session.expunge_all()
    obj = rows.detached(Target, values)
    assert inspect(obj).detached and inspect(obj).key == (Target, (target_id,), None)
    with Session(engine_db) as other:
        statements = []
        event.listen(engine_db, "before_cursor_execute", lambda *args: statements.append(args[2]))
        other.add(obj)
        assert other.get(Target, target_id) is obj and statements == []
        assert not inspect(obj).modified
