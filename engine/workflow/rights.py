"""Changes of people's rights as audited commands (users, their roles and sections, sections, passwords): in
this wing because it is the lowest that sees both the people and the audit chain.

The CLI, the API and the admin pages all call these; each writes one chained record (who did what
to whom, never a password) in the same transaction as the change, and commits once.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from engine.audit import chain
from engine.calendar import clock
from engine.people import users
from engine.store import db
from engine.store.errors import InvalidPayload
from engine.store.models import Section, User

#: What the audit shows for each of these records.
ACTIONS = {"user_add": "新增用户", "user_update": "修改用户", "user_disable": "停用用户", "user_enable": "启用用户",
           "password_reset": "重置密码", "password_change": "修改本人密码", "section_add": "新增科室"}
PASSWORD_MIN = 8


def _record(session: Session, *, by: str, role: str, trigger: str, payload: dict[str, Any]) -> None:
    chain.append(session, target_id=None, kind="system", actor=by, role=role, trigger=trigger,
                 at=clock.to_db(clock.now()), comment=ACTIONS[trigger], payload=payload)


def _committed(session: Session, work):
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


def add_user(*, session: Session, by: str, name: str, roles: Sequence[str], sections: Sequence[str] = (),
             password: str | None = None, email: str | None = None, role: str = "admin") -> User:
    """A new user, audited; commits."""
    _check_password(password)

    def work():
        user = users.add(session=session, name=name, roles=roles, sections=sections, password=password, email=email)
        _record(session, by=by, role=role, trigger="user_add",
                payload={"user": user.name, "roles": list(user.roles), "sections": list(dict.fromkeys(sections)),
                         "email": email or "", "password_set": bool(password)})
        return user

    return _committed(session, work)


def update_user(*, session: Session, by: str, user_id: int, roles: Sequence[str] | None = None,
                sections: Sequence[str] | None = None, password: str | None = None, email: str | None = None,
                active: bool | None = None, role: str = "admin") -> User:
    """Roles, sections, e-mail, a reset password or (dis)abling, audited as what it was; commits."""
    _check_password(password)

    def work():
        before = session.get(User, user_id)
        was = (list(before.roles), users.sections_of(session, [user_id])[user_id], before.active) if before else None
        user = users.change(session=session, user_id=user_id, roles=roles, sections=sections, password=password,
                            email=email, active=active)
        changed = {}
        if roles is not None and list(user.roles) != was[0]:
            changed["roles"] = {"from": was[0], "to": list(user.roles)}
        if sections is not None:
            now = users.sections_of(session, [user_id])[user_id]
            if now != was[1]:
                changed["sections"] = {"from": was[1], "to": now}
        if email is not None:
            changed["email"] = email
        if changed:
            _record(session, by=by, role=role, trigger="user_update", payload={"user": user.name, **changed})
        if active is not None and active != was[2]:
            _record(session, by=by, role=role, trigger="user_enable" if active else "user_disable",
                    payload={"user": user.name})
        if password:
            _record(session, by=by, role=role, trigger="password_reset", payload={"user": user.name})
        return user

    return _committed(session, work)


def add_section(*, session: Session, by: str, name: str, role: str = "admin") -> Section:
    """A new section, audited; commits."""
    def work():
        found = users.new_section(session=session, name=name)
        _record(session, by=by, role=role, trigger="section_add", payload={"section": found.name})
        return found

    return _committed(session, work)


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

    def work():
        changed = users.change(session=session, user_id=user_id, password=new)
        _record(session, by=changed.name, role=(changed.roles or ["staff"])[0], trigger="password_change",
                payload={"user": changed.name})
        return changed

    return _committed(session, work)
