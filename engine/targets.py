"""Targets: creating them at the start of their workflow, and reading who they belong to."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from sqlmodel import Session, delete, select

from engine import clock, definitions
from engine.actors import Parties
from engine.duedates import state_due
from engine.errors import NotFound
from engine.models import Assignment, Target

KINDS = ("section", "leader", "person")


def get(*, session: Session, target_id: int) -> Target:
    """The target with ``target_id``; :class:`NotFound` if there is none."""
    target = session.get(Target, target_id)
    if target is None:
        raise NotFound(f"目标 {target_id} 不存在", target_id=target_id)
    return target


def parties_of(session: Session, target_id: int) -> Parties:
    """The sections (lead first), leaders and persons of a target, in the plan's order."""
    rows = session.exec(
        select(Assignment.kind, Assignment.name)
        .where(Assignment.target_id == target_id)
        .order_by(Assignment.kind, Assignment.position)
    )
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for kind, name in rows:
        found[kind].append(name)
    return Parties(tuple(found["section"]), tuple(found["leader"]), tuple(found["person"]))


def assignments(target_id: int, parties: Parties) -> list[Assignment]:
    """The assignment rows for ``parties`` (names in order, without repeats)."""
    rows = []
    for kind, names in zip(KINDS, (parties.sections, parties.leaders, parties.persons), strict=True):
        for position, name in enumerate(_unique(names)):
            rows.append(Assignment(target_id=target_id, kind=kind, name=name, position=position))
    return rows


def assign(session: Session, target: Target, parties: Parties) -> None:
    """Replace the target's sections, leaders and persons with ``parties``; flushes."""
    session.exec(delete(Assignment).where(Assignment.target_id == target.id))
    session.add_all(assignments(target.id, parties))
    session.flush()


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


def new(
    *,
    session: Session,
    plan_id: int,
    code: str,
    text: str,
    weight: Decimal | int | float | str,
    due_date: date | None = None,
    deadline_phrase: str = "",
    category: str = "",
    indicator: str = "",
    indicator_points: Decimal | None = None,
    basis: str = "",
    workflow: str = "target",
) -> Target:
    """A new, unsaved target in the initial state of its workflow, with that state's due date."""
    definition = definitions.get(workflow)
    target = Target(
        plan_id=plan_id, workflow=workflow, code=code, text=text, weight=Decimal(str(weight)),
        category=category, indicator=indicator, indicator_points=indicator_points, basis=basis,
        deadline_phrase=deadline_phrase, due_date=due_date, state=definition.initial,
    )
    target.state_due = state_due(session, target, definition, definition.initial, clock.today())
    return target


def create(*, session: Session, sections: Sequence[str] = (), leaders: Sequence[str] = (),
           persons: Sequence[str] = (), **fields) -> Target:
    """A new target (see :func:`new` for the fields) with its sections, leaders and persons; flushes."""
    target = new(session=session, **fields)
    session.add(target)
    session.flush()
    session.add_all(assignments(target.id, Parties(tuple(sections), tuple(leaders), tuple(persons))))
    session.flush()
    return target
