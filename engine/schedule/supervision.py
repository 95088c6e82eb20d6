"""Supervision notices (督办单): issued for a target, by the office or at the ladder's 督办 level.

A notice is a target of its own workflow (``workflows/supervision.yaml``) that names the target it
concerns (``subject_id``) and belongs to the same sections, leaders and persons; it is replied to,
countersigned, accepted or returned through the one door (:func:`engine.workflow.commands.fire`),
and a late reply escalates like any deadline. Issuing writes the notice's creation record and a
record on the target it concerns, so that both histories show it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock
from engine.calendar.workdays import add_workdays
from engine.people import scope
from engine.people.actors import Actor, Parties, may_see_evidence
from engine.people.roles import SYSTEM_ROLE
from engine.store import db
from engine.store.errors import Forbidden, NotFound
from engine.store.models import Target, TransitionRecord
from engine.workflow import definitions, outbox, payloads, targets
from engine.workflow.targets import parties_of

WORKFLOW = "supervision"
#: Working days a section has to reply to a notice issued at the ladder's 督办 level.
REPLY_WORKING_DAYS = 5
MAX_REQUIREMENT = 2000


def _code(session: Session, subject: Target) -> str:
    issued = session.exec(select(func.count()).select_from(Target)
                          .where(Target.subject_id == subject.id, Target.workflow == WORKFLOW)).one()
    return f"督办-{subject.code}-{issued + 1}"[:120]


def create_notice(session: Session, subject: Target, *, actor: Actor, role: str, reply_due: date,
                  requirement: str) -> Target:
    """Add a notice for ``subject`` and the records of both; flushes (the caller commits)."""
    parties = parties_of(session, subject.id)
    notice = targets.create(
        session=session, plan_id=subject.plan_id, code=_code(session, subject), workflow=WORKFLOW, weight=0,
        text=f"关于目标 {subject.code}“{subject.text[:80]}”的督办：{requirement}", category="督办单",
        deadline_phrase=f"{reply_due.month}月{reply_due.day}日前", due_date=reply_due, subject_id=subject.id,
        sections=parties.sections, leaders=parties.leaders, persons=parties.persons, actor=actor.name, role=role,
        record={"subject_id": subject.id, "requirement": requirement})
    record = chain.append(session, target_id=subject.id, kind="system" if role == SYSTEM_ROLE else "transition",
                          actor=actor.name, role=role, trigger="issue_notice", from_state=subject.state,
                          to_state=subject.state, at=clock.to_db(clock.now()), comment=requirement,
                          payload={"notice_id": notice.id, "notice_code": notice.code, "reply_due": reply_due.isoformat()})
    outbox.emit(session, event_type="supervision.issued", target_id=notice.id, record_id=record.id,
                notify=("responsible", "leaders"), parties=parties,
                data={"code": notice.code, "text": notice.text, "subject_code": subject.code,
                      "requirement": requirement, "due": reply_due.isoformat(), "actor": actor.name})
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
    open_one = session.exec(select(Target.id).where(Target.subject_id == subject.id, Target.workflow == WORKFLOW,
                                                    Target.state != "closed")).first()
    if open_one is not None:
        return None
    return create_notice(session, subject, actor=Actor.system(), role=SYSTEM_ROLE,
                         reply_due=add_workdays(today, REPLY_WORKING_DAYS),
                         requirement="该目标已逾期并列入督办，请说明滞后原因、整改措施和完成时间")


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
