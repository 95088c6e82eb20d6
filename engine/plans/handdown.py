"""Handing targets down (下达): a target whose responsible unit names child organisations becomes one
target in each of them, linked to it, in the child's plan for the same year.

The responsible unit (责任科室 / 牵头单位) names a child by its name (泉港区教育局) or a group of them by a
phrase (各县(市、区)教育局, 各高校, 局属学校 …; :data:`GROUPS`), which stands for the children of that kind.
A child target carries the parent's code, text, deadline, indicators and weight, starts with nobody
assigned (the child's office assigns its own sections and people) and runs its own lifecycle. Handing
down again creates nothing new.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, select

from engine.audit import ledger
from engine.people import names, organisations
from engine.people.actors import Actor
from engine.plans import rhythm
from engine.plans.assignment import own_office_target
from engine.store import db
from engine.store.errors import InvalidPayload
from engine.store.models import Indicator, Milestone, Organisation, Plan, Target
from engine.workflow import targets

#: The phrases a responsible-unit cell uses for a group of child organisations, and the kind they stand
#: for. Written as the documents write them; matched after NFKC (full-width brackets read as half-width).
GROUPS = {
    "各县(市、区)教育局": "county",
    "各县(市、区)": "county",
    "各县(市、区)教育部门": "county",
    "各县区教育局": "county",
    "各县区": "county",
    "各区县": "county",
    "各高校": "school",
    "各高等学校": "school",
    "局属学校": "school",
    "局属各学校": "school",
    "市直属学校": "school",
    "各学校": "school",
    "各直属学校": "school",
    "局属单位": "unit",
    "局属各单位": "unit",
    "各直属单位": "unit",
}
_GROUPS = {names.clean(phrase): kind for phrase, kind in GROUPS.items()}
#: The comment of a handed-down target's creation record.
COMMENT = "上级下达"


def group_kind(name: str) -> str | None:
    """The kind of organisation a group phrase stands for (``county`` for 各县(市、区)教育局), or ``None``."""
    return _GROUPS.get(names.clean(name))


def _recipients(units: Iterable[str], children: Sequence[Organisation]) -> list[Organisation]:
    """The children that ``units`` (a target's responsible units, as written) name, in the children's order."""
    by_name = {names.clean(child.name): child for child in children}
    chosen: dict[int, Organisation] = {}
    for unit in units:
        kind = group_kind(unit)
        if kind is not None:
            chosen.update({c.id: c for c in children if c.kind == kind})
        elif names.clean(unit) in by_name:
            child = by_name[names.clean(unit)]
            chosen[child.id] = child
    return [c for c in children if c.id in chosen]


def names_children(unit: str, children: Sequence[Organisation]) -> bool:
    """Whether a responsible unit as written (泉港区教育局, 各县(市、区)教育局) stands for child organisations
    rather than a section of the organisation itself: a child's name, or a group phrase in an
    organisation that has children."""
    return bool(children) and (group_kind(unit) is not None or bool(_recipients([unit], children)))


def recipients(session: Session, target: Target) -> list[Organisation]:
    """The child organisations the target's responsible units name (none: it stays where it is)."""
    organisation = session.get(Organisation, target.org_id)
    return _recipients(targets.parties_of(session, target.id).sections, organisations.children(session, organisation))


def child_plan(session: Session, parent: Plan, organisation: Organisation, *, by: Actor) -> Plan:
    """The child organisation's plan for the parent plan's year, created with the parent's milestones
    (and the default report schedule) if it has none yet; flushes."""
    plan = session.exec(select(Plan).where(Plan.org_id == organisation.id, Plan.year == parent.year)).first()
    if plan is not None:
        return plan
    plan = Plan(org_id=organisation.id, org=organisation.name, year=parent.year,
                title=f"{organisation.name}{parent.year}年度绩效目标（{parent.org}下达）", scoring=dict(parent.scoring or {}))
    session.add(plan)
    session.flush()
    milestones = list(session.exec(select(Milestone).where(Milestone.plan_id == parent.id).order_by(Milestone.id)))
    session.add_all(Milestone(plan_id=plan.id, key=m.key, label=m.label, phrase=m.phrase, due_date=m.due_date)
                    for m in milestones)
    session.flush()
    if milestones:
        ledger.milestones_set(session, plan.id, {m.key: m.due_date for m in milestones}, actor=by.name,
                              role=_role(by), trigger="hand_down")
    rhythm.add_default_schedule(session, plan.id)
    return plan


def _role(actor: Actor) -> str:
    return next((r for r in ("office", "admin") if r in actor.roles), next(iter(sorted(actor.roles)), "admin"))


def hand_down_to(session: Session, target: Target, to: Sequence[Organisation], *, by: Actor) -> list[Target]:
    """One child target in each organisation of ``to`` that has none of ``target`` yet; flushes.

    Each is created through the audited creation path, its record naming the parent target.
    """
    if not to:
        return []
    have = set(session.exec(select(Target.org_id).where(Target.parent_id == target.id)))
    pending = [o for o in to if o.id not in have]
    if not pending:
        return []
    parent_plan = session.get(Plan, target.plan_id)
    indicators = list(session.exec(select(Indicator).where(Indicator.target_id == target.id)
                                   .order_by(Indicator.position)))
    made = []
    for organisation in pending:
        plan = child_plan(session, parent_plan, organisation, by=by)
        child = targets.create(
            session=session, plan_id=plan.id, org_id=organisation.id, code=target.code, text=target.text,
            weight=target.weight, due_date=target.due_date, deadline_phrase=target.deadline_phrase,
            category=target.category, indicator=target.indicator, indicator_points=target.indicator_points,
            basis=target.basis, workflow=target.workflow, extra_columns=target.extra_columns,
            checkpoints=target.checkpoints or (), parent_id=target.id,
            actor=by.name, role=_role(by), comment=COMMENT,
            record={"parent_id": target.id, "parent_code": target.code, "from": parent_plan.org,
                    "to": organisation.name})
        session.add_all(Indicator(target_id=child.id, position=i.position, name=i.name, raw=i.raw) for i in indicators)
        made.append(child)
    session.flush()
    return made


def hand_down_plan(session: Session, plan: Plan, *, by: Actor) -> list[Target]:
    """Hand down every target of ``plan`` whose responsible units name child organisations; flushes.
    (The import calls this once the plan's own targets are written.)"""
    organisation = session.get(Organisation, plan.org_id)
    children = organisations.children(session, organisation)
    if not children:
        return []
    rows = session.exec(select(Target).where(Target.plan_id == plan.id, Target.parent_id.is_(None))
                        .order_by(Target.id)).all()
    parties = targets.parties_for(session, [t.id for t in rows])
    made = []
    for target in rows:
        made += hand_down_to(session, target, _recipients(parties[target.id].sections, children), by=by)
    return made


def hand_down(*, session: Session, target_id: int, actor: Actor, to: Sequence[str] = ()) -> list[Target]:
    """The office hands a target of its organisation down (下达): to the children named in ``to`` (by name or
    group phrase), or else to those its responsible units name; what was handed down before is kept.
    Returns the child targets created (none when every one exists already); commits."""
    db.begin_write(session)
    try:
        target = own_office_target(session, target_id, actor, "下达目标")
        organisation = session.get(Organisation, target.org_id)
        children = organisations.children(session, organisation)
        chosen = _recipients(to, children) if to else recipients(session, target)
        unknown = [u for u in to if not _recipients([u], children)]
        if unknown or not chosen:
            reason = (f"“{'、'.join(unknown)}”不是本单位的下级单位，也不是可识别的下级单位统称" if unknown
                      else "该目标的责任单位没有写下级单位，请指明下达给哪些单位")
            raise InvalidPayload(reason, errors=[{"field": "to", "reason": reason}])
        made = hand_down_to(session, target, chosen, by=actor)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return made


def offered(session: Session, actor: Actor, target: Target) -> list[Organisation]:
    """The child organisations ``actor`` may hand ``target`` down to: its organisation's children for that
    organisation's office, none for anyone else."""
    if "office" not in actor.roles or actor.org_id not in (None, target.org_id):
        return []
    return organisations.children(session, session.get(Organisation, target.org_id))


def children_of(session: Session, target_id: int) -> list[Target]:
    """The targets handed down from ``target_id``, by organisation."""
    return list(session.exec(select(Target).join(Organisation, Organisation.id == Target.org_id)
                             .where(Target.parent_id == target_id).order_by(Organisation.path)))
