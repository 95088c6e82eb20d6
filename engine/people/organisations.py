"""Organisations: the tree of a deployment (province → city bureau → county bureaus → schools and units).

Every plan, section, user and target belongs to one organisation. An organisation's ``path``
lists the ids from the root down to it (``1/5/23/``), so its descendants are one index range
(``path LIKE '1/5/%'``) whatever the depth.

A deployment with a single organisation needs no names: everything goes to it. The first one is
created on demand, named after the first plan imported (or :data:`PLACEHOLDER` when people are
added before any plan, renamed after the first plan later).
"""
from __future__ import annotations

from sqlmodel import Session, select

from engine.people import names, scope
from engine.people.actors import Actor
from engine.store.errors import Duplicate, InvalidPayload, NotFound
from engine.store.models import ORGANISATION_KINDS, Organisation, Plan

#: The name of an organisation created before anything named it.
PLACEHOLDER = "本单位"
NAME_MAX = 200
#: Chinese labels of the kinds, for pages and messages.
KIND_LABELS = {"province": "省级", "bureau": "市级", "county": "县(市、区)级", "school": "学校", "unit": "其他单位"}


def add(*, session: Session, name: str, parent: str | None = None, kind: str = "bureau") -> Organisation:
    """A new organisation under ``parent`` (by name; ``None``: a root); flushes. The audited command
    is :func:`engine.plans.staffing.add_organisation`."""
    name = names.clean(name)
    if not name or len(name) > NAME_MAX:
        raise InvalidPayload(f"组织名称不能为空，且不超过 {NAME_MAX} 个字符",
                             errors=[{"field": "name", "reason": "组织名称不能为空"}])
    if kind not in ORGANISATION_KINDS:
        raise InvalidPayload(f"组织类型应为 {', '.join(ORGANISATION_KINDS)} 之一，收到：{kind}",
                             errors=[{"field": "kind", "reason": "未知的组织类型"}])
    taken = names.confusable_with(name, session.exec(select(Organisation.name)))
    if taken is not None:
        raise Duplicate(f"组织“{name}”已存在" if taken == name else f"组织名称“{name}”与已有组织“{taken}”难以区分",
                        name=name)
    above = named(session, parent) if parent else None
    organisation = Organisation(name=name, kind=kind, parent_id=above.id if above else None)
    session.add(organisation)
    session.flush()
    organisation.path = f"{above.path if above else ''}{organisation.id}/"
    session.flush()
    return organisation


def named(session: Session, name: str) -> Organisation:
    """The organisation called ``name``; :class:`NotFound` naming it otherwise."""
    found = session.exec(select(Organisation).where(Organisation.name == names.clean(name))).first()
    if found is None:
        raise NotFound(f"组织“{name}”不存在（先用 kaoping org add 添加）", organisation=name)
    return found


def listing(session: Session, actor: Actor | None = None) -> list[Organisation]:
    """The organisations ``actor`` reads (``None``: every one), parents before their children (by path)."""
    return list(session.exec(select(Organisation).where(scope.organisations(scope.of(session, actor)))
                             .order_by(Organisation.path)))


def descendants(session: Session, organisation: Organisation, *, kind: str | None = None) -> list[Organisation]:
    """The organisations below ``organisation`` (not itself), optionally of one kind."""
    query = select(Organisation).where(Organisation.path.startswith(organisation.path, autoescape=True),
                                       Organisation.id != organisation.id)
    if kind:
        query = query.where(Organisation.kind == kind)
    return list(session.exec(query.order_by(Organisation.path)))


def is_below(session: Session, org_id: int, ancestor_id: int) -> bool:
    """Whether organisation ``org_id`` is a descendant of ``ancestor_id`` (not itself)."""
    path = session.exec(select(Organisation.path).where(Organisation.id == org_id)).first() or ""
    return str(ancestor_id) in path.split("/")[:-2]  # "1/5/23/": 23's ancestors are 1 and 5


def children(session: Session, organisation: Organisation, *, kind: str | None = None) -> list[Organisation]:
    """The organisations directly below ``organisation``."""
    query = select(Organisation).where(Organisation.parent_id == organisation.id)
    if kind:
        query = query.where(Organisation.kind == kind)
    return list(session.exec(query.order_by(Organisation.name)))


def default(session: Session) -> Organisation:
    """The organisation things go to when none is named: the deployment's only root.

    None yet: :data:`PLACEHOLDER` is created. Several roots: refused, the caller must name one.
    """
    roots = list(session.exec(select(Organisation).where(Organisation.parent_id.is_(None)).limit(2)))
    if len(roots) == 1:
        return roots[0]
    if roots:
        raise InvalidPayload("部署中有多个顶级组织，请指明组织（--org）",
                             errors=[{"field": "org", "reason": "请指明组织"}])
    return add(session=session, name=PLACEHOLDER)


def for_plan(session: Session, name: str) -> tuple[Organisation, str | None]:
    """The organisation a plan written for ``name`` goes to, and what had to happen for it
    (``None``, ``"created"`` or ``"renamed"``; the caller records it).

    In this order: the organisation of that name; the organisation of a plan already written for that
    name (a database upgraded from a single organisation keeps its plans' names); a new organisation of
    that name when there is none yet; the placeholder, renamed, when it is the only one and holds no plan.
    Otherwise :class:`NotFound`: with several organisations a plan must name one of them.
    """
    name = names.clean(name)
    found = session.exec(select(Organisation).where(Organisation.name == name)).first()
    if found is not None:
        return found, None
    written = session.exec(select(Organisation).join(Plan, Plan.org_id == Organisation.id).where(Plan.org == name)).first()
    if written is not None:
        return written, None
    some = list(session.exec(select(Organisation).limit(2)))
    if not some:
        return add(session=session, name=name or PLACEHOLDER), "created"
    only = some[0] if len(some) == 1 else None
    if only is not None and only.name == PLACEHOLDER and name \
            and not session.exec(select(Plan.id).where(Plan.org_id == only.id)).first():
        rename(session=session, organisation=only, name=name)
        return only, "renamed"
    return named(session, name), None


def rename(*, session: Session, organisation: Organisation, name: str) -> None:
    """Give ``organisation`` another name; flushes."""
    name = names.clean(name)
    taken = names.confusable_with(name, session.exec(select(Organisation.name).where(Organisation.id != organisation.id)))
    if taken is not None:
        raise Duplicate(f"组织“{name}”已存在", name=name)
    organisation.name = name
    session.add(organisation)
    session.flush()
