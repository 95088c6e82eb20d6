"""The escalation sweep: overdue targets climb their definition's ladder, one level at a time.

A target is overdue when its current state is past its due date. Each level fires once per
stay in a state (``Target.entry``; a unique constraint on the escalation row, not a hope): it
is written to the transition history as a system event, its recipients are told through the
outbox, and the top level may mark the target supervised (督办). Leaving the state ends the
escalation; a later overdue state starts a new one. Targets without a due date (长期) never
escalate. The sweep reads only overdue, not yet fully escalated targets (index on state and
due date), so its cost follows the number of overdue targets, not the size of the table.

Each level tells whoever must act in the current state (the roles of the transitions that
leave it): a late signature goes to the leaders who have not signed, a late verification to the
office, never back to the section that has done its part. The ladder's words below the late
party are replaced by it; a state's ``escalate_to`` names the recipients per level instead. A
level whose recipients resolve to nobody (a section without a leader) goes to the office.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine, Row, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock
from engine.schedule import supervision
from engine.store import calendardays, db, rows
from engine.workflow import deployments, outbox
from engine.people.actors import Actor, Parties
from engine.workflow.definitions import Definition, EscalationLevel
from engine.store.models import ChainHead, Escalation, Milestone, Plan, Signature, Target
from engine.people.roles import SYSTEM_ROLE
from engine.workflow.targets import parties_for
from engine.calendar.workdays import workdays_between

SYSTEM = Actor.system()
#: The ladder's recipients, lowest first: a level never tells someone below whoever is late.
RANK = {"responsible": 0, "sections": 0, "leaders": 1, "office": 2}
ACTING = {"staff": "responsible", "leader": "leaders", "office": "office"}
OFFICE_NAME = "绩效办"


@dataclass
class SweepResult:
    checked: int = 0
    fired: list[tuple[int, int]] = field(default_factory=list)  # (target id, level)


def _states_with_deadlines(definition: Definition) -> list[str]:
    return [s.name for s in definition.states.values() if s.deadline]


def overdue(session: Session, definition: Definition, today: date) -> list[tuple[int, date, int]]:
    """(id, due date, level reached) of the definition's targets past due and not fully escalated."""
    top = len(definition.escalation)
    if not top:
        return []
    states = _states_with_deadlines(definition)
    if not states:
        return []
    # one statement for all the states with deadlines (the index on state and due date serves each)
    return list(session.exec(
        select(Target.id, Target.state_due, Target.escalation_level)
        .where(Target.workflow == definition.id, Target.workflow_version == definition.version,
               Target.state.in_(states), Target.state_due < today,
               Target.escalation_level < top)
    ).all())


def levels_due(definition: Definition, due: date, today: date) -> list[int]:
    """The levels whose time has come: ``after_working_days`` working days past the due date."""
    late = workdays_between(due, today)
    return [lv.level for lv in definition.escalation if today > due and late >= lv.after_working_days]


def acting(definition: Definition, state: str) -> tuple[str, ...]:
    """The recipients who must act in ``state``: the roles of the transitions that leave it (those that
    stay, such as the office's permission to self-assess early, are no one's duty), or, where none
    leaves, of those that stay in it."""
    specs = definition.triggers_from(state)
    leaving = [spec for spec in specs if spec.dest != state] or specs
    roles = dict.fromkeys(role for spec in leaving for role in spec.roles)
    return tuple(dict.fromkeys(ACTING[r] for r in roles if r in ACTING))


def level_notify(definition: Definition, state: str, spec: EscalationLevel) -> tuple[str, ...]:
    """Whom level ``spec`` tells while a target is late in ``state``."""
    named = definition.states[state].escalate_to
    if spec.level <= len(named):
        return named[spec.level - 1]
    late = acting(definition, state)
    if not late:
        return spec.notify
    floor = min(RANK.get(w, 0) for w in late)
    return tuple(dict.fromkeys(w for n in spec.notify for w in ((n,) if RANK.get(n, 0) >= floor else late)))


def late_parties(definition: Definition, state: str, parties: Parties, signed: Iterable[str]) -> Parties:
    """The parties as far as they are late: in a countersign state, leaders who signed (``signed``) are not."""
    if countersigned(definition, state):
        signed = set(signed)
        return Parties(parties.sections, tuple(n for n in parties.leaders if n not in signed), parties.persons)
    return parties


def countersigned(definition: Definition, state: str) -> bool:
    """Whether leaders countersign in ``state`` (a late one is only a leader who has not signed)."""
    return any(spec.countersign for spec in definition.triggers_from(state))


def supervised_against(definition: Definition, state: str, parties: Parties) -> list[str]:
    """Whom a 督办 in ``state`` is against: the late sections, leaders or the office."""
    out: list[str] = []
    for word in acting(definition, state):
        out += {"responsible": list(parties.sections), "leaders": list(parties.leaders),
                "office": [OFFICE_NAME]}.get(word, [])
    return list(dict.fromkeys(out)) or list(parties.sections)


def addressed(notify: tuple[str, ...], parties: Parties) -> tuple[tuple[str, ...], bool]:
    """``notify``, or the office when it names nobody for these parties (a section without a leader)."""
    if outbox.recipients(notify, parties):
        return notify, False
    return ("office",), True


#: Targets escalated in one transaction by the sweep, each inside its own savepoint.
BATCH = 100


def sweep(bind: Engine, *, today: date | None = None, batch: int = BATCH) -> SweepResult:
    """Escalate every overdue target as far as its lateness asks; idempotent.

    The targets are escalated ``batch`` at a time in one transaction (one commit per batch), each
    inside a savepoint of its own: a target whose escalation fails leaves nothing, the others stay."""
    today = today or clock.today()
    result = SweepResult()
    with Session(bind, expire_on_commit=False) as session:
        calendardays.install(session)  # the office's holidays count, whichever process entered them
        for definition in deployments.running(session):  # each version with its own deadlines and ladder
            found = overdue(session, definition, today)
            result.checked += len(found)
            due_now = [target_id for target_id, due, reached in found
                       if any(level > reached for level in levels_due(definition, due, today))]
            for start in range(0, len(due_now), batch):
                db.begin_write(session)
                try:
                    result.fired += escalate_batch(session, due_now[start:start + batch], today)
                except Exception:
                    session.commit()  # the targets escalated before the failing one stay escalated, as one by one
                    raise
                except BaseException:
                    session.rollback()
                    raise
                session.commit()
    return result


_TARGETS = Target.__table__
_ESCALATIONS = Escalation.__table__
_PLAN_ORG = select(Plan.org_id).where(Plan.id == _TARGETS.c.plan_id).scalar_subquery().label("plan_org_id")
_READ = select(*(_TARGETS.c[name] for name in (
    "id", "org_id", "plan_id", "workflow", "workflow_version", "code", "text", "state", "state_due", "entry",
    "escalation_level", "supervised", "supervised_against")), _PLAN_ORG)


@dataclass
class Batch:
    """What the targets of one batch need, read in a few statements before the first is escalated:
    the targets (locked on PostgreSQL), the levels fired in their current stays, their parties, the
    signers in countersign states, their notices, their plans' milestones; and the heads of the
    chains they write to, locked once (SQLite: under the write lock of BEGIN IMMEDIATE)."""

    targets: list[Row]
    done: set[tuple[int, int, int]]  # (target id, entry, level)
    parties: dict[int, Parties]
    signed: dict[int, list[str]]
    open_notice: set[int]
    issued: dict[int, int]
    milestones: dict[int, dict[str, date]]
    heads: dict[int, ChainHead]

    @classmethod
    def read(cls, session: Session, target_ids: list[int]) -> Batch:
        query = _READ.where(_TARGETS.c.id.in_(target_ids)).order_by(_TARGETS.c.id)
        by_id = {row.id: row for row in session.connection().execute(
            query if db.is_sqlite(session) else query.with_for_update(of=_TARGETS))}
        found = [by_id[i] for i in target_ids if i in by_id]  # in the sweep's order; a target since deleted has nothing to do
        ids = [t.id for t in found]
        done = set(session.exec(select(Escalation.target_id, Escalation.entry, Escalation.level)
                                .where(Escalation.target_id.in_(ids))).all())
        countersigning = [t.id for t in found
                          if countersigned(deployments.resolve(session, t.workflow, t.workflow_version), t.state)]
        signed: dict[int, list[str]] = {}
        if countersigning:
            for target_id, signer in session.exec(select(Signature.target_id, Signature.signer)
                                                  .where(Signature.target_id.in_(countersigning)).order_by(Signature.id)):
                signed.setdefault(target_id, []).append(signer)
        subjects = [t.id for t in found if t.workflow == "target"]
        milestones: dict[int, dict[str, date]] = {t.plan_id: {} for t in found}
        for plan_id, key, due in session.exec(select(Milestone.plan_id, Milestone.key, Milestone.due_date)
                                              .where(Milestone.plan_id.in_(list(milestones)))):
            milestones[plan_id][key] = due
        return cls(found, done, parties_for(session, ids), signed,
                   supervision.with_open_notice(session, subjects) if subjects else set(),
                   supervision.issued_counts(session, subjects) if subjects else {}, milestones,
                   # after the targets, as every writer locks them
                   chain.lock_heads(session, {t.org_id for t in found} | {t.plan_org_id for t in found}))


def escalate_batch(session: Session, target_ids: list[int], today: date) -> list[tuple[int, int]]:
    """Fire the levels each target is due for in its current stay, each target in a savepoint of its
    own in the caller's transaction (which the caller commits): a target whose escalation fails leaves
    nothing (its records, rows and messages are rolled back, its chains' heads set back), the others
    stay. The (target id, level) pairs fired."""
    if not target_ids:
        return []
    batch = Batch.read(session, target_ids)
    fired: list[tuple[int, int]] = []
    for target in batch.targets:
        step = session.begin_nested()
        try:
            with chain.set_back_on_failure(batch.heads):
                levels = escalate(session, batch, target, today)
                step.commit()
        except IntegrityError:  # another sweeper recorded this level first: nothing to add
            step.rollback()
            continue
        except BaseException:
            step.rollback()
            raise
        fired += [(target.id, level) for level in levels]
    return fired


def escalate(session: Session, batch: Batch, target: Row, today: date) -> list[int]:
    """Fire the levels ``target`` (a row of ``batch``) is due for in its current stay; flushes, does not
    commit. The levels fired."""
    definition = deployments.resolve(session, target.workflow, target.workflow_version)
    if target.state_due is None or not definition.states[target.state].deadline:
        return []
    fired = [level for level in levels_due(definition, target.state_due, today)
             if (target.id, target.entry, level) not in batch.done]
    if not fired:
        return []
    parties = late_parties(definition, target.state, batch.parties[target.id], batch.signed.get(target.id, ()))
    now = clock.to_db(clock.now())
    late = workdays_between(target.state_due, today)
    supervised, against = target.supervised, list(target.supervised_against or [])
    entries, events = [], []
    for level in fired:
        spec = definition.escalation[level - 1]
        notify, fallback = addressed(level_notify(definition, target.state, spec), parties)
        if spec.supervise and not supervised:
            against = supervised_against(definition, target.state, parties)
        supervised = supervised or spec.supervise
        entries.append({
            "target_id": target.id, "org_id": target.org_id, "kind": "system", "actor": SYSTEM.name, "role": SYSTEM_ROLE,
            "trigger": "escalate", "from_state": target.state, "to_state": target.state, "at": now, "comment": "",
            "payload": {"level": level, "due": target.state_due.isoformat(), "working_days_late": late,
                        "supervise": spec.supervise, "notify": list(notify), "late": list(acting(definition, target.state)),
                        **({"against": against} if spec.supervise else {}),
                        **({"fallback": "office"} if fallback else {}),
                        "after": {"escalation_level": max(level, target.escalation_level), "supervised": supervised}}})
        events.append({"event_type": f"{definition.id}.escalated", "target_id": target.id, "notify": notify,
                       "parties": parties,
                       "data": {"code": target.code, "text": target.text, "level": level, "state": target.state,
                                "state_label": definition.state_label(target.state), "due": target.state_due.isoformat(),
                                "working_days_late": late, "supervised": supervised, "against": against,
                                "fallback": fallback}})
    notice = None
    if supervised and not target.supervised and definition.id == "target" and target.id not in batch.open_notice:
        notice = supervision.draft(session, target, batch.parties[target.id], today,  # 督办: a notice to reply to
                                   issued=batch.issued.get(target.id, 0), org_id=target.plan_org_id,
                                   milestones=batch.milestones[target.plan_id])
    records = chain.extend_at(session, batch.heads, entries + (notice.records if notice else []))
    rows.insert_few(session.connection(), _ESCALATIONS, [
        {"target_id": target.id, "entry": target.entry, "state": target.state, "level": level, "due_date": target.state_due,
         "working_days_late": late, "record_id": record_id, "fired_at": now}
        for level, record_id in zip(fired, records, strict=False)], keys=False)
    messages = [{**event, "record_id": record_id} for event, record_id in zip(events, records, strict=False)]
    if notice:
        messages.append(notice.announcement(records[len(fired):]))
    outbox.write_many(session, messages)  # one INSERT, inside the target's savepoint
    # System bookkeeping, not an edit of the target: no new version, so nobody's open form goes stale.
    session.connection().execute(update(_TARGETS).where(_TARGETS.c.id == target.id).values(
        escalation_level=max(fired + [target.escalation_level]), supervised=supervised, supervised_against=against))
    session.flush()  # anything left to the unit of work, inside the target's savepoint
    return fired
