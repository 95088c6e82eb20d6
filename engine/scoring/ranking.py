"""Ranking (排名): an organisation's office sees its child organisations side by side — score rate, on-time
rate and overdue count, each child counting its own targets and its descendants'.

- score rate (得分率): Σ score over Σ weight of the scored targets × 100 (none scored: no rate);
- on-time rate (按期完成率): of the targets whose deadline has passed, the share already self-assessed or
  further (no longer 已下达 / 推进中) × 100 (none due yet: no rate);
- overdue (逾期数): targets whose current state is past its due date.

All of it is one query (the organisations below, each with its targets counted), whatever the number of
organisations.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, func
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store.models import Organisation, Plan, Target

#: States in which a target has not been handed in yet.
NOT_HANDED_IN = ("assigned", "in_progress")
ORDERS = {"score_rate": "得分率", "on_time_rate": "按期完成率", "overdue": "逾期数"}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Rank:
    """One child organisation's line of the ranking."""

    place: int
    org_id: int
    organisation: str
    kind: str
    targets: int
    scored: int
    score_rate: Decimal | None
    due: int
    on_time: int
    on_time_rate: Decimal | None
    overdue: int


def _rate(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(str(part or 0)) * 100 / Decimal(str(whole))).quantize(CENT, ROUND_HALF_UP)


def _key(by: str):
    if by == "overdue":
        return lambda r: (r.overdue, -(r.score_rate or Decimal(-1)), r.organisation)
    return lambda r: (getattr(r, by) is None, -(getattr(r, by) or 0), r.overdue, r.organisation)


def ordered(ranks: list[Rank], by: str = "score_rate") -> list[Rank]:
    """``ranks`` in the order of ``by`` (:data:`ORDERS`: highest rate first, fewest overdue first), numbered."""
    by = by if by in ORDERS else "score_rate"
    return [Rank(**{**r.__dict__, "place": i}) for i, r in enumerate(sorted(ranks, key=_key(by)), start=1)]


def of(*, session: Session, org_id: int, year: int | None = None, by: str = "score_rate") -> list[Rank]:
    """The child organisations of ``org_id`` ranked by ``by`` (targets of plans of ``year`` only, if given).
    One query whatever the number of organisations: the organisations below ``org_id`` (one index range
    on their paths), each with its own targets counted (grouped on the target table before the join);
    each one's counts then go to the child whose path starts its own. Children without targets are
    listed with nothing to rate."""
    parent = session.get(Organisation, org_id)
    if parent is None:
        return []
    today = clock.today()
    below = and_(Organisation.path.startswith(parent.path, autoescape=True), Organisation.id != org_id)
    mine = [Target.workflow == "target", Target.org_id.in_(select(Organisation.id).where(below))]
    if year is not None:
        mine.append(Target.plan_id.in_(select(Plan.id).where(Plan.year == year)))
    scored = Target.score.is_not(None)
    due = and_(Target.due_date.is_not(None), Target.due_date < today)
    counted = (
        select(Target.org_id, func.count().label("targets"), func.count(Target.score).label("scored"),
               func.sum(case((scored, Target.score), else_=0)).label("points"),
               func.sum(case((scored, Target.weight), else_=0)).label("weight"),
               func.sum(case((due, 1), else_=0)).label("due"),
               func.sum(case((and_(due, Target.state.not_in(NOT_HANDED_IN)), 1), else_=0)).label("on_time"),
               func.sum(case((and_(Target.state_due.is_not(None), Target.state_due < today), 1), else_=0))
               .label("overdue"))
        .where(*mine).group_by(Target.org_id).subquery()
    )
    query = (select(Organisation.id, Organisation.name, Organisation.kind, Organisation.parent_id, Organisation.path,
                    counted.c.targets, counted.c.scored, counted.c.points, counted.c.weight, counted.c.due,
                    counted.c.on_time, counted.c.overdue)
             .outerjoin(counted, counted.c.org_id == Organisation.id).where(below))
    # "1/5/23/" below "1/": its child of "1/" is 5, the part of the path just after the parent's.
    depth = parent.path.count("/")
    children: dict[int, tuple[str, str]] = {}
    totals: dict[int, list[Decimal]] = {}
    for child_id, name, kind, parent_id, path, *counts in session.exec(query):
        if parent_id == org_id:
            children[child_id] = (name, kind)
        under = int(path.split("/")[depth])
        totals[under] = [a + Decimal(str(b or 0)) for a, b in zip(totals.get(under, [Decimal(0)] * 7), counts,
                                                                  strict=True)]
    ranks = []
    for child_id, (name, kind) in children.items():
        count, n_scored, points, weight, n_due, n_on_time, n_overdue = totals[child_id]
        ranks.append(Rank(place=0, org_id=child_id, organisation=name, kind=kind, targets=int(count),
                          scored=int(n_scored), score_rate=_rate(points, weight) if n_scored else None,
                          due=int(n_due), on_time=int(n_on_time), on_time_rate=_rate(n_on_time, n_due),
                          overdue=int(n_overdue)))
    return ordered(ranks, by)
