"""The one door through which a target's state changes: :func:`fire`."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, QueuePool, bindparam, exists, insert, update
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session, select

from engine.audit import chain, ledger
from engine.calendar import clock
from engine.store import db
from engine.store.direct import Direct
from engine.workflow import deployments, duties, evidence, expressions, outbox, payloads, rules, targets
from engine.people import inbox, scope
from engine.people.actors import Actor, Parties, in_scope, lead_section
from engine.workflow.definitions import Definition, TransitionSpec
from engine.workflow.duedates import state_due
from engine.store.errors import (
    DomainError,
    Forbidden,
    GuardFailed,
    InvalidPayload,
    InvalidTrigger,
    StaleVersion,
)
from engine.workflow.machines import machine_for
from engine.store import rows
from engine.store.models import ChainHead, OutboxEvent, Signature, Target, TransitionRecord
from engine.workflow.targets import load_for_fire, parties_of


@dataclass(frozen=True)
class Fired:
    """What one call of :func:`fire` did."""

    target: Target
    record: TransitionRecord
    moved: bool  # False when the state stayed (a progress report, a countersignature short of the last)
    #: The evidence files this fire stored (removed again should its transaction not commit).
    stored: tuple = ()
    #: The target's parties as the transition read them (a response needs not read them again).
    parties: Parties | None = None
    #: The target's signatures after the fire, (signer, signed_at) in order; ``None``: not known, read them.
    signatures: tuple[tuple[str, datetime], ...] | None = None
    #: What the transition read about the target: targets handed down from it, quantitative indicators.
    #: ``None``: not known, read them.
    children: bool | None = None
    indicators: bool | None = None
    #: What the payload-free guards read about its children, when the transition knew it (else ``None``).
    facts: rules.ListFacts | None = None


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


def _only_countersigned_since(session: Session, target: Target, trigger: str, actor: Actor, seen: int) -> bool:
    """Whether all that happened since version ``seen`` is other leaders' countersignatures (会签) of this stay.

    Each countersignature bumps the version, yet it changes nothing a co-signer decides on: a leader
    who signs the version they saw, while another signed a moment before, is not in conflict.
    """
    behind = target.version - seen
    spec = deployments.resolve(session, target.workflow, target.workflow_version).transition(target.state, trigger)
    if behind <= 0 or spec is None or not spec.countersign:
        return False
    recent = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == target.id)
                          .order_by(TransitionRecord.id.desc()).limit(behind)).all()
    return len(recent) == behind and all(
        r.trigger == trigger and r.from_state == r.to_state == target.state and r.actor != actor.name for r in recent)


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
              signers: list[str] | None = None, facts: rules.ListFacts | None = None) -> list[Action]:
    """The triggers ``actor`` may fire on ``target`` in its current state: role, scope and the
    guards that need no payload pass (the same checks :func:`fire` makes). Nothing on another
    organisation's target (a parent's office reads it, never acts on it). ``parties``, ``signers``
    and ``facts``: what a list read for all its rows at once (else read here)."""
    if actor.org_id is not None and actor.org_id != target.org_id:
        return []
    definition = deployments.resolve(session, target.workflow, target.workflow_version)
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
                                signers=list(signers), facts=facts)
            if any(rules.GUARDS[name](ctx) for name in checks):
                continue
        actions.append(Action(spec, role, definition.state_label(spec.dest)))
    return actions


def warm(engine: Engine) -> None:
    """Make ready what the first fire of a process would otherwise make while its caller waits (a server
    calls this before it takes requests): the mappers configured, every definition targets run on parsed
    (its conditions compiled) with its machine built, the statements reading and writing a target compiled,
    and the pool's connections open. Writes nothing."""
    configure_mappers()
    with Session(engine) as session:
        for definition in deployments.running(session):
            machine_for(deployments.resolve(session, definition.id, definition.version))
    with contextlib.ExitStack() as opened:  # the pool's connections, each with the statement planned
        for _ in range(engine.pool.size() if isinstance(engine.pool, QueuePool) else 1):
            targets.warm(opened.enter_context(engine.connect()))
    with engine.connect() as connection:  # the writes of a usual fire, compiled (for either way of writing)
        for told in (False, True):
            _together_for(frozenset(), told).prepare(connection)
        _UPDATES[frozenset()].prepare(connection, _UPDATED)
        _INSERT_SIGNATURE.prepare(connection, _SIGNATURE_COLUMNS)
        chain.prepare(connection)
        outbox.prepare(connection)
        db.prepare(connection)


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
    override_separation: bool = False,
    remove_evidence: list[int] | None = None,
    preloaded: dict[str, Any] | None = None,
) -> Fired:
    """Fire ``trigger`` on a target as ``actor``, and commit: the only way a state changes.

    Checks, in order: the version the caller saw (:class:`StaleVersion`), that the trigger
    leaves the current state (:class:`InvalidTrigger`), the actor's role and scope
    (:class:`Forbidden`), the required payload fields (:class:`InvalidPayload`) and the
    guards (:class:`GuardFailed`). Then, in one transaction: the new state and version,
    the signature (会签), the chained transition record and the outbox events. On any error
    nothing is written. ``override_separation``: an admin goes past the separation of duties (recorded).
    ``remove_evidence``: ids of the target's files this submission leaves out (移除, recorded; bytes kept).
    ``preloaded``: the target's row as :func:`targets.preload` read it earlier in this transaction (a group
    writer's batch), instead of reading it now.
    """
    payload = dict(payload or {})
    comment = (comment or "").strip()
    connection = db.begin_write(session)
    kept: list = []
    changing: list = []  # not empty once the fire has begun to change anything
    try:
        with session.no_autoflush:  # one UPDATE of the target, one version bump
            fired = _fire(session, connection, target_id, trigger, actor, payload, comment, expected_version,
                          uploads or [], kept, changing, override_separation, list(remove_evidence or []), preloaded)
        session.commit()
    except BaseException as exc:
        evidence.discard(kept)  # files of a transition that did not happen
        if not (session.info.get(GROUPED) and isinstance(exc, DomainError) and not changing):
            session.rollback()
        # else refused before changing anything, in a group writer's batch: nothing to undo, the batch goes on
        raise
    return replace(fired, stored=tuple(kept)) if kept else fired


#: ``session.info`` key of a session in which a group writer runs a batch of fires (see
#: :mod:`engine.workflow.writer`): a fire refused before it changed anything leaves the batch's
#: transaction as it was; any other failure rolls the whole transaction back.
GROUPED = "kaoping.grouped"
#: ``session.info`` key, in such a batch: the chain heads its fires moved, by organisation. A fire whose target
#: was read before them (:func:`targets.preload`) appends at the head they left, not at the one it read.
HEADS = "kaoping.heads"


_TARGETS = Target.__table__
#: What a transition may change on a target; anything else an effect changes is written too.
_MOVING = ("state", "state_entered_at", "state_due", "entry", "escalation_level", "supervised", "supervised_against",
           "progress", "self_score", "score", "updated_at")
_UPDATE_TARGET = (update(_TARGETS).where(_TARGETS.c.id == bindparam("_id"), _TARGETS.c.version == bindparam("_version"))
                  .values({name: bindparam(name) for name in (*_MOVING, "version")}))
_INSERT_SIGNATURE = Direct(insert(Signature.__table__))
_SIGNATURE_COLUMNS = ("target_id", "signer", "record_id", "signed_at")  # what a countersignature writes


def _fire(session, connection, target_id, trigger, actor, payload, comment, expected_version, uploads, kept,
          changing, override_separation=False, remove_evidence=(), preloaded=None) -> Fired:
    # The target, its parties, signers and plan milestones, and the chain head: one statement.
    loaded = load_for_fire(session, target_id, connection=connection, preloaded=preloaded)
    target = loaded.target
    moved_heads = session.info.get(HEADS)
    head = moved_heads.get(target.org_id, loaded.head) if moved_heads else loaded.head
    # Nobody acts on another organisation's target: its readers (a parent's office) are told why, anyone else 404.
    scope.writable(session, actor, target.org_id, f"目标 {target.id} 不存在", target_id=target.id)
    if expected_version is not None and expected_version != target.version \
            and not _only_countersigned_since(session, target, trigger, actor, expected_version):
        raise StaleVersion(
            f"目标已被他人修改（您看到的是第 {expected_version} 版，当前为第 {target.version} 版），请刷新后重试",
            expected_version=expected_version, version=target.version,
        )
    definition = deployments.resolve(session, target.workflow, target.workflow_version)
    spec = _transition(definition, target, trigger)
    parties = loaded.parties
    role = acting_role(actor, spec, parties)
    overridden = duties.check(session=session, definition=definition, target_id=target.id, trigger=trigger,
                              actor=actor, override=override_separation, done_so_far=loaded.done)
    if uploads:
        changing.append("evidence")
        if "evidence" not in {f.name for f in spec.fields}:
            raise InvalidPayload(f"“{spec.label}”不能附带文件", errors=[{"field": "evidence", "reason": "不能附带文件"}])
        kept += evidence.store(session=session, target_id=target.id, uploader=actor.name, uploads=uploads)
        payload["evidence"] = list(payload.get("evidence") or []) + [{"id": e.id, "name": e.filename} for e in kept]
    errors = payloads.check(spec, payload, comment)
    if errors:
        raise InvalidPayload("；".join(e["reason"] for e in errors), errors=errors)
    if payload.get("evidence"):  # only files the server issued, each with its SHA-256 for the chain
        payload["evidence"] = evidence.issued(session=session, target_id=target.id, items=payload["evidence"])
    if remove_evidence:
        if "evidence" not in {f.name for f in spec.fields}:
            raise InvalidPayload(f"“{spec.label}”不能移除文件", errors=[{"field": "evidence", "reason": "不能移除文件"}])
        if {item["id"] for item in payload.get("evidence") or []} & set(remove_evidence):
            raise InvalidPayload("同一文件不能既保留又移除", errors=[{"field": "evidence", "reason": "既保留又移除"}])

    now = clock.now()
    ctx = rules.Context(
        session=session, target=target, definition=definition, transition=spec, actor=actor, role=role,
        payload=payload, comment=comment, at=now, leaders=list(parties.leaders),
        signers=list(loaded.signers) if spec.countersign or "not_signed_yet" in spec.guards else [],
        # read with the target: whether a child's target is still open (else the guards read it themselves)
        facts=None if loaded.children_open else rules.ListFacts.settled(target.id),
    )
    for name in spec.guards:
        reason = rules.GUARDS[name](ctx)
        if reason:
            raise GuardFailed(reason, guard=name)
    if spec.when and (reason := expressions.refusal(spec.when, payload, target)):
        raise GuardFailed(reason, guard="when")

    from_state = target.state
    changing.append("target")
    if spec.countersign:
        ctx.signers.append(actor.name)
    machine_for(definition).events[trigger].trigger(target, ctx=ctx)
    # A progress report stays in its state: it does not restart the state's deadline or escalation.
    moved = target.state != from_state
    for name in spec.effects:
        rules.EFFECTS[name](ctx)
    if moved:  # a new stay in a state: its own deadline, reminders and escalation ladder
        rows.assign(target, state_entered_at=clock.to_db(now), entry=target.entry + 1, escalation_level=0,
                    state_due=state_due(session, target, definition, target.state, now.date(), loaded.milestones),
                    supervised=False, supervised_against=[])
    rows.assign(target, updated_at=clock.to_db(now))
    # On PostgreSQL the target, its record and the chain's head are written by one statement (a round trip
    # each would be most of a fire's time); on SQLite (no round trips) one each.
    together = connection.dialect.name == "postgresql"
    if together:  # the UPDATE's values; the object takes its new version now, as the record tells it
        changed = rows.changes(target)
        update_values = _target_values(target, _other_changes(changed))
        rows.committed(target, {**changed, "version": target.version + 1})
    else:
        _write_target(connection, target)
    # (only where a message about the target is open: most fires have none to close)
    if moved and loaded.open_items:  # what the messages about the last stay asked for is done, or no longer asked
        inbox.mark_done(connection, target_id=target.id, at=clock.to_db(now))
    elif spec.countersign and loaded.open_items:  # one signature of several: the signer's own part is done
        inbox.mark_done(connection, target_id=target.id, at=clock.to_db(now), only=actor.name)

    record_payload = dict(payload)
    if remove_evidence:
        record_payload["evidence_removed"] = evidence.remove(session=session, target_id=target.id, ids=remove_evidence,
                                                             by=actor.name, at=clock.to_db(now))
    touched = spec.countersign or "clear_signatures" in spec.effects  # the replayed state follows the signatures
    record_payload["after"] = ledger.target_after(target, signed=ctx.signers if touched else None)
    if overridden:
        record_payload["separation_override"] = overridden
    if spec.countersign:
        record_payload["countersign"] = {"signed": list(ctx.signers), "leaders": list(parties.leaders)}
    fields = dict(target_id=target.id, org_id=target.org_id, kind="transition", actor=actor.name, role=role,
                  trigger=trigger, from_state=from_state, to_state=target.state, at=clock.to_db(now), comment=comment,
                  payload=record_payload)
    told = None  # the message to the parties the definition names, if it tells anyone
    if spec.notify and (moved or not spec.countersign):
        told = dict(event_type=f"{definition.id}.{trigger}", target_id=target.id, notify=spec.notify, parties=parties,
                    data={"code": target.code, "text": target.text, "trigger": trigger, "label": spec.label,
                          "actor": actor.name, "role": role, "from": from_state, "to": target.state,
                          "from_label": definition.state_label(from_state),
                          "to_label": definition.state_label(target.state), "comment": comment, "payload": payload})
    if together:
        record = _write_together(session, connection, update_values, head, fields,
                                 told=outbox.row({**told, "record_id": None}) if told is not None else None)
    else:
        record = chain.append_at(session, head, connection=connection, **fields)
    if session.info.get(GROUPED):
        session.info.setdefault(HEADS, {})[head.id] = head
    if spec.countersign:
        _INSERT_SIGNATURE.count(connection, {"target_id": target.id, "signer": actor.name, "record_id": record.id,
                                             "signed_at": clock.to_db(now)})
    if ctx.voided and "leaders" not in spec.notify:  # a return voids the others' signatures: they must sign again
        outbox.emit(session, event_type=f"{definition.id}.signatures_voided", target_id=target.id,
                    record_id=record.id, notify=["leaders"],
                    parties=Parties(leaders=tuple(n for n in ctx.voided if n != actor.name)),
                    data={"code": target.code, "text": target.text, "actor": actor.name, "comment": comment,
                          "label": spec.label, "to_label": definition.state_label(target.state)})
    if told is not None and not together:
        outbox.write(session, **told, record_id=record.id, connection=connection)
    if session.new or session.deleted or session.dirty:  # what an effect or the evidence left to the unit of work
        session.flush()
    signed = () if "clear_signatures" in spec.effects else loaded.signed
    if spec.countersign:
        signed = (*signed, (actor.name, clock.to_db(now)))
    return Fired(target=target, record=record, moved=moved, parties=parties, signatures=signed,
                 children=loaded.children, indicators=loaded.indicators, facts=ctx.facts)


def _other_changes(changed: dict[str, Any]) -> dict[str, Any]:
    """Of the target's ``changed`` attributes (:func:`rows.changes`), those an effect changed beyond what a
    transition changes (:data:`_MOVING`)."""
    return {name: value for name, value in changed.items() if name not in _MOVING}


def _target_values(target: Target, other: dict[str, Any]) -> dict[str, Any]:
    version = target.version
    return {**{name: getattr(target, name) for name in _MOVING}, **other, "version": version + 1,
            "_id": target.id, "_version": version}


def _stale(version: int) -> StaleVersion:
    return StaleVersion(f"目标已被他人修改（第 {version} 版已不是当前版本），请刷新后重试",
                        expected_version=version, version=None)


#: The target's UPDATE per set of other columns an effect changed (none: the usual).
_UPDATES: dict[frozenset[str], Direct] = {frozenset(): Direct(_UPDATE_TARGET)}


def _write_target(connection, target: Target) -> None:
    """The target's new values and version: one UPDATE … WHERE version = the version read."""
    changed = rows.changes(target)
    other = _other_changes(changed)
    columns = frozenset(other)
    if columns not in _UPDATES:
        _UPDATES[columns] = Direct(_UPDATE_TARGET.values({name: bindparam(name) for name in sorted(columns)}))
    if _UPDATES[columns].count(connection, _target_values(target, other)) != 1:
        raise _stale(target.version)
    rows.committed(target, {**changed, "version": target.version + 1})


_UPDATED = frozenset((*_MOVING, "version", "_id", "_version"))  # what every target UPDATE binds
_RECORDS, _HEADS, _OUTBOX = TransitionRecord.__table__, ChainHead.__table__, OutboxEvent.__table__


def _together(other: frozenset[str], told: bool):
    """One statement writing a fire's target and record (PostgreSQL): the target's UPDATE … WHERE version = :v
    (with the columns ``other`` an effect changed), then, only if it matched, the chained record, the head
    moved on to it and, with ``told``, the outbox row of its message (which names the record); the record's key,
    or none when the version did not match."""
    moved = (_UPDATE_TARGET.values({name: bindparam(name) for name in sorted(other)}) if other else _UPDATE_TARGET
             ).returning(_TARGETS.c.id).cte("moved")
    record = insert(_RECORDS).from_select(chain.RECORD_COLUMNS, select(
        *(bindparam(f"r_{name}", type_=_RECORDS.c[name].type) for name in chain.RECORD_COLUMNS)).select_from(moved)
    ).returning(_RECORDS.c.id).cte("record")
    head = update(_HEADS).where(_HEADS.c.id == bindparam("h_chain"), exists(select(record.c.id))).values(
        count=bindparam("r_seq"), last_id=select(record.c.id).scalar_subquery(), last_hash=bindparam("r_hash")
    ).cte("head")
    written = [moved, head]
    if told:
        written.append(insert(_OUTBOX).from_select((*outbox.COLUMNS, "record_id"), select(
            *(bindparam(f"o_{name}", type_=_OUTBOX.c[name].type) for name in outbox.COLUMNS), record.c.id)
        ).cte("told"))
    return select(record.c.id).add_cte(*written)


#: One statement per set of other columns and whether it writes a message.
_TOGETHER: dict[tuple[frozenset[str], bool], Direct] = {}


def _together_for(other: frozenset[str], told: bool) -> Direct:
    if (other, told) not in _TOGETHER:
        _TOGETHER[other, told] = Direct(_together(other, told))
    return _TOGETHER[other, told]


def _write_together(session, connection, update_values: dict[str, Any], head, fields: dict[str, Any], *,
                    told: dict[str, Any] | None = None):
    """The target (``update_values``: :func:`_target_values`), its chained record, the chain's head and the
    outbox row ``told`` (:func:`outbox.row`, if any; it takes the record's key) in one round trip;
    :class:`StaleVersion` (none of them written) if the target is no longer at the version read."""
    values = chain.next_record(head, **fields)
    statement = _together_for(frozenset(update_values) - _UPDATED, told is not None)
    params = {**update_values, **{f"r_{name}": values[name] for name in chain.RECORD_COLUMNS}, "h_chain": head.id}
    if told is not None:
        params.update({f"o_{name}": told[name] for name in outbox.COLUMNS})
    row = statement.first(connection, params)
    key = row[0] if row is not None else None
    if key is None:
        raise _stale(update_values["_version"])
    return chain.appended(session, head, {**values, "id": key})
