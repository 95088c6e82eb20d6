"""Supervision notices (督办单): issued for a target, by the office or at the ladder's 督办 level.

A notice is a target of its own workflow (``workflows/supervision.yaml``) that names the target it
concerns (``subject_id``) and belongs to the same sections, leaders and persons; it is replied to,
countersigned, accepted or returned through the one door (:func:`engine.workflow.commands.fire`),
and a late reply escalates like any deadline. Issuing writes the notice's creation record and a
record on the target it concerns, so that both histories show it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from engine.audit import chain, ledger
from engine.calendar import clock
from engine.calendar.workdays import add_workdays
from engine.people import scope
from engine.people.actors import Actor, Parties, may_see_evidence
from engine.people.roles import SYSTEM_ROLE
from engine.store import db, rows
from engine.store.errors import Forbidden, NotFound
from engine.store.models import Assignment, Target, TransitionRecord
from engine.workflow import definitions, outbox, payloads, targets
from engine.workflow.targets import parties_of

WORKFLOW = "supervision"
#: Working days a section has to reply to a notice issued at the ladder's 督办 level.
REPLY_WORKING_DAYS = 5
MAX_REQUIREMENT = 2000


#: What a notice issued at the ladder's 督办 level asks.
ON_SUPERVISION = "该目标已逾期并列入督办，请说明滞后原因、整改措施和完成时间"


def issued_counts(session: Session, subject_ids: Sequence[int]) -> dict[int, int]:
    """How many notices each of ``subject_ids`` has had (none: left out), in one statement."""
    return dict(session.exec(select(Target.subject_id, func.count()).where(
        Target.subject_id.in_(list(subject_ids)), Target.workflow == WORKFLOW).group_by(Target.subject_id)).all())


def with_open_notice(session: Session, subject_ids: Sequence[int]) -> set[int]:
    """Those of ``subject_ids`` with a notice not yet closed, in one statement."""
    return set(session.exec(select(Target.subject_id).distinct().where(
        Target.subject_id.in_(list(subject_ids)), Target.workflow == WORKFLOW, Target.state != "closed")))


def _fields(subject: Any, *, issued: int, reply_due: date, requirement: str) -> dict[str, Any]:
    """The fields (as :func:`targets.new` takes them) of the notice for ``subject`` after ``issued`` others."""
    return {"plan_id": subject.plan_id, "code": f"督办-{subject.code}-{issued + 1}"[:120], "workflow": WORKFLOW,
            "weight": 0, "text": f"关于目标 {subject.code}“{subject.text[:80]}”的督办：{requirement}",
            "category": "督办单", "deadline_phrase": f"{reply_due.month}月{reply_due.day}日前", "due_date": reply_due,
            "subject_id": subject.id}


def _issue_record(subject: Any, notice_id: int, notice_code: str, *, actor: Actor, role: str, reply_due: date,
                  requirement: str) -> dict[str, Any]:
    """The record on the target a notice concerns, in that target's chain."""
    return {"target_id": subject.id, "org_id": subject.org_id, "kind": "system" if role == SYSTEM_ROLE else "transition",
            "actor": actor.name, "role": role, "trigger": "issue_notice", "from_state": subject.state,
            "to_state": subject.state, "at": clock.to_db(clock.now()), "comment": requirement,
            "payload": {"notice_id": notice_id, "notice_code": notice_code, "reply_due": reply_due.isoformat()}}


def _issued_event(subject: Any, notice: Any, parties: Parties, *, actor: Actor, reply_due: date,
                  requirement: str) -> dict[str, Any]:
    """The message that a notice was issued (:func:`outbox.emit`'s arguments but the record's key)."""
    return {"event_type": "supervision.issued", "target_id": notice.id,
            "notify": ("responsible", "leaders"), "parties": parties,
            "data": {"code": notice.code, "text": notice.text, "subject_code": subject.code, "requirement": requirement,
                     "due": reply_due.isoformat(), "actor": actor.name}}


def create_notice(session: Session, subject: Target, *, actor: Actor, role: str, reply_due: date,
                  requirement: str) -> Target:
    """Add a notice for ``subject`` and the records of both; flushes (the caller commits)."""
    parties = parties_of(session, subject.id)
    fields = _fields(subject, issued=issued_counts(session, [subject.id]).get(subject.id, 0), reply_due=reply_due,
                     requirement=requirement)
    notice = targets.create(
        session=session, **fields, sections=parties.sections, leaders=parties.leaders, persons=parties.persons,
        actor=actor.name, role=role, record={"subject_id": subject.id, "requirement": requirement})
    record = chain.append(session, **_issue_record(subject, notice.id, notice.code, actor=actor, role=role,
                                                   reply_due=reply_due, requirement=requirement))
    outbox.emit(session, record_id=record.id, **_issued_event(subject, notice, parties, actor=actor,
                                                              reply_due=reply_due, requirement=requirement))
    return notice


def issue(*, session: Session, target_id: int, actor: Actor, reply_due: date, requirement: str) -> Target:
    """The office issues a notice for a target with a reply deadline; commits. Refuses a deadline in
    the past, an empty requirement, and a target that is not one of the plan's own."""
    requirement, errors = payloads.office_order(
        actor, action="下发督办单", text=requirement, text_field="requirement", text_label="督办事项",
        limit=MAX_REQUIREMENT, day=reply_due, day_field="reply_due", day_label="回复期限")
    db.begin_write(session)
    try:
        subject = session.get(Target, target_id)
        if subject is None or subject.workflow != "target":
            raise NotFound(f"目标 {target_id} 不存在", target_id=target_id)
        scope.writable(session, actor, subject.org_id, f"目标 {target_id} 不存在", target_id=target_id)
        payloads.refuse(errors)  # after the scope: another organisation's target is not found, whatever was typed
        notice = create_notice(session, subject, actor=actor, role="office", reply_due=reply_due,
                               requirement=requirement)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return notice


def issue_on_supervision(session: Session, subject: Target, today: date) -> Target | None:
    """At the ladder's 督办 level: a notice from the system, reply in :data:`REPLY_WORKING_DAYS` working
    days, unless one is still open for the target; flushes."""
    if with_open_notice(session, [subject.id]):
        return None
    return create_notice(session, subject, actor=Actor.system(), role=SYSTEM_ROLE,
                         reply_due=add_workdays(today, REPLY_WORKING_DAYS), requirement=ON_SUPERVISION)


@dataclass(frozen=True)
class Drafted:
    """A notice the escalation sweep issues, its row and parties written: its records (its creation and
    the record on its subject, for the chain) and its message, to send once the records have keys."""

    records: list[dict[str, Any]]
    event: dict[str, Any]

    def announcement(self, record_ids: Sequence[int]) -> dict[str, Any]:
        """The message that the notice was issued (:func:`outbox.write`'s arguments); ``record_ids``: the keys
        of :attr:`records`, in order."""
        return {**self.event, "record_id": record_ids[-1]}


def draft(session: Session, subject: Any, parties: Parties, today: date, *, issued: int, org_id: int,
          milestones: dict[str, date]) -> Drafted:
    """:func:`issue_on_supervision` in the escalation sweep's batch, for a ``subject`` (a row of its target)
    the caller found without an open notice and with ``issued`` notices so far: the same notice (of
    organisation ``org_id``, its plan's) and parties, written with Core statements, and the same records
    and message, for the caller to write with its own (:func:`chain.extend_at`)."""
    actor, reply_due = Actor.system(), add_workdays(today, REPLY_WORKING_DAYS)
    fields = _fields(subject, issued=issued, reply_due=reply_due, requirement=ON_SUPERVISION)
    [notice] = targets.new_rows(session, plan_id=subject.plan_id, org_id=org_id, workflow=WORKFLOW, items=[fields],
                                milestones=milestones)
    rows.insert_few(session.connection(), Target.__table__, [notice])
    rows.insert_few(session.connection(), Assignment.__table__, targets.assignment_rows(notice["id"], parties), keys=False)
    created = ledger.creations([notice], actor=actor.name, role=SYSTEM_ROLE,
                               payload={"subject_id": subject.id, "requirement": ON_SUPERVISION})
    on_subject = _issue_record(subject, notice["id"], notice["code"], actor=actor, role=SYSTEM_ROLE,
                               reply_due=reply_due, requirement=ON_SUPERVISION)
    return Drafted(created + [on_subject], _issued_event(subject, SimpleNamespace(**notice), parties, actor=actor,
                                                         reply_due=reply_due, requirement=ON_SUPERVISION))


def notices_of(session: Session, target_id: int) -> list[Target]:
    """The notices issued for a target, oldest first."""
    return list(session.exec(select(Target).where(Target.subject_id == target_id, Target.workflow == WORKFLOW)
                             .order_by(Target.id)))


@dataclass(frozen=True)
class Printable:
    """A notice as printed (督办单): what was asked, of whom, by when, and the reply as it stands."""

    notice: Target
    subject: Target
    parties: Parties
    issued_by: str
    issued_at: str
    requirement: str
    reply: dict[str, Any]
    signed: list[str]
    state_label: str


def printable(*, session: Session, target_id: int, actor: Actor) -> Printable:
    """The notice ``target_id`` for printing; only its parties, the office and the auditor may print it."""
    notice = session.get(Target, target_id)
    if notice is None or notice.workflow != WORKFLOW:
        raise NotFound(f"督办单 {target_id} 不存在", target_id=target_id)
    parties = parties_of(session, notice.id)
    if not may_see_evidence(actor, parties):
        raise Forbidden("只有督办单的责任科室、分管领导、绩效办和审计人员可以打印督办单", code="out_of_scope")
    records = list(session.exec(select(TransitionRecord).where(TransitionRecord.target_id == notice.id)
                                .order_by(TransitionRecord.id)))
    created = records[0]
    replies = [r for r in records if r.trigger == "reply"]
    signed = [r.actor for r in records if r.trigger == "countersign" and r.id > (replies[-1].id if replies else 0)]
    return Printable(notice, session.get(Target, notice.subject_id), parties, created.actor,
                     f"{clock.local(created.at):%Y年%m月%d日}", str(created.payload.get("requirement", "")),
                     dict(replies[-1].payload) if replies else {}, signed,
                     definitions.get(WORKFLOW).state_label(notice.state))
