"""The admin's changes to people, each written to the chain in the same transaction: users, their
roles and sections, whether they may log in, passwords (never their text), sections.

A user's rights are part of what ``audit verify`` replays: a role given outside these
commands (an edit in the database) shows up as a difference. The CLI, the API and the admin
pages all call these; each commits once.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlmodel import Session

from engine.audit import chain, ledger
from engine.calendar import clock
from engine.people import organisations, scope, users
from engine.people.actors import Actor
from engine.people.roles import PEOPLE_ACTIONS as ACTIONS
from engine.store import db
from engine.store.errors import InvalidPayload, NotFound
from engine.store.models import Organisation, Section, User

PASSWORD_MIN = 8
T = TypeVar("T")


def _role(by: Actor) -> str:
    return "admin" if "admin" in by.roles else next(iter(sorted(by.roles)), "admin")


def _user_record(session: Session, user: User, now_in: Sequence[str], /, *, by: Actor, trigger: str,
                 changes: Sequence[str], **details: Any) -> None:
    """A change of a user's rights, with the state it leaves (``now_in``: their sections; what the replay
    checks) and its details."""
    ledger.user_changed(session, user, now_in, actor=by.name, role=_role(by), trigger=trigger, changes=changes,
                        comment=ACTIONS[trigger], details=details)


def _system_record(session: Session, *, by: Actor, trigger: str, payload: dict[str, Any],
                   org_id: int | None = None) -> None:
    """A change that is no one's rights (a password set, a section added), in the chain of the
    organisation it concerns (``org_id``, else the one the payload names, else the actor's)."""
    org_id = next((o for o in (org_id, payload.get("org_id"), by.org_id) if o is not None), None)
    chain.append(session, target_id=None, kind="system", actor=by.name, role=_role(by), trigger=trigger,
                 at=clock.to_db(clock.now()), comment=ACTIONS[trigger], payload=payload, org_id=org_id)


def _committed(session: Session, work: Callable[[], T]) -> T:
    db.begin_write(session)
    try:
        result = work()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _check_password(password: str | None, field: str = "password") -> None:
    if password is not None and len(password) < PASSWORD_MIN:
        raise InvalidPayload(f"密码至少 {PASSWORD_MIN} 位", errors=[{"field": field, "reason": f"密码至少 {PASSWORD_MIN} 位"}])


def record_added(session: Session, user: User, sections: Sequence[str], *, by: Actor) -> None:
    """The record of a user just added (flushed); flushes."""
    names = list(dict.fromkeys(s.strip() for s in sections if s.strip()))
    _user_record(session, user, names, by=by, trigger="user_add", changes=["roles", "sections"],
                 roles=list(user.roles), sections=names, email=user.email or "",
                 password_set=bool(user.password_hash))


def register(*, session: Session, by: Actor, name: str, roles: Sequence[str], sections: Sequence[str] = (),
             password: str | None = None, email: str | None = None, org: str | None = None,
             login: str | None = None) -> User:
    """Add a user (of organisation ``org``, by name) and record it, in one transaction; commits."""
    _check_password(password)

    def work() -> User:
        org_name = org
        if by.org_id is not None:  # an organisation's admin adds people to their own organisation only
            own = session.get(Organisation, by.org_id)
            if org and organisations.named(session, org).id != by.org_id:
                scope.writable(session, by, organisations.named(session, org).id, f"组织“{org}”不存在",
                               organisation=org)
            org_name = own.name if own else org
        user = users.add(session=session, name=name, roles=roles, sections=sections, password=password, email=email,
                         org=org_name, login=login)
        record_added(session, user, sections, by=by)
        return user

    return _committed(session, work)


def update(*, session: Session, by: Actor, user_id: int, roles: Sequence[str] | None = None,
           sections: Sequence[str] | None = None, password: str | None = None, email: str | None = None,
           active: bool | None = None) -> User:
    """Change a user (see :func:`engine.people.users.change`); each kind of change is recorded as what it
    was (修改用户, 停用/启用用户, 重置密码); commits."""
    _check_password(password)

    def work() -> User:
        before = session.get(User, user_id)
        if before is not None:
            scope.writable(session, by, before.org_id, f"用户 {user_id} 不存在", user_id=user_id)
        was = (list(before.roles), users.sections_of(session, [user_id])[user_id]) if before else ([], [])
        user, changed = users.change(session=session, user_id=user_id, roles=roles, sections=sections,
                                     password=password, email=email, active=active)
        now = users.sections_of(session, [user.id])[user.id]
        details: dict[str, Any] = {}
        if "roles" in changed and list(user.roles) != was[0]:
            details["roles"] = {"from": was[0], "to": list(user.roles)}
        if "sections" in changed and now != was[1]:
            details["sections"] = {"from": was[1], "to": now}
        if "email" in changed:
            details["email"] = user.email or ""
        if details:
            _user_record(session, user, now, by=by, trigger="user_update", changes=list(details), **details)
        if "active" in changed:
            _user_record(session, user, now, by=by, trigger="user_enable" if user.active else "user_disable",
                         changes=["active"])
        if password:
            _system_record(session, by=by, trigger="password_reset", payload={"user": user.login},
                           org_id=user.org_id)
        return user

    return _committed(session, work)


def add_section(*, session: Session, by: Actor, name: str, org_id: int | None = None) -> Section:
    """A new section (of organisation ``org_id``; default: the deployment's only root), audited; commits."""
    def work() -> Section:
        if by.org_id is not None:  # an organisation's admin adds sections to their own organisation only
            scope.writable(session, by, org_id if org_id is not None else by.org_id, f"组织 {org_id} 不存在")
        found = users.new_section(session=session, name=name, org_id=org_id if org_id is not None else by.org_id)
        _system_record(session, by=by, trigger="section_add", payload={"section": found.name, "org_id": found.org_id},
                       org_id=found.org_id)
        return found

    return _committed(session, work)


def record_organisation(session: Session, organisation: Organisation, *, by: Actor, trigger: str = "add_organisation",
                        **details: Any) -> None:
    """The record of an organisation added or renamed; flushes."""
    _system_record(session, by=by, trigger=trigger,
                   payload={"organisation": organisation.name, "org_id": organisation.id, "kind": organisation.kind,
                            "parent_id": organisation.parent_id, **details}, org_id=organisation.id)


def add_organisation(*, session: Session, by: Actor, name: str, parent: str | None = None,
                     kind: str = "bureau") -> Organisation:
    """A new organisation under ``parent`` (by name; none: a root), audited; commits.

    An organisation's admin adds organisations below their own only (``parent`` defaults to it)."""
    def work() -> Organisation:
        above = parent
        if by.org_id is not None:
            own = session.get(Organisation, by.org_id)
            above = parent or (own.name if own else None)
            if above is None or not _at_or_below(session, organisations.named(session, above), by.org_id):
                raise NotFound(f"组织“{above}”不存在", organisation=above)
        found = organisations.add(session=session, name=name, parent=above, kind=kind)
        record_organisation(session, found, by=by)
        return found

    return _committed(session, work)


def _at_or_below(session: Session, organisation: Organisation, org_id: int) -> bool:
    return organisation.id == org_id or organisations.is_below(session, organisation.id, org_id)


def change_own_password(*, session: Session, user_id: int, current: str, new: str) -> User:
    """A user changes their own password, knowing the current one; ends their other sessions; commits."""
    user = session.get(User, user_id)
    problems = []
    if user is None or not users.check_password(user, current):
        problems.append({"field": "current", "reason": "当前密码不正确"})
    if len(new or "") < PASSWORD_MIN:
        problems.append({"field": "new", "reason": f"新密码至少 {PASSWORD_MIN} 位"})
    elif user is not None and new == current:
        problems.append({"field": "new", "reason": "新密码不能与当前密码相同"})
    if problems:
        raise InvalidPayload("；".join(p["reason"] for p in problems), errors=problems)

    def work() -> User:
        changed, _ = users.change(session=session, user_id=user_id, password=new)
        _system_record(session, by=Actor(name=changed.name, roles=frozenset(changed.roles or ["staff"])),
                       trigger="password_change", payload={"user": changed.login}, org_id=changed.org_id)
        return changed

    return _committed(session, work)
