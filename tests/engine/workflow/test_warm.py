"""Warming up: before a process's first fire, what that fire would make while its caller waits is made
already (:func:`commands.warm`), and making it writes nothing."""
from __future__ import annotations

from sqlalchemy.sql.elements import CompilerElement
from sqlmodel import Session, func, select

from engine.audit import chain
from engine.store import db
from engine.store.direct import Direct
from engine.store.models import ChainHead, Target, TransitionRecord
from engine.workflow import commands, definitions, machines, outbox, targets
from tests import factories as f
from tests.engine.lifecycle import drive


def _written(session: Session) -> tuple:
    return (session.exec(select(func.count()).select_from(TransitionRecord)).one(),
            tuple(session.exec(select(ChainHead.id, ChainHead.count, ChainHead.last_hash).order_by(ChainHead.id))),
            tuple(session.exec(select(Target.id, Target.version, Target.state).order_by(Target.id))))


def _refuse(what: str):
    def refused(*_args, **_kwargs):
        raise AssertionError(f"{what} during a fire, after warming up")
    return refused


def test_after_warming_up_a_fire_parses_no_definition_builds_no_machine_compiles_no_statement(engine_db, session, monkeypatch):
    target = f.target(session)
    dialect = engine_db.dialect.name
    # as in a new process: no statement of a fire compiled yet
    monkeypatch.setattr(targets, "_LOADS", {})
    monkeypatch.setattr(commands, "_TOGETHER", {})
    monkeypatch.setattr(commands, "_UPDATES", {frozenset(): Direct(commands._UPDATE_TARGET)})
    for statement in (commands._INSERT_SIGNATURE, chain._INSERT_RECORD, chain._MOVE_HEAD_DIRECT, outbox._INSERT,
                      *db._BEGIN.values()):
        monkeypatch.setattr(statement, "_forms", {})
    before = _written(session)
    session.commit()

    commands.warm(engine_db)

    with Session(engine_db) as fresh:
        assert _written(fresh) == before  # warming up wrote nothing
    load = targets._load_statement(dialect)
    assert (dialect,) in load._forms and dialect in load._results  # compiled for the cursor, its results known
    monkeypatch.setattr(definitions, "parse", _refuse("a definition parsed"))
    monkeypatch.setattr(machines, "build", _refuse("a machine built"))
    monkeypatch.setattr(CompilerElement, "compile", _refuse("a statement of the one door compiled"))
    session.expunge_all()
    drive(session, target.id, "scored", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    assert session.get(Target, target.id).state == "scored"


def test_warming_up_leaves_the_database_free_to_write(engine_db, session):
    """Its connections are back in the pool with no transaction open: a fire right after it does not wait."""
    target = f.target(session)
    commands.warm(engine_db)
    assert engine_db.pool.checkedout() == 0
    drive(session, target.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    assert session.get(Target, target.id).state == "in_progress"


def test_warming_up_a_database_in_memory():
    """One connection in all (SQLite in memory keeps one per thread): warmed as any other."""
    from sqlmodel import SQLModel

    bind = db.make_engine("sqlite://")
    SQLModel.metadata.create_all(bind)
    commands.warm(bind)
    assert ("sqlite",) in targets._load_statement("sqlite")._forms
    bind.dispose()
