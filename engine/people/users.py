"""Users and sections: adding people, their roles and sections, and their passwords (Argon2)."""
from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from engine.store import db
from engine.store.errors import Duplicate, InvalidPayload
from engine.store.models import Organisation, Section, User, UserSection
from engine.people import names, organisations, scope
from engine.people.actors import Actor
from engine.people.roles import ROLES

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


def section(session: Session, name: str, org_id: int) -> Section:
    """The section called ``name`` (cleaned: NFKC, no invisible characters) of organisation ``org_id``,
    created if need be; flushes."""
    name = names.clean(name)
    found = session.exec(select(Section).where(Section.org_id == org_id, Section.name == name)).first()
    if found is None:
        found = Section(org_id=org_id, name=name)
        session.add(found)
        session.flush()
    return found


def login_for(session: Session, name: str, organisation: Organisation) -> str:
    """The login name of a new person ``name`` of ``organisation``: the name itself, or, where another
    organisation's person already logs in with it, the name qualified by the organisation (张三@泉港区教育局)."""
    taken = names.confusable_with(name, session.exec(select(User.login)))
    return name if taken is None else f"{name}@{organisation.name}"


def add(*, session: Session, name: str, roles: Sequence[str], sections: Sequence[str] = (),
        password: str | None = None, email: str | None = None, org: str | None = None,
        login: str | None = None) -> User:
    """A new user of organisation ``org`` (by name; default: the deployment's only root) with ``roles``
    and membership of ``sections`` (of that organisation); flushes, does not commit.

    The name is cleaned (:func:`names.clean`); one that could be taken for an existing user's of the same
    organisation is refused. The login name is ``login``, or :func:`login_for` the name.
    """
    organisation = organisations.named(session, org) if org else organisations.default(session)
    name = names.clean(name)
    problems = []
    if not name or len(name) > NAME_MAX:
        problems.append({"field": "name", "reason": f"用户名不能为空，且不超过 {NAME_MAX} 个字符"})
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        problems.append({"field": "roles", "reason": f"角色应为 {', '.join(ROLES)} 之一，收到：{', '.join(unknown) or '无'}"})
    if problems:
        raise InvalidPayload("；".join(p["reason"] for p in problems), errors=problems)
    email = names.email_address(email)
    taken = names.confusable_with(name, session.exec(select(User.name).where(User.org_id == organisation.id)))
    if taken is not None:
        raise Duplicate(f"用户“{name}”已存在" if taken == name else f"用户名“{name}”与已有用户“{taken}”难以区分",
                        name=name)
    if login is not None:
        login = names.clean(login)
        if not login or len(login) > 200:
            raise InvalidPayload("登录名不能为空，且不超过 200 个字符", errors=[{"field": "login", "reason": "登录名无效"}])
        if names.confusable_with(login, session.exec(select(User.login))) is not None:
            raise Duplicate(f"登录名“{login}”已被使用", login=login)
    user = User(org_id=organisation.id, name=name, login=login or login_for(session, name, organisation),
                roles=list(dict.fromkeys(roles)), email=email,
                password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    for section_name in dict.fromkeys(names.clean(s) for s in sections if names.clean(s)):
        session.add(UserSection(user_id=user.id, section_id=section(session, section_name, organisation.id).id))
    session.flush()
    return user


def register(*, session: Session, **fields) -> User:
    """:func:`add` as a command of its own: commits (or, on any error, writes nothing)."""
    db.begin_write(session)
    try:
        user = add(session=session, **fields)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return user


def sections_of(session: Session, user_ids: Sequence[int]) -> dict[int, list[str]]:
    """Section names of each user, in one query."""
    found: dict[int, list[str]] = {i: [] for i in user_ids}
    if user_ids:
        rows = session.exec(select(UserSection.user_id, Section.name).join(Section, Section.id == UserSection.section_id)
                            .where(UserSection.user_id.in_(list(user_ids))).order_by(Section.name))
        for user_id, name in rows:
            found[user_id].append(name)
    return found


def listing(*, session: Session, limit: int, offset: int, actor: Actor | None = None) -> tuple[list[User], int]:
    """A page of the people ``actor`` manages (those of their organisation; ``None``: everyone) and the total."""
    from sqlalchemy import func

    kept = scope.users(scope.of(session, actor))
    total = session.exec(select(func.count()).select_from(User).where(kept)).one()
    return list(session.exec(select(User).where(kept).order_by(User.id).limit(limit).offset(offset))), total


def get(*, session: Session, user_id: int, actor: Actor | None = None) -> User:
    """The user ``user_id`` if ``actor`` manages them; :class:`NotFound` otherwise."""
    from engine.store.errors import NotFound

    user = session.get(User, user_id)
    if user is None or not session.exec(select(User.id).where(User.id == user_id,
                                                              scope.users(scope.of(session, actor)))).first():
        raise NotFound(f"用户 {user_id} 不存在", user_id=user_id)
    return user


def update(*, session: Session, user_id: int, roles: Sequence[str] | None = None, sections: Sequence[str] | None = None,
           password: str | None = None, email: str | None = None, active: bool | None = None) -> User:
    """Change a user's roles, sections, password, e-mail or whether they may log in; commits."""
    db.begin_write(session)
    try:
        user, _ = change(session=session, user_id=user_id, roles=roles, sections=sections, password=password,
                         email=email, active=active)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return user


def change(*, session: Session, user_id: int, roles: Sequence[str] | None = None,
           sections: Sequence[str] | None = None, password: str | None = None, email: str | None = None,
           active: bool | None = None) -> tuple[User, list[str]]:
    """:func:`update` without the commit: the user and the names of what changed; flushes."""
    from engine.store.errors import NotFound

    if email is not None:
        email = names.email_address(email) or ""  # checked before anything is written; "" clears it
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 {user_id} 不存在", user_id=user_id)
    changed = []
    if roles is not None:
        unknown = [r for r in roles if r not in ROLES]
        if unknown or not roles:
            raise InvalidPayload(f"未知角色：{', '.join(unknown)}", errors=[{"field": "roles", "reason": "未知角色"}])
        user.roles = list(dict.fromkeys(roles))
        changed.append("roles")
    if password:  # a new password also ends the sessions opened with the old one
        from datetime import datetime, timezone

        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
        user.sessions_since = datetime.now(timezone.utc)
        changed.append("password")
    if email is not None:
        user.email = email or None
        changed.append("email")
    if active is not None:
        user.active = active
        changed.append("active")
    session.add(user)
    session.flush()
    if sections is not None:
        for link in session.exec(select(UserSection).where(UserSection.user_id == user_id)):
            session.delete(link)
        session.flush()
        for name in dict.fromkeys(names.clean(s) for s in sections if names.clean(s)):
            session.add(UserSection(user_id=user_id, section_id=section(session, name, user.org_id).id))
        session.flush()
        changed.append("sections")
    return user, changed


def list_sections(*, session: Session, actor: Actor | None = None) -> list[Section]:
    """The sections of ``actor``'s organisation (``None``: every section)."""
    return list(session.exec(select(Section).where(scope.sections(scope.of(session, actor))).order_by(Section.name)))


def add_section(*, session: Session, name: str, org_id: int | None = None) -> Section:
    """A new section; :class:`Duplicate` if the name is taken; commits."""
    name = names.clean(name)
    if not name:
        raise InvalidPayload("科室名称为空", errors=[{"field": "name", "reason": "科室名称为空"}])
    db.begin_write(session)
    try:
        found = new_section(session=session, name=name, org_id=org_id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return found


def new_section(*, session: Session, name: str, org_id: int | None = None) -> Section:
    """A new section of organisation ``org_id`` (default: the deployment's only root); :class:`Duplicate`
    if the name is taken there, or looks like one that is; flushes."""
    name = names.clean(name)
    if not name or len(name) > NAME_MAX:
        raise InvalidPayload("科室名称不能为空，且不超过 100 个字符", errors=[{"field": "name", "reason": "科室名称为空或过长"}])
    if org_id is None:
        org_id = organisations.default(session).id
    taken = names.confusable_with(name, session.exec(select(Section.name).where(Section.org_id == org_id)))
    if taken is not None:
        raise Duplicate(f"科室“{name}”已存在" if taken == name else f"科室名称“{name}”与已有科室“{taken}”难以区分",
                        name=name)
    return section(session, name, org_id)
