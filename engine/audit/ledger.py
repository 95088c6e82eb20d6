"""What a chained record says about the objects it changed: the state they are in afterwards.

Every change of a target, user, plan milestone or evidence file writes a record whose payload
carries ``after`` (the tracked fields after the change), so that ``audit verify`` can replay
the history and compare the result with the tables (see :mod:`engine.audit.offline_verifier`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session

from engine.audit import chain
from engine.audit.offline_verifier import points
from engine.calendar import clock
from engine.store.models import ChainHead, Plan, Target, TransitionRecord, User


def target_after(target: Target, *, signed: Sequence[str] | None = None, creation: bool = False) -> dict[str, Any]:
    """The tracked fields of ``target`` now (``signed``: only when the change touched the signatures)."""
    after: dict[str, Any] = {"state": target.state, "version": target.version, "self_score": points(target.self_score),
                             "score": points(target.score), "supervised": bool(target.supervised),
                             "escalation_level": target.escalation_level}
    if creation:
        after.update(plan_id=target.plan_id, code=target.code, signed=[])
    if signed is not None:
        after["signed"] = list(signed)
    return after


def created(session: Session, targets: Iterable[Target], *, actor: str, role: str, comment: str = "",
            payload: dict[str, Any] | None = None) -> list[TransitionRecord]:
    """One creation record per new (flushed) target; flushes."""
    at = clock.to_db(clock.now())
    return chain.extend(session, [
        {"target_id": t.id, "org_id": t.org_id, "kind": "creation", "actor": actor, "role": role, "trigger": "create", "from_state": None,
         "to_state": t.state, "at": at, "comment": comment,
         "payload": {**(payload or {}), "after": target_after(t, creation=True)}}
        for t in targets])


def created_rows(session: Session, targets: Iterable[dict[str, Any]], *, actor: str, role: str, comment: str = "",
                 payload: dict[str, Any] | None = None) -> list[int]:
    """:func:`created` for targets inserted as rows (their column values, with ``id``): the same records,
    written in bulk (:func:`chain.extend_rows`); the records' keys."""
    return chain.extend_rows(session, creations(targets, actor=actor, role=role, comment=comment, payload=payload))


def created_at(session: Session, heads: dict[int, ChainHead], targets: Iterable[dict[str, Any]], *, actor: str,
               role: str, comment: str = "", payload: dict[str, Any] | None = None) -> list[int]:
    """:func:`created_rows` on chains whose heads the caller locked (:func:`chain.extend_at`)."""
    return chain.extend_at(session, heads, creations(targets, actor=actor, role=role, comment=comment, payload=payload))


def creations(targets: Iterable[dict[str, Any]], *, actor: str, role: str, comment: str = "",
              payload: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The creation records of targets inserted as rows, as the chain takes them."""
    at = clock.to_db(clock.now())
    return [{"target_id": t["id"], "org_id": t["org_id"], "kind": "creation", "actor": actor, "role": role, "trigger": "create",
             "from_state": None, "to_state": t["state"], "at": at, "comment": comment,
             "payload": {**(payload or {}), "after": target_after(SimpleNamespace(**t), creation=True)}}
            for t in targets]


def user_after(user: User, sections: Iterable[str]) -> dict[str, Any]:
    """A person's rights: roles, sections, whether they may log in, and the organisation they act in."""
    return {"roles": sorted(user.roles), "sections": sorted(set(sections)), "active": bool(user.active),
            "org_id": user.org_id}


def user_changed(session: Session, user: User, sections: Iterable[str], *, actor: str, role: str, trigger: str,
                 changes: Sequence[str] = (), comment: str = "", details: dict[str, Any] | None = None) -> TransitionRecord:
    """The record of a user added or changed (roles, sections, whether active; never a password);
    ``details`` say what changed in words the audit page shows (``{"roles": {"from": …, "to": …}}``).
    The person is also named by their login (unique in the deployment; names repeat across organisations)."""
    return chain.append(session, target_id=None, org_id=user.org_id, kind="user", actor=actor, role=role, trigger=trigger,
                        from_state=None, to_state=None, at=clock.to_db(clock.now()), comment=comment,
                        payload={**(details or {}), "user": user.name, "login": user.login, "changes": list(changes),
                                 "after": user_after(user, sections)})


def milestones_set(session: Session, plan_id: int, milestones: dict[str, Any], *, actor: str, role: str,
                   trigger: str = "import_plan") -> TransitionRecord:
    """The record of a plan's milestones written (key → due date), in the plan's organisation's chain."""
    return chain.append(session, target_id=None, kind="plan", actor=actor, role=role, trigger=trigger,
                        from_state=None, to_state=None, at=clock.to_db(clock.now()), comment="",
                        payload={"plan_id": plan_id,
                                 "milestones": {k: getattr(v, "isoformat", lambda v=v: v)() for k, v in milestones.items()}})
