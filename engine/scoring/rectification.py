"""Rectification items (整改): after scoring, what a target did not reach is put right.

A target scored below its weight, or with an indicator not met (not reported counts as not met),
may be given an item of ``workflows/rectification.yaml`` by the office: what must be put right and
a due date. It belongs to the target's sections, leaders and persons, names the target
(``subject_id``), and runs through the one door: the section submits its measures and result, the
office accepts or returns them; a late item escalates. The evaluation report lists them, open and closed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import func
from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock
from engine.people import scope
from engine.people.actors import Actor
from engine.plans.indicators import IndicatorError, is_met, parse_indicator
from engine.store import db
from engine.store.errors import GuardFailed, NotFound
from engine.store.models import Indicator, Plan, Target
from engine.workflow import definitions, payloads, targets
from engine.workflow.targets import parties_of

WORKFLOW = "rectification"
MAX_REQUIREMENT = 2000


def shortfalls(session: Session, target: Target) -> list[str]:
    """Why a scored target calls for rectification, in words (empty: it does not)."""
    if target.state != "scored" or target.score is None:
        return []
    out = []
    if Decimal(str(target.score)) < Decimal(str(target.weight)):
        out.append(f"得分 {target.score.normalize():f} 分，低于权重 {Decimal(str(target.weight)).normalize():f} 分")
    year = session.get(Plan, target.plan_id).year
    for row in session.exec(select(Indicator).where(Indicator.target_id == target.id).order_by(Indicator.position)):
        try:
            met = is_met(parse_indicator(row.raw, year), row.actual)
        except IndicatorError:
            met = None
        if not met:
            out.append(f"指标“{row.name}”未达成（目标 {row.raw}，实际 {row.actual or '未报'}）")
    return out


def open_item(*, session: Session, target_id: int, actor: Actor, due: date, requirement: str) -> Target:
    """The office gives a scored target that fell short a rectification item; commits."""
    requirement, errors = payloads.office_order(
        actor, action="下达整改", text=requirement, text_field="requirement", text_label="整改要求",
        limit=MAX_REQUIREMENT, day=due, day_field="due", day_label="整改期限")
    db.begin_write(session)
    try:
        subject = session.get(Target, target_id)
        if subject is None or subject.workflow != "target":
            raise NotFound(f"目标 {target_id} 不存在", target_id=target_id)
        scope.writable(session, actor, subject.org_id, f"目标 {target_id} 不存在", target_id=target_id)
        payloads.refuse(errors)  # after the scope: another organisation's target is not found, whatever was typed
        reasons = shortfalls(session, subject)
        if not reasons:
            raise GuardFailed("只有已评分且得分低于权重或有指标未达成的目标才能下达整改", guard="falls_short")
        parties = parties_of(session, subject.id)
        issued = session.exec(select(func.count()).select_from(Target)
                              .where(Target.subject_id == subject.id, Target.workflow == WORKFLOW)).one()
        item = targets.create(
            session=session, plan_id=subject.plan_id, code=f"整改-{subject.code}-{issued + 1}"[:120], workflow=WORKFLOW,
            weight=0, text=f"目标 {subject.code}“{subject.text[:80]}”整改：{requirement}", category="整改事项",
            deadline_phrase=f"{due.month}月{due.day}日前", due_date=due, subject_id=subject.id,
            sections=parties.sections, leaders=parties.leaders, persons=parties.persons, actor=actor.name,
            role="office", record={"subject_id": subject.id, "requirement": requirement, "shortfalls": reasons})
        chain.append(session, target_id=subject.id, kind="transition", actor=actor.name, role="office",
                     trigger="open_rectification", from_state=subject.state, to_state=subject.state,
                     at=clock.to_db(clock.now()), comment=requirement,
                     payload={"item_id": item.id, "item_code": item.code, "due": due.isoformat(), "shortfalls": reasons})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return item


class Item(NamedTuple):
    """What the report shows of a rectification item (read as plain columns: one per target at worst)."""

    id: int
    code: str
    text: str
    due_date: date | None
    state: str
    subject_id: int | None


@dataclass(frozen=True)
class Listed:
    item: Item
    subject_code: str
    state_label: str

    @property
    def closed(self) -> bool:
        return self.item.state == "closed"


def of_plan(session: Session, plan_id: int) -> list[Listed]:
    """The plan's rectification items, open ones first, each with the code of its target."""
    label = definitions.get(WORKFLOW).state_label
    codes = dict(session.exec(select(Target.id, Target.code).where(Target.plan_id == plan_id,
                                                                  Target.workflow == "target")).all())
    items = session.exec(select(Target.id, Target.code, Target.text, Target.due_date, Target.state, Target.subject_id)
                         .where(Target.plan_id == plan_id, Target.workflow == WORKFLOW).order_by(Target.id)).all()
    listed = [Listed(i, codes.get(i.subject_id, ""), label(i.state)) for i in map(Item._make, items)]
    return sorted(listed, key=lambda x: x.closed)
