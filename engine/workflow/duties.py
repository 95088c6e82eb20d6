"""Separation of duties (职责分离): who did one step of a target may not do its partner step.

The pairs come from the definition (``separation_of_duties``). A refusal says which step the
person did before; an admin who overrides it is named in the transition's record.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlmodel import Session, select

from engine.people.actors import Actor
from engine.store.errors import Forbidden
from engine.store.models import TransitionRecord
from engine.workflow.definitions import Definition


def partners(definition: Definition, trigger: str) -> set[str]:
    """The triggers that may not be fired on a target by whoever fires ``trigger`` on it."""
    return {b for a, b in definition.separated if a == trigger} | {a for a, b in definition.separated if b == trigger}


def check(*, session: Session, definition: Definition, target_id: int, trigger: str, actor: Actor,
          override: bool = False, done_so_far: Collection[tuple[str, str]] | None = None) -> dict[str, Any] | None:
    """:class:`Forbidden` (code ``separation_of_duties``) when ``actor`` did a partner step of this target;
    with ``override`` by an admin, what was overridden (for the record); otherwise ``None``.
    ``done_so_far``: the target's (trigger, actor) pairs, if the caller read them already."""
    others = partners(definition, trigger)
    if not others:
        return None
    if done_so_far is not None:
        done = next((other for other in sorted(others) if (other, actor.name) in done_so_far), None)
    else:
        done = session.exec(select(TransitionRecord.trigger).where(
            TransitionRecord.target_id == target_id, TransitionRecord.actor == actor.name,
            TransitionRecord.kind == "transition", TransitionRecord.trigger.in_(sorted(others)))).first()
    if done is None:
        return None
    labels = {t.trigger: t.label for t in definition.transitions}
    if override and "admin" in actor.roles:
        return {"overridden": [done, trigger], "by": actor.name}
    raise Forbidden(f"{actor.name} 已对该目标执行过“{labels.get(done, done)}”，按职责分离不能再执行“{labels.get(trigger, trigger)}”"
                    + ("（只有管理员可以越过）" if override else ""),
                    code="separation_of_duties", done=done, trigger=trigger)
