"""Rows read or written with SQLAlchemy Core, handed out as the session's mapped objects.

The one door writes with a few Core statements instead of the unit of work; what it loaded
and wrote is still handed to the caller as an ordinary persistent object of the session (the
same object if the session already holds that row), so that later reads see the new values.
"""
from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import Mapper, Session, attributes, configure_mappers, make_transient_to_detached

T = TypeVar("T")


def _mapper(cls: type) -> Mapper:
    mapper = inspect(cls)
    if not mapper.configured:  # a fresh process that has not queried yet
        configure_mappers()
    return mapper


def persistent(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """The session's object of ``cls`` for the row ``values`` (every column), as loaded: no pending change.

    An object of that identity already in the session takes the values (as ``populate_existing``
    would); otherwise a new one is made without running the model's validation, exactly as the
    ORM makes the objects it loads.
    """
    mapper = _mapper(cls)
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    known = session.identity_map.get(key)
    if known is not None:
        for name, value in values.items():
            attributes.set_committed_value(known, name, value)
        return known
    obj = mapper.class_manager.new_instance()
    attributes.instance_state(obj).dict.update(values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def known_or_detached(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """The session's object for the row ``values`` if it holds one (taking the values), else a detached one."""
    mapper = _mapper(cls)
    known = session.identity_map.get(mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key]))
    if known is None:
        return detached(cls, values)
    for name, value in values.items():
        attributes.set_committed_value(known, name, value)
    return known


def detached(cls: type[T], values: dict[str, Any]) -> T:
    """An object of ``cls`` for the row ``values``, as loaded, in no session."""
    obj = _mapper(cls).class_manager.new_instance()
    attributes.instance_state(obj).dict.update(values)
    make_transient_to_detached(obj)
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


def changes(obj: Any) -> dict[str, Any]:
    """The attributes of ``obj`` changed since it was loaded, with their new values."""
    state = attributes.instance_state(obj)
    return {name: state.dict.get(name) for name in state.committed_state}
