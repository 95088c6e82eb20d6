"""Rows read or written with SQLAlchemy Core, handed out as the session's mapped objects.

The one door writes with a few Core statements instead of the unit of work; what it loaded
and wrote is still handed to the caller as an ordinary persistent object of the session (the
same object if the session already holds that row), so that later reads see the new values.
"""
from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, DateTime, Table, insert, inspect, text
from sqlalchemy.orm import Mapper, Session, attributes, configure_mappers, make_transient_to_detached

T = TypeVar("T")


@cache
def _mapper(cls: type) -> Mapper:
    mapper = inspect(cls)
    if not mapper.configured:  # a fresh process that has not queried yet
        configure_mappers()
    return mapper


@cache
def _columns(mapper: Mapper) -> frozenset[str]:
    """The names of ``mapper``'s column attributes."""
    return frozenset(mapper.column_attrs.keys())


def _key(mapper: Mapper, values: dict[str, Any]) -> tuple:
    """The identity of the row ``values`` in a session."""
    return mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])


def persistent(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """The session's object of ``cls`` for the row ``values`` (every column), as loaded: no pending change.

    An object of that identity already in the session takes the values (as ``populate_existing``
    would); otherwise a new one is made without running the model's validation, exactly as the
    ORM makes the objects it loads.
    """
    mapper = _mapper(cls)
    key = _key(mapper, values)
    known = session.identity_map.get(key)
    if known is not None:
        for name, value in values.items():
            attributes.set_committed_value(known, name, value)
        return known
    if not _columns(mapper) <= values.keys():  # some column not given: expired, loaded when read
        obj = detached(cls, values)
        session.add(obj)
        return obj
    obj = _loaded(mapper, values, key)
    # attached as the ORM attaches an object it loads (``loading._instance``), without add()'s cascades
    state = attributes.instance_state(obj)
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)
    if session.dispatch.loaded_as_persistent:
        session.dispatch.loaded_as_persistent(session, state)
    return obj


def known_or_detached(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """The session's object for the row ``values`` if it holds one (taking the values), else a detached one."""
    mapper = _mapper(cls)
    known = session.identity_map.get(_key(mapper, values))
    if known is None:
        return detached(cls, values)
    for name, value in values.items():
        attributes.set_committed_value(known, name, value)
    return known


def detached(cls: type[T], values: dict[str, Any]) -> T:
    """An object of ``cls`` for the row ``values``, as loaded, in no session (a column not given is expired)."""
    mapper = _mapper(cls)
    if _columns(mapper) <= values.keys():
        return _loaded(mapper, values, _key(mapper, values))
    obj = mapper.class_manager.new_instance()
    attributes.instance_state(obj).dict.update(values)
    make_transient_to_detached(obj)
    return obj


def _loaded(mapper: Mapper, values: dict[str, Any], key: tuple) -> Any:
    """A new object of ``mapper`` holding every column's value, with its identity: as the ORM makes an object it
    loads (what ``make_transient_to_detached`` does, less the search for attributes to expire: none is missing)."""
    obj = mapper.class_manager.new_instance()
    state = attributes.instance_state(obj)
    state.dict.update(values)
    state.key, state.identity_token = key, key[2]
    return obj


def committed(obj: Any, values: dict[str, Any]) -> None:
    """Record ``values`` as what the database now holds for ``obj`` (written by a Core statement):
    the object is clean again, and the unit of work has nothing left to flush for it."""
    state = attributes.instance_state(obj)
    state.dict.update(values)
    # What a flush does to an object it wrote; without it the next flush would visit the object
    # again (and find nothing to write).
    session = state.session
    state._commit_all(state.dict, session.identity_map if session is not None else None)


def assign(obj: Any, **values: Any) -> None:
    """Set attributes of the mapped ``obj`` as its unit of work tracks a change (history kept, the object marked
    changed, undone by a rollback), without the model's own ``__setattr__`` (SQLModel's also hands each value to
    pydantic, which a table model does not validate)."""
    for name, value in values.items():
        attributes.set_attribute(obj, name, value)


def changes(obj: Any) -> dict[str, Any]:
    """The attributes of ``obj`` changed since it was loaded, with their new values."""
    state = attributes.instance_state(obj)
    return {name: state.dict.get(name) for name in state.committed_state}


def insert_many(connection: Connection, table: Table, values: list[dict[str, Any]], *, keys: bool = True) -> list[int]:
    """Insert the rows ``values`` of ``table`` (all with the same columns) in bulk; with ``keys`` (the table's key:
    one integer column ``id``), their keys in the order given, also set as each row's ``id``.

    PostgreSQL takes the keys from the table's sequence first (one query), then every row in one
    ``INSERT … SELECT FROM json_to_recordset(…)`` of one parameter, however many rows (a multi-row VALUES
    statement has the driver parse every row's parameters, an array per column has it quote every element).
    Elsewhere one ``INSERT … RETURNING`` per batch of rows (``insertmanyvalues``).
    """
    if not values:
        return []
    if connection.dialect.name != "postgresql":
        return _returning(connection, table, values, keys=keys)
    found = []
    if keys:
        found = list(connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n) ORDER BY 1"),
            {"table": table.name, "n": len(values)}).scalars())
        for row, key in zip(values, found, strict=True):
            row["id"] = key
    quote = connection.dialect.identifier_preparer.quote
    names = [quote(name) for name in values[0]]
    # Times are read with their offset and then take the column's type, as a bound time does.
    types = {name: "TIMESTAMP WITH TIME ZONE" if isinstance(table.c[name].type, DateTime)
             else table.c[name].type.compile(dialect=connection.dialect) for name in values[0]}
    fields = [f"{quote(name)} {kind}" for name, kind in types.items()]
    connection.execute(text(f"INSERT INTO {quote(table.name)} ({', '.join(names)}) SELECT {', '.join(names)} "
                            f"FROM json_to_recordset(CAST(:rows AS json)) AS given({', '.join(fields)})"),
                       {"rows": orjson.dumps(values, default=_plain).decode()})
    return found


def insert_few(connection: Connection, table: Table, values: list[dict[str, Any]], *, keys: bool = True) -> list[int]:
    """:func:`insert_many` for the few rows of one change: one ``INSERT … RETURNING`` (``insertmanyvalues``) on
    every backend, where PostgreSQL's bulk form costs a query of the sequence and a JSON document to plan."""
    return _returning(connection, table, values, keys=keys) if values else []


def _returning(connection: Connection, table: Table, values: list[dict[str, Any]], *, keys: bool) -> list[int]:
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True) if keys else insert(table)
    result = connection.execute(statement, values)
    if not keys:
        return []
    found = [key for key, in result]
    for row, key in zip(values, found, strict=True):
        row["id"] = key
    return found


def _plain(value: Any) -> Any:
    """What JSON cannot hold as it is: decimals as their digits."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be written in bulk")
