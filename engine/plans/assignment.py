"""Who works on a target: the office of its organisation sets its sections, leaders and responsible
persons (a handed-down target arrives with nobody; its organisation's office assigns its own people)."""
from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from engine.audit import chain, ledger
from engine.calendar import clock
from engine.people import scope
from engine.people.actors import Actor, Parties
from engine.store import db
from engine.store.errors import Forbidden, InvalidPayload, NotFound
from engine.store.models import Target
from engine.workflow import definitions, targets

#: States in which the parties may still change: before a self-assessment is submitted and signed.
OPEN_STATES = ("assigned", "in_progress")
NAME_MAX = 100


def own_office_target(session: Session, target_id: int, actor: Actor, doing: str) -> Target:
    """The target ``actor`` may change as its organisation's office (``doing``: what, for the refusal).
    :class:`NotFound` for a target outside the actor's organisation and its descendants (as if there were
    none); :class:`Forbidden` for anyone but the office of the target's own organisation."""
    target = session.get(Target, target_id)
    if target is None:
        raise NotFound(f"目标 {target_id} 不存在", target_id=target_id)
    scope.writable(session, actor, target.org_id, f"目标 {target_id} 不存在", target_id=target_id)
    if "office" not in actor.roles:
        raise Forbidden(f"只有本单位绩效办可以{doing}", code="role_forbidden", roles=["office"])
    return target


def may_assign(actor: Actor, target: Target) -> bool:
    """Whether ``actor`` may set the target's parties now (its organisation's office, while still open)."""
    return "office" in actor.roles and actor.org_id in (None, target.org_id) and target.state in OPEN_STATES


def _names(values: Sequence[str], field: str) -> list[str]:
    found = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    long = [v for v in found if len(v) > NAME_MAX]
    if long:
        raise InvalidPayload(f"名称不能超过 {NAME_MAX} 个字符", errors=[{"field": field, "reason": "名称过长"}])
    return found


def assign(*, session: Session, target_id: int, actor: Actor, sections: Sequence[str], leaders: Sequence[str],
           persons: Sequence[str] = ()) -> Target:
    """Set the target's sections (the lead first), leaders in charge and responsible persons; audited
    (分配责任) with what it was before; commits. Only the office of the target's own organisation, and only
    while the target is assigned or in progress."""
    wanted = Parties(tuple(_names(sections, "sections")), tuple(_names(leaders, "leaders")),
                     tuple(_names(persons, "persons")))
    problems = []
    if not wanted.sections:
        problems.append({"field": "sections", "reason": "至少填写一个责任科室"})
    if not wanted.leaders:
        problems.append({"field": "leaders", "reason": "至少填写一位分管领导（由其审签）"})
    db.begin_write(session)
    try:
        target = own_office_target(session, target_id, actor, "分配目标的责任科室和人员")
        if target.state not in OPEN_STATES:
            label = definitions.get(target.workflow).state_label(target.state)
            raise InvalidPayload(f"目标已处于“{label}”，不能再改分配",
                                 errors=[{"field": "sections", "reason": "目标已自评，不能再改分配"}])
        if problems:
            raise InvalidPayload("；".join(p["reason"] for p in problems), errors=problems)
        before = targets.parties_of(session, target.id)
        targets.assign(session, target, wanted)
        changes = {name: [list(getattr(before, name)), list(getattr(wanted, name))]
                   for name in ("sections", "leaders", "persons") if getattr(before, name) != getattr(wanted, name)}
        chain.append(session, target_id=target.id, kind="amendment", actor=actor.name, role="office", trigger="assign",
                     from_state=target.state, to_state=target.state, at=clock.to_db(clock.now()), comment="分配责任",
                     payload={"changes": changes, "after": ledger.target_after(target)})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return target
