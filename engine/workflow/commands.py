"""The one door through which a target's state changes: :func:`fire`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock
from engine.store import db
from engine.workflow import definitions, evidence, outbox, payloads, rules
from engine.people.actors import Actor, Parties, in_scope, lead_section
from engine.workflow.definitions import Definition, TransitionSpec
from engine.workflow.duedates import state_due
from engine.store.errors import (
    Forbidden,
    GuardFailed,
    InvalidPayload,
    InvalidTrigger,
    NotFound,
    StaleVersion,
)
from engine.workflow.machines import machine_for
from engine.store.models import Signature, Target, TransitionRecord
from engine.workflow.targets import parties_of


@dataclass(frozen=True)
class Fired:
    """What one call of :func:`fire` did."""

    target: Target
    record: TransitionRecord
    moved: bool  # False when the state stayed (a progress report, a countersignature short of the last)


def _load_for_update(session: Session, target_id: int) -> Target:
    query = select(Target).where(Target.id == target_id).execution_options(populate_existing=True)
    if not db.is_sqlite(session):
        query = query.with_for_update()
    target = session.exec(query).first()
    if target is None:
        raise NotFound(f"目标 {target_id} 不存在", target_id=target_id)
    return target


def _transition(definition: Definition, target: Target, trigger: str) -> TransitionSpec:
    spec = definition.transition(target.state, trigger)
    if spec is None:
        allowed = [t.trigger for t in definition.triggers_from(target.state)]
        label = next((t.label for t in definition.transitions if t.trigger == trigger), trigger)
        raise InvalidTrigger(
            f"目标当前状态为“{definition.state_label(target.state)}”，不能执行“{label}”",
            trigger=trigger, state=target.state, allowed_triggers=allowed,
        )
    return spec


def acting_role(actor: Actor, spec: TransitionSpec, parties: Parties) -> str:
    """The role in which ``actor`` may fire ``spec`` on a target of ``parties``, or :class:`Forbidden`."""
    roles = [role for role in spec.roles if role in actor.roles]
    if not roles:
        names = "、".join(rules.ROLES.get(r, r) for r in spec.roles)
        raise Forbidden(f"只有{names}可以执行“{spec.label}”", code="role_forbidden", roles=list(spec.roles))
    for role in roles:
        if in_scope(actor, role, lead_section(parties) if spec.scope == "lead_section" else parties):
            return role
    if spec.scope == "lead_section" and any(in_scope(actor, role, parties) for role in roles):
        raise Forbidden(f"只有牵头科室（{parties.sections[0]}）可以执行“{spec.label}”；协办科室请报告进展",
                        code="out_of_scope", lead_section=parties.sections[0])
    raise Forbidden(f"{actor.name} 不负责该目标，不能执行“{spec.label}”", code="out_of_scope")


@dataclass(frozen=True)
class Action:
    """A trigger the actor may fire on the target now, and what it asks for."""

    spec: TransitionSpec
    role: str
    dest_label: str


def available(*, session: Session, target: Target, actor: Actor, parties: Parties | None = None,
              signers: list[str] | None = None) -> list[Action]:
    """The triggers ``actor`` may fire on ``target`` in its current state: role, scope and the
    guards that need no payload pass (the same checks :func:`fire` makes)."""
    definition = definitions.get(target.workflow)
    parties = parties or parties_of(session, target.id)
    actions = []
    for spec in definition.triggers_from(target.state):
        try:
            role = acting_role(actor, spec, parties)
        except Forbidden:
            continue
        checks = [name for name in spec.guards if name in rules.PAYLOAD_FREE]
        if checks:
            signers = signers if signers is not None else rules.signers_of(session, target.id)
            ctx = rules.Context(session=session, target=target, definition=definition, transition=spec, actor=actor,
                                role=role, payload={}, comment="", at=clock.now(), leaders=list(parties.leaders),
                                signers=list(signers))
            if any(rules.GUARDS[name](ctx) for name in checks):
                continue
        actions.append(Action(spec, role, definition.state_label(spec.dest)))
    return actions


def fire(
    *,
    session: Session,
    target_id: int,
    trigger: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    comment: str = "",
    expected_version: int | None = None,
    uploads: list[evidence.Upload] | None = None,
) -> Fired:
    """Fire ``trigger`` on a target as ``actor``, and commit: the only way a state changes.

    Checks, in order: the version the caller saw (:class:`StaleVersion`), that the trigger
    leaves the current state (:class:`InvalidTrigger`), the actor's role and scope
    (:class:`Forbidden`), the required payload fields (:class:`InvalidPayload`) and the
    guards (:class:`GuardFailed`). Then, in one transaction: the new state and version,
    the signature (会签), the chained transition record and the outbox events. On any error
    nothing is written.
    """
    payload = dict(payload or {})
    comment = (comment or "").strip()
    db.begin_write(session)
    kept: list = []
    try:
        with session.no_autoflush:  # one UPDATE of the target, one version bump
            fired = _fire(session, target_id, trigger, actor, payload, comment, expected_version, uploads or [], kept)
        session.commit()
    except BaseException:
        session.rollback()
        evidence.discard(kept)  # files of a transition that did not happen
        raise
    return fired


def _fire(session, target_id, trigger, actor, payload, comment, expected_version, uploads, kept) -> Fired:
    target = _load_for_update(session, target_id)
    if expected_version is not None and expected_version != target.version:
        raise StaleVersion(
            f"目标已被他人修改（您看到的是第 {expected_version} 版，当前为第 {target.version} 版），请刷新后重试",
            expected_version=expected_version, version=target.version,
        )
    definition = definitions.get(target.workflow)
    spec = _transition(definition, target, trigger)
    parties = parties_of(session, target.id)
    role = acting_role(actor, spec, parties)
    if uploads:
        if "evidence" not in {f.name for f in spec.fields}:
            raise InvalidPayload(f"“{spec.label}”不能附带文件", errors=[{"field": "evidence", "reason": "不能附带文件"}])
        kept += evidence.store(session=session, target_id=target.id, uploader=actor.name, uploads=uploads)
        payload["evidence"] = list(payload.get("evidence") or []) + [{"id": e.id, "name": e.filename} for e in kept]
    errors = payloads.check(spec, payload, comment)
    if errors:
        raise InvalidPayload("；".join(e["reason"] for e in errors), errors=errors)

    now = clock.now()
    ctx = rules.Context(
        session=session, target=target, definition=definition, transition=spec, actor=actor, role=role,
        payload=payload, comment=comment, at=now, leaders=list(parties.leaders),
        signers=rules.signers_of(session, target.id) if spec.countersign or "not_signed_yet" in spec.guards else [],
    )
    for name in spec.guards:
        reason = rules.GUARDS[name](ctx)
        if reason:
            raise GuardFailed(reason, guard=name)

    from_state = target.state
    if spec.countersign:
        ctx.signers.append(actor.name)
    machine_for(definition).events[trigger].trigger(target, ctx=ctx)
    # A progress report stays in its state: it does not restart the state's deadline or escalation.
    moved = target.state != from_state
    for name in spec.effects:
        rules.EFFECTS[name](ctx)
    if moved:  # a new stay in a state: its own deadline, reminders and escalation ladder
        target.state_entered_at = clock.to_db(now)
        target.state_due = state_due(session, target, definition, target.state, now.date())
        target.entry += 1
        target.escalation_level = 0
        target.supervised = False
        target.supervised_against = []
    target.updated_at = clock.to_db(now)
    session.add(target)
    session.flush()  # the version check and bump (UPDATE … WHERE version = …) happen here

    record_payload = dict(payload)
    if spec.countersign:
        record_payload["countersign"] = {"signed": list(ctx.signers), "leaders": list(parties.leaders)}
    record = chain.append(
        session, target_id=target.id, kind="transition", actor=actor.name, role=role, trigger=trigger,
        from_state=from_state, to_state=target.state, at=clock.to_db(now), comment=comment, payload=record_payload,
    )
    if spec.countersign:
        session.add(Signature(target_id=target.id, signer=actor.name, record_id=record.id, signed_at=clock.to_db(now)))
    if spec.notify and (moved or not spec.countersign):
        outbox.emit(
            session, event_type=f"{definition.id}.{trigger}", target_id=target.id, record_id=record.id,
            notify=spec.notify, parties=parties,
            data={"code": target.code, "text": target.text, "trigger": trigger, "label": spec.label,
                  "actor": actor.name, "role": role, "from": from_state, "to": target.state,
                  "from_label": definition.state_label(from_state), "to_label": definition.state_label(target.state),
                  "comment": comment, "payload": payload},
        )
    session.flush()
    return Fired(target=target, record=record, moved=moved)
