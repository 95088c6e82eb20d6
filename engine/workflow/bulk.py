"""Acting on several targets at once (批量核验、退回、评分、审签): the one door, once per target.

Each target is its own transaction through :func:`engine.workflow.commands.fire`: one that is
refused (a stale page, a wrong state, a bad score) changes nothing of its own and nothing of the
others; the caller gets, per target, what happened in words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from engine.people import scope
from engine.people.actors import Actor
from engine.store.errors import DomainError
from engine.store.models import Target
from engine.workflow import commands, definitions


@dataclass(frozen=True)
class Order:
    """One target of a bulk action: what to fire, with what, on the version the person saw."""

    target_id: int
    trigger: str
    payload: dict[str, Any] = field(default_factory=dict)
    comment: str = ""
    expected_version: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What one order did: ``ok`` and the new state, or the reason it was refused."""

    target_id: int
    code: str
    ok: bool
    message: str
    state_label: str = ""
    error_code: str = ""


def fire_each(*, session: Session, actor: Actor, orders: list[Order]) -> list[Outcome]:
    """Fire every order, each all-or-nothing on its own; commits once per target that moved."""
    out = []
    for order in orders:
        target = session.get(Target, order.target_id)
        # a target the actor does not read is named by the id they sent, nothing of it
        code = target.code if target is not None and scope.may_read(session, actor, target.org_id) \
            else str(order.target_id)
        try:
            fired = commands.fire(session=session, target_id=order.target_id, trigger=order.trigger, actor=actor,
                                  payload=order.payload, comment=order.comment,
                                  expected_version=order.expected_version)
        except DomainError as exc:
            out.append(Outcome(order.target_id, code, False, exc.message, error_code=exc.code))
            continue
        d = definitions.get(fired.target.workflow, fired.target.workflow_version)
        label = next((t.label for t in d.transitions if t.trigger == order.trigger), order.trigger)
        state = d.state_label(fired.target.state)
        message = f"已{label}，当前状态“{state}”" if fired.moved else f"已{label}，{_still(session, fired.target)}"
        out.append(Outcome(order.target_id, code, True, message, state))
    return out


def _still(session: Session, target: Target) -> str:
    """Why a countersignature left the target where it was: who has yet to sign."""
    from engine.workflow import rules
    from engine.workflow.targets import parties_of

    signed = set(rules.signers_of(session, target.id))
    waiting = [name for name in parties_of(session, target.id).leaders if name not in signed]
    return f"等待{'、'.join(waiting)}审签" if waiting else "状态未变"


def summary(outcomes: list[Outcome]) -> str:
    """One line for the page: how many went through and how many were refused."""
    done = sum(o.ok for o in outcomes)
    refused = len(outcomes) - done
    return f"成功 {done} 项" + (f"，未能办理 {refused} 项（见下表原因）" if refused else "")
