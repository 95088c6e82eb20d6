"""Who is acting, and on which targets they may act (scope)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from engine.store.errors import NotFound
from engine.store.models import Section, User, UserSection
from engine.people.roles import SYSTEM_ROLE


@dataclass(frozen=True)
class Actor:
    """A person (or the system) acting in some roles on behalf of some sections."""

    name: str
    roles: frozenset[str]
    sections: frozenset[str] = frozenset()
    user_id: int | None = None
    #: The organisation the person belongs to (``None``: the system, which acts in every organisation).
    org_id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(name="系统", roles=frozenset({SYSTEM_ROLE}))


@dataclass(frozen=True)
class Parties:
    """The people and sections a target belongs to, as the plan names them."""

    sections: tuple[str, ...] = ()
    leaders: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()


def in_scope(actor: Actor, role: str, parties: Parties) -> bool:
    """Whether ``actor`` acting as ``role`` may act on a target of ``parties``.

    Staff act on targets of their sections, leaders on targets they are in charge of, the
    office on every target; the auditor and the admin never act on targets.
    """
    if role == "office" or role == SYSTEM_ROLE:
        return True
    if role == "staff":
        return bool(actor.sections.intersection(parties.sections))
    if role == "leader":
        return actor.name in parties.leaders
    return False


#: Roles that read every target's evidence: the office checks it, the auditor inspects it.
EVIDENCE_READERS = frozenset({"office", "auditor"})


def may_see_evidence(actor: Actor, parties: Parties) -> bool:
    """Whether ``actor`` may open the evidence files of a target of ``parties``: the target's
    parties (staff of its sections, the persons it names, its leaders), the office and the auditor."""
    if actor.roles & EVIDENCE_READERS:
        return True
    if "staff" in actor.roles and (actor.sections.intersection(parties.sections) or actor.name in parties.persons):
        return True
    return "leader" in actor.roles and actor.name in parties.leaders


def lead_section(parties: Parties) -> Parties:
    """The parties as seen by a transition only the lead section (牵头科室, the first named) may fire."""
    return Parties(parties.sections[:1], parties.leaders, parties.persons)


def actor_for(session: Session, name: str) -> Actor:
    """The actor for the active user who logs in as ``name``; :class:`NotFound` if there is none."""
    user = session.exec(select(User).where(User.login == name, User.active == True)).first()  # noqa: E712
    if user is None:
        raise NotFound(f"用户“{name}”不存在或已停用", user=name)
    return actor_of(session, user)


def actor_of(session: Session, user: User) -> Actor:
    """The actor for a loaded user, with the names of their sections."""
    sections = session.exec(
        select(Section.name).join(UserSection, UserSection.section_id == Section.id).where(UserSection.user_id == user.id)
    )
    return Actor(name=user.name, roles=frozenset(user.roles), sections=frozenset(sections), user_id=user.id,
                 org_id=user.org_id)
