"""Plans: writing an imported plan, its milestones, and dynamic targets added during the year."""
from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from engine.audit import chain as audit, ledger
from engine.calendar import clock
from engine.store import db, rows
from engine.workflow import definitions, deployments, targets
from engine.people.actors import Actor, Parties
from engine.calendar.deadlines import DeadlinePhraseError, parse_deadline
from engine.workflow.duedates import state_due
from engine.store.errors import InvalidPayload, NotFound
from engine.people import organisations, scope
from engine.plans import handdown, rhythm, staffing
from engine.plans.indicators import IndicatorError, is_met, parse_indicator
from engine.store.models import Indicator, Milestone, Organisation, Plan, Section, Target
from engine.plans.importer import (
    CODE_MAX_LENGTH,
    ImportRefused,
    ImportResult,
    PlanDraft,
    RowError,
    TargetDraft,
)
from engine.workflow.targets import parties_of

NEAR_DUPLICATE = 0.9  # similarity of target texts above which a new dynamic target is warned about


def _plan(session: Session, draft: PlanDraft, actor: Actor) -> Plan:
    """The plan a draft goes to: of the organisation it names (see :func:`organisations.for_plan`); a person
    imports into their own organisation only (a table naming none of the organisations goes there)."""
    try:
        organisation, happened = organisations.for_plan(session, draft.org)
    except NotFound:
        if actor.org_id is None:
            raise
        organisation, happened = session.get(Organisation, actor.org_id), None
    scope.writable(session, actor, organisation.id, f"组织“{draft.org}”不存在", organisation=draft.org)
    if happened:
        staffing.record_organisation(session, organisation, by=actor,
                                     trigger="add_organisation" if happened == "created" else "rename_organisation")
    plan = session.exec(select(Plan).where(Plan.org_id == organisation.id, Plan.year == draft.year)).first()
    if plan is None:
        plan = Plan(org_id=organisation.id, org=draft.org, year=draft.year, title=draft.title)
        session.add(plan)
    plan.title = draft.title
    if draft.workflow and draft.workflow != plan.workflow:
        _name_workflow(session, plan, draft.workflow, actor)
    plan.categories = {name: float(points) for name, points in draft.categories.items()}
    session.flush()
    existing = set(session.exec(select(Milestone.key).where(Milestone.plan_id == plan.id)))
    added = {}
    for key, label, phrase, due in draft.milestones:
        if key not in existing:  # milestones are edited in the plan after import; a re-import keeps them
            session.add(Milestone(plan_id=plan.id, key=key, label=label, phrase=phrase, due_date=due))
            added[key] = due
    if added:
        ledger.milestones_set(session, plan.id, added, actor=actor.name, role=_role(actor))
    rhythm.add_default_schedule(session, plan.id)
    session.flush()
    return plan


def _name_workflow(session: Session, plan: Plan, workflow: str, actor: Actor) -> None:
    """The plan's targets to come run on ``workflow`` (its newest deployed version; :class:`NotFound` for an id
    that is not deployed); recorded in the chain; flushes."""
    version = deployments.newest(session, workflow).version
    before, plan.workflow = (plan.workflow if plan.id else None), workflow
    session.add(plan)
    session.flush()
    audit.append(session, target_id=None, org_id=plan.org_id, kind="plan", actor=actor.name, role=_role(actor),
                 trigger="set_workflow", from_state=None, to_state=None, at=clock.to_db(clock.now()), comment="",
                 payload={"plan_id": plan.id, "workflow": workflow, "version": version, "before": before})


def _writable_plan(session: Session, plan_id: int, actor: Actor) -> Plan:
    """The plan ``actor`` may change, or :class:`NotFound` (also for another organisation's plan)."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"计划 {plan_id} 不存在", plan_id=plan_id)
    scope.writable(session, actor, plan.org_id, f"计划 {plan_id} 不存在", plan_id=plan_id)
    return plan


def set_workflow(*, session: Session, plan_id: int, workflow: str, actor: Actor) -> Plan:
    """Name the workflow the plan's new targets run on (targets already there keep theirs); audited; commits."""
    db.begin_write(session)
    try:
        plan = _writable_plan(session, plan_id, actor)
        if plan.workflow != workflow:
            _name_workflow(session, plan, workflow, actor)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return plan


def _fields(d: TargetDraft) -> dict[str, Any]:
    return {"category": d.category, "indicator": d.indicator, "indicator_points": d.indicator_points,
            "basis": d.basis, "text": d.text, "weight": d.weight, "deadline_phrase": d.deadline_phrase,
            "due_date": d.due_date, "extra_columns": d.extra_columns,
            "checkpoints": [c.isoformat() if isinstance(c, date) else c for c in d.checkpoints]}


def _shown(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _changes(session: Session, target: Target, d: TargetDraft) -> dict[str, list[Any]]:
    changes = {}
    for name, new in _fields(d).items():
        old = getattr(target, name)
        if (Decimal(str(old)) if isinstance(new, Decimal) and old is not None else old) != new:
            changes[name] = [_shown(old), _shown(new)]
    parties = parties_of(session, target.id)
    for name in ("sections", "leaders", "persons"):
        if list(getattr(parties, name)) != getattr(d, name):
            changes[name] = [list(getattr(parties, name)), getattr(d, name)]
    written = [(i.name, i.raw) for i in session.exec(select(Indicator).where(Indicator.target_id == target.id)
                                                       .order_by(Indicator.position))]
    if written != d.indicators:
        changes["indicators"] = [[f"{n}：{r}" for n, r in written], [f"{n}：{r}" for n, r in d.indicators]]
    return changes


def _indicator_rows(target_id: int, d: TargetDraft) -> list[dict[str, Any]]:
    return [{"target_id": target_id, "position": i, "name": name, "raw": raw, "actual": None, "reported_at": None}
            for i, (name, raw) in enumerate(d.indicators)]


def _indicators(target_id: int, d: TargetDraft) -> list[Indicator]:
    return [Indicator(**row) for row in _indicator_rows(target_id, d)]


def _insert_indicators(session: Session, values: list[dict[str, Any]]) -> None:
    rows.insert_many(session.connection(), Indicator.__table__, values, keys=False)


def _parties(d: TargetDraft) -> Parties:
    return Parties(tuple(d.sections), tuple(d.leaders), tuple(d.persons))


def apply(*, session: Session, draft: PlanDraft, actor: Actor, force: bool = False,
          progress: Callable[[int], None] | None = None) -> ImportResult:
    """Write a validated plan in one transaction, or nothing (:class:`ImportRefused`)."""
    if draft.errors:
        raise ImportRefused(draft.errors)
    db.begin_write(session)
    try:
        with session.no_autoflush:
            result = _apply(session, draft, actor, force, progress)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _apply(session, draft, actor, force, progress) -> ImportResult:
    plan = _plan(session, draft, actor)
    result = ImportResult(plan_id=plan.id)
    known_sections = set(session.exec(select(Section.name).where(Section.org_id == plan.org_id)))
    # A unit naming child organisations (各县(市、区)教育局, 泉港区教育局) is not a section here: the row goes down.
    children = organisations.children(session, session.get(Organisation, plan.org_id))
    for name in dict.fromkeys(n for d in draft.targets for n in d.sections):
        if name not in known_sections and not handdown.names_children(name, children):
            session.add(Section(org_id=plan.org_id, name=name))
    query = select(Target).where(Target.plan_id == plan.id, Target.workflow.in_({"target", plan.workflow})).order_by(Target.id)
    if not db.is_sqlite(session):
        # Lock the plan's targets in id order before the chain head (as fire locks a target, then the
        # head): a concurrent transition waits instead of deadlocking or going stale mid-import.
        query = query.with_for_update()
    existing = {t.code: t for t in session.exec(query)}
    errors: list[RowError] = []
    new_targets: list[TargetDraft] = []
    for d in draft.targets:
        target = existing.get(d.code)
        if target is None:
            new_targets.append(d)
        else:
            _update(session, target, d, actor, force, errors, result)
        if progress:
            progress(1)
    if errors:
        raise ImportRefused(errors)
    session.flush()
    # The new targets, their creation records, parties and indicators: a few bulk statements, not an object each.
    values = targets.new_rows(session, plan_id=plan.id, org_id=plan.org_id, workflow=plan.workflow,
                              items=[{"code": d.code, **_fields(d)} for d in new_targets])
    ids = targets.insert_rows(session, values)
    ledger.created_rows(session, values, actor=actor.name, role=_role(actor), comment="导入计划")
    targets.insert_assignments(session, [row for key, d in zip(ids, new_targets, strict=True)
                                         for row in targets.assignment_rows(key, _parties(d))])
    _insert_indicators(session, [row for key, d in zip(ids, new_targets, strict=True) for row in _indicator_rows(key, d)])
    result.created = len(new_targets)
    # Rows whose responsible unit names child organisations go down to them, in the same transaction.
    result.handed_down = len(handdown.hand_down_plan(session, plan, by=actor))
    return result


def _update(session, target: Target, d: TargetDraft, actor: Actor, force: bool, errors: list[RowError],
            result: ImportResult) -> None:
    changes = _changes(session, target, d)
    if not changes:
        result.unchanged += 1
        return
    definition = definitions.get(target.workflow)
    if target.state != definition.initial and not force:
        errors.append(RowError(d.row, "编号", f"目标 {d.code} 已处于“{definition.state_label(target.state)}”，"
                                             f"修改（{'、'.join(changes)}）需使用 --force"))
        return
    for name, value in _fields(d).items():
        setattr(target, name, value)
    if "due_date" in changes:
        target.state_due = state_due(session, target, definition, target.state, clock.local(target.state_entered_at).date())
    target.updated_at = clock.to_db(clock.now())
    session.add(target)
    session.flush()
    if {"sections", "leaders", "persons"} & changes.keys():
        targets.assign(session, target, _parties(d))
    if "indicators" in changes:
        for row in session.exec(select(Indicator).where(Indicator.target_id == target.id)):
            session.delete(row)
        session.flush()
        session.add_all(_indicators(target.id, d))
    audit.append(session, target_id=target.id, org_id=target.org_id, kind="amendment", actor=actor.name, role=_role(actor), trigger="amend",
                 from_state=target.state, to_state=target.state, at=clock.to_db(clock.now()),
                 comment="重新导入计划" + ("（强制）" if force and target.state != definition.initial else ""),
                 payload={"changes": changes, "forced": force, "after": ledger.target_after(target)})
    result.updated += 1


def _role(actor: Actor) -> str:
    return next((r for r in ("office", "admin") if r in actor.roles), next(iter(sorted(actor.roles)), "admin"))


def set_milestone(*, session: Session, plan_id: int, key: str, phrase: str, actor: Actor,
                  label: str | None = None) -> Milestone:
    """Set (or add) a plan milestone from a phrase such as ``12月30日前``; audited; commits.

    The due dates of targets whose current state takes its deadline from this milestone move
    with it (a derived column: no version bump).
    """
    db.begin_write(session)
    try:
        plan = _writable_plan(session, plan_id, actor)
        try:
            due = parse_deadline(phrase, plan.year, rolls_over=True).due
        except DeadlinePhraseError as exc:
            raise InvalidPayload(str(exc), errors=[{"field": "phrase", "reason": str(exc)}]) from exc
        if due is None:
            raise InvalidPayload("里程碑必须有具体日期", errors=[{"field": "phrase", "reason": "里程碑必须有具体日期"}])
        milestone = session.exec(select(Milestone).where(Milestone.plan_id == plan_id, Milestone.key == key)).first()
        old = milestone.due_date.isoformat() if milestone else None
        if milestone is None:
            milestone = Milestone(plan_id=plan_id, key=key, label=label or key, phrase=phrase, due_date=due)
        milestone.phrase, milestone.due_date = phrase, due
        if label:
            milestone.label = label
        session.add(milestone)
        for definition in definitions.shipped().values():
            states = [s.name for s in definition.states.values() if (s.deadline or {}).get("milestone") == key]
            if states:
                for target in session.exec(select(Target).where(Target.plan_id == plan_id, Target.workflow == definition.id,
                                                                Target.state.in_(states))):
                    session.exec(  # derived data: no version bump, no lost update
                        Target.__table__.update().where(Target.__table__.c.id == target.id).values(state_due=due))
        audit.append(session, target_id=None, org_id=plan.org_id, kind="plan", actor=actor.name, role=_role(actor), trigger="set_milestone",
                     from_state=None, to_state=None, at=clock.to_db(clock.now()), comment="",
                     payload={"plan_id": plan_id, "key": key, "from": old, "to": due.isoformat(), "phrase": phrase})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return milestone


@dataclass(frozen=True)
class DynamicTarget:
    target: Target
    warnings: list[str]


def add_dynamic(*, session: Session, plan_id: int, actor: Actor, code: str, text: str, weight: Decimal | float | str,
                reason: str, deadline_phrase: str, sections: list[str], leaders: list[str], persons: list[str],
                category: str = "动态工作目标", indicator: str = "", basis: str = "",
                workflow: str | None = None) -> DynamicTarget:
    """The office adds a target after the plan is issued (seed 000 §3.1.3), on the newest deployed version
    of ``workflow`` (the plan's when not given; :class:`NotFound` for an id not deployed); audited; commits.

    The same code is refused; a text nearly identical to an existing target's is allowed
    with a warning (动态目标不得与重点、常规目标交叉重叠: a person decides).
    """
    from engine.store.errors import Duplicate, Forbidden

    if "office" not in actor.roles:
        raise Forbidden("只有绩效办可以新增动态目标", code="role_forbidden", roles=["office"])
    problems = []
    code = (code or "").strip()
    if len(code) > CODE_MAX_LENGTH:
        problems.append({"field": "code", "reason": f"编号不能超过 {CODE_MAX_LENGTH} 个字符"})
    if not (reason or "").strip():
        problems.append({"field": "reason", "reason": "新增动态目标必须说明理由"})
    if not (text or "").strip():
        problems.append({"field": "text", "reason": "年度目标为空"})
    if not (code or "").strip():
        problems.append({"field": "code", "reason": "编号为空"})
    if not [n for n in sections if n.strip()]:
        problems.append({"field": "sections", "reason": "至少填写一个责任科室"})
    if not [n for n in leaders if n.strip()]:
        problems.append({"field": "leaders", "reason": "至少填写一位分管领导（由其审签）"})
    try:
        weight = Decimal(str(weight))
        if not weight.is_finite() or weight < 0:
            raise ValueError
    except (ArithmeticError, ValueError):
        problems.append({"field": "weight", "reason": f"权重分值不是有效数字：“{weight}”"})
    db.begin_write(session)
    try:
        plan = _writable_plan(session, plan_id, actor)
        due, checkpoints = None, ()
        try:
            parsed = parse_deadline(deadline_phrase, plan.year)
            due, checkpoints = parsed.due, parsed.checkpoints
        except DeadlinePhraseError as exc:
            problems.append({"field": "deadline_phrase", "reason": str(exc)})
        if problems:
            raise InvalidPayload("；".join(p["reason"] for p in problems), errors=problems)
        others = session.exec(select(Target.code, Target.text, Target.weight).where(Target.plan_id == plan_id)).all()
        if any(other_code == code for other_code, _, _ in others):
            raise Duplicate(f"计划中已有编号为 {code} 的目标", code_value=code)
        warnings = [f"与目标 {c} 的内容高度相似，请确认不交叉重叠" for c, t, _ in others
                    if difflib.SequenceMatcher(None, t, text).ratio() >= NEAR_DUPLICATE]
        total = sum((w for _, _, w in others), Decimal(0)) + weight
        if total > 100:
            warnings.append(f"加入后计划权重合计为 {total.normalize():f}，超过 100")
        target = targets.create(session=session, plan_id=plan_id, code=code, text=text, weight=weight,
                                deadline_phrase=deadline_phrase, due_date=due, category=category,
                                indicator=indicator, basis=basis, sections=sections, leaders=leaders, persons=persons,
                                checkpoints=[c.isoformat() for c in checkpoints], workflow=workflow or plan.workflow,
                                actor=actor.name, role="office", comment=reason.strip(),
                                record={"code": code, "text": text, "weight": float(weight), "deadline": deadline_phrase,
                                        "sections": sections, "leaders": leaders, "persons": persons,
                                        "warnings": warnings})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return DynamicTarget(target, warnings)


def indicator_status(session: Session, target: Target) -> list[dict[str, Any]]:
    """Each quantitative indicator of ``target``: as written, its reading, the actual value, met or not.

    ``met`` is ``None`` while nothing has been reported, or when the reported value cannot be
    read as the indicator's kind of value (``problem`` then says why).
    """
    plan = session.get(Plan, target.plan_id)
    out = []
    for row in session.exec(select(Indicator).where(Indicator.target_id == target.id).order_by(Indicator.position)):
        spec = parse_indicator(row.raw, plan.year)
        met, problem = None, ""
        try:
            met = is_met(spec, row.actual)
        except IndicatorError as exc:
            problem = str(exc)
        out.append({"name": row.name, "raw": row.raw, "label": spec.label, "actual": row.actual, "met": met,
                    "problem": problem, "reported_at": row.reported_at})
    return out


def get(*, session: Session, plan_id: int, actor: Actor | None = None) -> Plan:
    """The plan ``plan_id`` if ``actor`` reads its organisation; :class:`NotFound` otherwise."""
    plan = session.get(Plan, plan_id)
    if plan is None or not scope.may_read(session, actor, plan.org_id):
        raise NotFound(f"计划 {plan_id} 不存在", plan_id=plan_id)
    return plan


def listing(*, session: Session, limit: int, offset: int, actor: Actor | None = None) -> tuple[list[Plan], int]:
    """A page of the plans ``actor`` reads, newest year first, and how many there are."""
    from sqlalchemy import func

    kept = scope.plans(scope.of(session, actor))
    total = session.exec(select(func.count()).select_from(Plan).where(kept)).one()
    return list(session.exec(select(Plan).where(kept).order_by(Plan.year.desc(), Plan.id)
                             .limit(limit).offset(offset))), total


@dataclass(frozen=True)
class Overview:
    plan: Plan
    milestones: list[Milestone]
    categories: list[dict[str, Any]]  # name, points, weight (sum of its targets), targets
    total_weight: Decimal
    targets: int


def overview(*, session: Session, plan_id: int, actor: Actor | None = None) -> Overview:
    """A plan with its milestones and its totals per category, for ``actor`` if they read its organisation."""
    from sqlalchemy import func

    plan = session.get(Plan, plan_id)
    if plan is None or not scope.may_read(session, actor, plan.org_id):
        raise NotFound(f"计划 {plan_id} 不存在", plan_id=plan_id)
    milestones = list(session.exec(select(Milestone).where(Milestone.plan_id == plan_id).order_by(Milestone.due_date)))
    rows = session.exec(select(Target.category, func.count(), func.sum(Target.weight))
                        .where(Target.plan_id == plan_id, Target.workflow == "target").group_by(Target.category)).all()
    sums = {name: (count, Decimal(str(weight or 0))) for name, count, weight in rows}
    names = list(plan.categories) + [name for name in sums if name not in plan.categories]
    categories = [{"name": name, "points": plan.categories.get(name, float(sums.get(name, (0, 0))[1])),
                   "weight": float(sums.get(name, (0, Decimal(0)))[1]), "targets": sums.get(name, (0, 0))[0]}
                  for name in names]
    total = sum((w for _, w in sums.values()), Decimal(0))
    return Overview(plan, milestones, categories, total, sum(c for c, _ in sums.values()))
