"""Users and sections: adding people, their roles and sections, and their passwords (Argon2)."""
from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from engine.errors import Duplicate, InvalidPayload
from engine.models import Section, User, UserSection
from engine.rules import ROLES

_hasher = PasswordHasher()
NAME_MAX = 100


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's (never true for a user without a password)."""
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def section(session: Session, name: str) -> Section:
    """The section called ``name``, created if it does not exist yet; flushes."""
    found = session.exec(select(Section).where(Section.name == name)).first()
    if found is None:
        found = Section(name=name)
        session.add(found)
        session.flush()
    return found


def add(*, session: Session, name: str, roles: Sequence[str], sections: Sequence[str] = (),
        password: str | None = None, email: str | None = None) -> User:
    """A new user with ``roles`` and membership of ``sections``; flushes, does not commit."""
    name = (name or "").strip()
    problems = []
    if not name or len(name) > NAME_MAX:
        problems.append({"field": "name", "reason": f"用户名不能为空，且不超过 {NAME_MAX} 个字符"})
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        problems.append({"field": "roles", "reason": f"角色应为 {', '.join(ROLES)} 之一，收到：{', '.join(unknown) or '无'}"})
    if "staff" in roles and not sections:
        problems.append({"field": "sections", "reason": "科室人员（staff）至少属于一个科室"})
    if problems:
        raise InvalidPayload("；".join(p["reason"] for p in problems), errors=problems)
    if session.exec(select(User).where(User.name == name)).first():
        raise Duplicate(f"用户“{name}”已存在", name=name)
    user = User(name=name, roles=list(dict.fromkeys(roles)), email=email,
                password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    for section_name in dict.fromkeys(s.strip() for s in sections if s.strip()):
        session.add(UserSection(user_id=user.id, section_id=section(session, section_name).id))
    session.flush()
    return user
