"""Bringing targets of the shipped plan to a state through the door, as their own people would."""
from __future__ import annotations

from sqlmodel import Session, select

from engine.people.actors import actor_of
from engine.store.models import Target, User
from engine.workflow.commands import fire
from engine.workflow.targets import parties_of


def _person(session: Session, name: str):
    return actor_of(session, session.exec(select(User).where(User.login == name)).one())


def bring(session: Session, codes: list[str], state: str, *, signers: int | None = None) -> None:
    """Fire start, self_assess, every leader's sign (or the first ``signers``) and verify, up to ``state``."""
    office = _person(session, "绩效办")
    for code in codes:
        t = session.exec(select(Target).where(Target.code == code, Target.parent_id.is_(None))).one()
        parties = parties_of(session, t.id)
        person = _person(session, parties.persons[0])
        leaders = [_person(session, n) for n in parties.leaders]
        steps = [("start", person, {})]
        if session.exec(select(Target.id).where(Target.parent_id == t.id)).first() is not None:
            # Handed down: the districts' targets are not verified yet, so the office allows it first.
            steps.append(("allow_self_assess", office, {"reason": "汇总前先行自评"}))
        steps.append(("self_assess", person, {"self_score": 1, "summary": "全年目标已完成"}))
        offset = len(steps) - 2
        steps += [("sign", leader, {}) for leader in leaders[:signers]]
        steps += [("verify", office, {})]
        upto = {"in_progress": 1, "self_assessed": 2 + offset, "leader_signed": 2 + offset + len(leaders),
                "verified": 3 + offset + len(leaders)}
        for trigger, actor, payload in steps[:upto[state]]:
            fire(session=session, target_id=t.id, trigger=trigger, actor=actor, payload=payload)
