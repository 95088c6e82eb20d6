"""Recurring report items (定期报告): created by the scheduler from each plan's report schedule."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine
import logging

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store import db
from engine.workflow import targets
from engine.calendar.deadlines import parse_deadline
from engine.store.models import Assignment, Plan, ReportSchedule, Target

WORKFLOW = "report"
log = logging.getLogger("kaoping.reports")
def code_for(key: str, due: date, section: str) -> str:
    return f"R-{key}-{due:%Y%m%d}-{section}"[:120]


def _sections(session: Session, plan_id: int) -> dict[str, tuple[list[str], list[str]]]:
    """Each section of the plan's targets → (its leaders, its persons), from the rows it leads or shares."""
    rows = session.exec(select(Assignment.target_id, Assignment.kind, Assignment.name, Assignment.position)
                        .join(Target, Target.id == Assignment.target_id)
                        .where(Target.plan_id == plan_id, Target.workflow == "target")
                        .order_by(Assignment.target_id, Assignment.kind, Assignment.position)).all()
    by_target: dict[int, dict[str, list[str]]] = {}
    for target_id, kind, name, _ in rows:
        by_target.setdefault(target_id, {"section": [], "leader": [], "person": []})[kind].append(name)
    out: dict[str, tuple[list[str], list[str]]] = {}
    for parties in by_target.values():
        sections, persons = parties["section"], parties["person"]
        for i, section in enumerate(sections):
            leaders, people = out.setdefault(section, ([], []))
            if i == 0:
                leaders += [n for n in parties["leader"] if n not in leaders]
            if len(persons) == len(sections) and persons[i] not in people:
                people.append(persons[i])
    return out


def create_due(bind: Engine, *, today: date | None = None) -> list[str]:
    """Create the report items whose creation day has come (due within their lead days); idempotent.

    Items are created for due dates from the plan's creation on, never backwards into months
    before the plan existed. Returns the codes created.
    """
    today = today or clock.today()
    created: list[str] = []
    with Session(bind, expire_on_commit=False) as session:
        for plan in session.exec(select(Plan)).all():
            since = clock.local(plan.created_at).date()
            sections = None
            for schedule in session.exec(select(ReportSchedule).where(ReportSchedule.plan_id == plan.id)).all():
                deadline = parse_deadline(schedule.phrase, plan.year)
                for due in deadline.occurrences(plan.year):
                    if not (due - timedelta(days=schedule.lead_days) <= today and due >= since):
                        continue
                    sections = sections if sections is not None else _sections(session, plan.id)
                    for section, (leaders, persons) in sections.items():
                        code = code_for(schedule.key, due, section)
                        if _create(session, plan.id, code, schedule, due, section, leaders, persons):
                            created.append(code)
    return created


def _create(session, plan_id, code, schedule, due, section, leaders, persons) -> bool:
    if session.exec(select(Target.id).where(Target.plan_id == plan_id, Target.code == code)).first():
        return False
    db.begin_write(session)
    try:
        targets.create(session=session, plan_id=plan_id, code=code, workflow=WORKFLOW, weight=0,
                       text=f"{section}{schedule.label}（{due.month}月{due.day}日前报送）", category="定期报告",
                       deadline_phrase=schedule.phrase, due_date=due, sections=[section], leaders=leaders,
                       persons=persons)
        session.commit()
    except IntegrityError:  # another process created it first
        session.rollback()
        return False
    except SQLAlchemyError:  # one bad item (odd data) must not stop the others, nor the next runs
        session.rollback()
        log.exception("report item %s could not be created", code)
        return False
    return True
