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

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock
from engine.schedule import supervision
from engine.store import calendardays, db
from engine.workflow import deployments, outbox
from engine.people.actors import Actor, Parties
from engine.workflow.definitions import Definition, EscalationLevel
from engine.workflow.rules import signers_of
from engine.store.models import Escalation, Target
from engine.people.roles import SYSTEM_ROLE
from engine.workflow.targets import parties_of
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


def late_parties(session: Session, target: Target, definition: Definition, parties: Parties) -> Parties:
    """The parties as far as they are late: in a countersign state, leaders who signed are not."""
    if any(spec.countersign for spec in definition.triggers_from(target.state)):
        signed = set(signers_of(session, target.id))
        return Parties(parties.sections, tuple(n for n in parties.leaders if n not in signed), parties.persons)
    return parties


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
                    for target_id in due_now[start:start + batch]:
                        result.fired += [(target_id, lv) for lv in escalate(session, target_id, today, savepoint=True)]
                except Exception:
                    session.commit()  # the targets escalated before the failing one stay escalated, as one by one
                    raise
                except BaseException:
                    session.rollback()
                    raise
                session.commit()
    return result


def escalate(session: Session, target_id: int, today: date, *, savepoint: bool = False) -> list[int]:
    """Fire the levels the target is due for in its current stay; commits (with ``savepoint``: only
    releases a savepoint in the caller's transaction); returns the levels fired."""
    step = session.begin_nested() if savepoint else None
    if step is None:
        db.begin_write(session)
    session_or_step = step or session
    try:
        query = select(Target).where(Target.id == target_id).execution_options(populate_existing=True)
        target = session.exec(query if db.is_sqlite(session) else query.with_for_update()).one()
        definition = deployments.resolve(session, target.workflow, target.workflow_version)
        if target.state_due is None or not definition.states[target.state].deadline:
            session_or_step.rollback()
            return []
        wanted = levels_due(definition, target.state_due, today)
        done = set(session.exec(select(Escalation.level).where(Escalation.target_id == target_id,
                                                               Escalation.entry == target.entry)))
        fired = [level for level in wanted if level not in done]
        if not fired:
            session_or_step.rollback()
            return []
        parties = late_parties(session, target, definition, parties_of(session, target_id))
        now = clock.now()
        late = workdays_between(target.state_due, today)
        supervised, against = target.supervised, list(target.supervised_against or [])
        for level in fired:
            spec = definition.escalation[level - 1]
            notify, fallback = addressed(level_notify(definition, target.state, spec), parties)
            if spec.supervise and not supervised:
                against = supervised_against(definition, target.state, parties)
            supervised = supervised or spec.supervise
            record = chain.append(
                session, target_id=target_id, org_id=target.org_id, kind="system", actor=SYSTEM.name, role=SYSTEM_ROLE, trigger="escalate",
                from_state=target.state, to_state=target.state, at=clock.to_db(now), comment="",
                payload={"level": level, "due": target.state_due.isoformat(), "working_days_late": late,
                         "supervise": spec.supervise, "notify": list(notify), "late": list(acting(definition, target.state)),
                         **({"against": against} if spec.supervise else {}),
                         **({"fallback": "office"} if fallback else {}),
                         "after": {"escalation_level": max(level, target.escalation_level), "supervised": supervised}},
            )
            session.add(Escalation(target_id=target_id, entry=target.entry, state=target.state, level=level,
                                   due_date=target.state_due, working_days_late=late, record_id=record.id))
            outbox.emit(session, event_type=f"{definition.id}.escalated", target_id=target_id, record_id=record.id,
                        notify=notify, parties=parties,
                        data={"code": target.code, "text": target.text, "level": level, "state": target.state,
                              "state_label": definition.state_label(target.state), "due": target.state_due.isoformat(),
                              "working_days_late": late, "supervised": supervised, "against": against,
                              "fallback": fallback})
        if supervised and not target.supervised and definition.id == "target":  # 督办: a notice to reply to
            supervision.issue_on_supervision(session, target, today)
        # System bookkeeping, not an edit of the target: no new version, so nobody's open form goes stale.
        session.exec(update(Target).where(Target.id == target_id)
                     .values(escalation_level=max(fired + [target.escalation_level]), supervised=supervised,
                             supervised_against=against)
                     .execution_options(synchronize_session=False))
        session_or_step.commit()
    except IntegrityError:  # another sweeper recorded this level first: nothing to add
        session_or_step.rollback()
        return []
    except BaseException:
        session_or_step.rollback()
        raise
    return fired
