"""Who reads and who acts where: the one list of organisation scoping rules.

An actor *acts* only in their own organisation. They *read* their own organisation, and, for the
office and the auditor, every organisation below it (a parent's office follows its county
bureaus' and schools' work, never writes it). Nobody reads a sibling or an ancestor. The system
(``Actor.org_id is None``: the CLI, scheduled jobs) reads and acts everywhere.

Every query that lists or fetches something of an organisation takes its condition from here
(:func:`condition` and the named ones below), so a list is one index range on the ``org_id``
column whatever the depth of the tree. Something outside the reader's scope does not exist for
them (:class:`NotFound`); an ancestor's reader who tries to write is told why (:class:`Forbidden`).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import Session, select

from engine.people.actors import Actor
from engine.store.errors import Forbidden, NotFound
from engine.store.models import Organisation, Plan, Section, Target, TransitionRecord, User

#: Roles that read the organisations below their own (the office and the outside inspector).
READS_BELOW = frozenset({"office", "auditor"})


@dataclass(frozen=True)
class Scope:
    """Where one actor reads and acts: ``org_id`` (``None``: everywhere), its ``path``, whether below too."""

    org_id: int | None
    path: str = ""
    below: bool = False
    #: Whether the organisation is a root of the tree (it then also reads records of no organisation).
    root: bool = True

    @property
    def everywhere(self) -> bool:
        return self.org_id is None


EVERYWHERE = Scope(None)


def of(session: Session, actor: Actor | None) -> Scope:
    """The scope of ``actor`` (``None`` or the system: everywhere)."""
    if actor is None or actor.org_id is None:
        return EVERYWHERE
    organisation = session.get(Organisation, actor.org_id)
    if organisation is None:  # the person's organisation is gone: nothing is theirs
        return Scope(actor.org_id, path="\x00", below=False, root=False)
    return Scope(organisation.id, organisation.path, bool(actor.roles & READS_BELOW), organisation.parent_id is None)


def readable_organisations(scope: Scope):
    """The ids of the organisations ``scope`` reads, as a subquery (own and, where allowed, below)."""
    query = select(Organisation.id)
    if scope.everywhere:
        return query
    if not scope.below:
        return query.where(Organisation.id == scope.org_id)
    return query.where(Organisation.path.like(f"{scope.path}%"))


def condition(scope: Scope, column) -> ColumnElement[bool]:
    """The condition on an ``org_id`` column that keeps what ``scope`` reads."""
    if scope.everywhere:
        return true()
    if not scope.below:
        return column == scope.org_id
    return column.in_(readable_organisations(scope))


def acting(scope: Scope, column) -> ColumnElement[bool]:
    """The condition on an ``org_id`` column that keeps what ``scope`` may change (its own organisation)."""
    return true() if scope.everywhere else column == scope.org_id


def targets(scope: Scope) -> ColumnElement[bool]:
    return condition(scope, Target.org_id)


def plans(scope: Scope) -> ColumnElement[bool]:
    return condition(scope, Plan.org_id)


def users(scope: Scope) -> ColumnElement[bool]:
    """People an admin manages, or a list names: those of the actor's own organisation only."""
    return acting(scope, User.org_id)


def sections(scope: Scope) -> ColumnElement[bool]:
    return acting(scope, Section.org_id)


def records(scope: Scope) -> ColumnElement[bool]:
    """Transition records: of a target, its organisation's; of a person or section, the person's
    organisation's; records of no organisation (deployment-wide, or written before there were
    organisations) belong to the roots."""
    kept = condition(scope, TransitionRecord.org_id)
    if scope.everywhere:
        return kept
    return or_(kept, TransitionRecord.org_id == 0) if scope.root else kept  # 0: the deployment's chain


def organisations(scope: Scope) -> ColumnElement[bool]:
    """The organisations ``scope`` reads."""
    if scope.everywhere:
        return true()
    if not scope.below:
        return Organisation.id == scope.org_id
    return Organisation.path.like(f"{scope.path}%")


def may_read(session: Session, actor: Actor | None, org_id: int | None) -> bool:
    """Whether ``actor`` reads something of organisation ``org_id``."""
    scope = of(session, actor)
    if scope.everywhere or org_id == scope.org_id:
        return True
    if not scope.below or org_id is None:
        return False
    path = session.exec(select(Organisation.path).where(Organisation.id == org_id)).first() or ""
    return path.startswith(scope.path)


def readable(session: Session, actor: Actor | None, org_id: int | None, message: str, **details) -> None:
    """:class:`NotFound` with ``message`` unless ``actor`` reads organisation ``org_id``."""
    if not may_read(session, actor, org_id):
        raise NotFound(message, **details)


def writable(session: Session, actor: Actor | None, org_id: int | None, message: str, **details) -> None:
    """Nothing unless ``actor`` acts in organisation ``org_id``: :class:`Forbidden` for a reader of it
    (a parent's office), :class:`NotFound` with ``message`` for everyone else."""
    if actor is None or actor.org_id is None or actor.org_id == org_id:
        return
    if may_read(session, actor, org_id):
        raise Forbidden("上级单位只能查看下级单位的数据，不能办理", code="other_organisation")
    raise NotFound(message, **details)


def audit_within(session: Session, actor: Actor | None) -> ColumnElement[bool] | None:
    """The records an audit list, search or export shows ``actor`` (``None``: all of them)."""
    found = of(session, actor)
    return None if found.everywhere else records(found)


def reads_everything(session: Session, actor: Actor | None) -> bool:
    """Whether ``actor`` reads every organisation of the deployment (the whole chain is theirs to verify):
    the system, or the office or auditor of the only root."""
    found = of(session, actor)
    if found.everywhere:
        return True
    return found.below and found.root and session.exec(
        select(Organisation.id).where(Organisation.parent_id.is_(None), Organisation.id != found.org_id)).first() is None


def whole_chain(session: Session, actor: Actor | None) -> None:
    """:class:`Forbidden` unless ``actor`` reads every organisation (see :func:`reads_everything`)."""
    if not reads_everything(session, actor):
        raise Forbidden("整条审计链的校验涉及其他单位，只能由顶级单位的绩效办或审计人员进行", code="other_organisation")
