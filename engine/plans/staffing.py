"""The admin's changes to users, each written to the chain (roles, sections, whether active).

A user's rights are part of what ``audit verify`` replays: a role given outside these
commands (an edit in the database) shows up as a difference.
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from engine.audit import ledger
from engine.people import users
from engine.people.actors import Actor
from engine.store import db
from engine.store.models import User


def _role(by: Actor) -> str:
    return "admin" if "admin" in by.roles else next(iter(sorted(by.roles)), "admin")


def record_added(session: Session, user: User, sections: Sequence[str], *, by: Actor) -> None:
    """The record of a user just added (flushed); flushes."""
    names = [s.strip() for s in sections if s.strip()]
    ledger.user_changed(session, user, names, actor=by.name, role=_role(by), trigger="add_user",
                        changes=["roles", "sections"])


def register(*, session: Session, by: Actor, name: str, roles: Sequence[str], sections: Sequence[str] = (),
             password: str | None = None, email: str | None = None) -> User:
    """Add a user and record it, in one transaction; commits."""
    db.begin_write(session)
    try:
        user = users.add(session=session, name=name, roles=roles, sections=sections, password=password, email=email)
        record_added(session, user, sections, by=by)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return user


def update(*, session: Session, by: Actor, user_id: int, roles: Sequence[str] | None = None,
           sections: Sequence[str] | None = None, password: str | None = None, email: str | None = None,
           active: bool | None = None) -> User:
    """Change a user (see :func:`engine.people.users.change`); a change of rights is recorded; commits."""
    db.begin_write(session)
    try:
        user, changed = users.change(session=session, user_id=user_id, roles=roles, sections=sections,
                                     password=password, email=email, active=active)
        if {"roles", "sections", "active"} & set(changed):
            current = users.sections_of(session, [user.id])[user.id]
            ledger.user_changed(session, user, current, actor=by.name, role=_role(by), trigger="change_user",
                                changes=changed)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return user
