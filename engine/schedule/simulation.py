"""Year simulation: the scheduler's jobs day by day on a throw-away copy, nothing sent.

:func:`simulate` copies the database (:func:`engine.store.backup.throwaway_copy`), then on the copy,
for every day from ``start`` to ``until``: at 09:00 the jobs run (report items, escalation,
reminders, warnings); at 10:00 the plan's people act as ``assume`` says — through the one door, as
they would — and every notification the day produced is recorded from the copy's outbox, with its
recipients. Nothing is dispatched: the outbox of the copy is the recorder, and the copy is dropped.
The live database is only read (one consistent snapshot).

Assumptions: ``steady`` — every target is started, reports its progress by the 20th of each month in
step with its time, self-assesses three days before its due date, its leaders sign the next day;
report items are submitted two days early and accepted the next day; 督办单 are answered, countersigned and accepted within
days. ``stall:SECTION`` — that section's targets, report items and notices see nothing done after the
start. ``late:PERSON`` — that person's targets report every other month and self-assess ten days
late, their report items go in five days late and notices are answered a week late.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, or_, true
from sqlmodel import Session, select

from engine.calendar import clock
from engine.people.actors import Actor, Parties
from engine.schedule import escalation, recurring, reminders, warnings
from engine.store import backup
from engine.store.db import make_engine
from engine.store.errors import DomainError
from engine.store.models import OutboxEvent, Plan, Target
from engine.workflow.commands import fire
from engine.workflow.targets import parties_for

KINDS = {"escalated": "督办升级", "reminder": "到期提醒", "warned": "预警", "issued": "督办单"}
WHO = {"office": "绩效办"}
OFFICE = Actor("绩效办", frozenset({"office"}))


class SimulationError(ValueError):
    """A simulation was asked for in a way that cannot run (unknown plan, bad assumption or dates)."""


@dataclass(frozen=True)
class Assumption:
    kind: str  # steady | stall | late
    who: str = ""

    @classmethod
    def parse(cls, text: str) -> Assumption:
        kind, _, who = (text or "steady").partition(":")
        if kind not in ("steady", "stall", "late") or (kind != "steady") != bool(who.strip()):
            raise SimulationError(f"无法理解的假设“{text}”：可用 steady、stall:科室、late:姓名")
        return cls(kind, who.strip())

    def pace(self, parties: Parties) -> str:
        """How the people of a target work: steady, stalled or late."""
        if self.kind == "stall" and self.who in parties.sections:
            return "stall"
        if self.kind == "late" and self.who in parties.persons:
            return "late"
        return "steady"

    def __str__(self) -> str:
        return self.kind + (f":{self.who}" if self.who else "")


@dataclass(frozen=True)
class Happening:
    """One thing that would happen: a notification or a new report item, on a day, to whom."""

    day: date
    kind: str
    code: str
    text: str
    sections: tuple[str, ...]
    to: tuple[str, ...]
    detail: str = ""


@dataclass
class Timeline:
    plan: str
    start: date
    until: date
    assume: str
    happenings: list[Happening] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> Counter:
        return Counter(h.kind for h in self.happenings)

    def by_section(self) -> dict[str, Counter]:
        out: dict[str, Counter] = {}
        for h in self.happenings:
            for section in h.sections:
                out.setdefault(section, Counter())[h.kind] += 1
        return dict(sorted(out.items()))

    def by_person(self) -> dict[str, Counter]:
        out: dict[str, Counter] = {}
        for h in self.happenings:
            for name in h.to:
                out.setdefault(name, Counter())[h.kind] += 1
        return dict(sorted(out.items()))


def simulate(*, url: str, plan_id: int, start: date | None = None, until: date | None = None,
             assume: str = "steady") -> Timeline:
    """Run the plan's year on a throw-away copy of the database at ``url``; the timeline of what would happen."""
    assumption = Assumption.parse(assume)
    began = time.perf_counter()
    with backup.throwaway_copy(url) as copy_url:
        bind = make_engine(copy_url)
        try:
            with Session(bind) as session:
                plan = session.get(Plan, plan_id)
                if plan is None:
                    raise SimulationError(f"计划 {plan_id} 不存在")
                title, year = plan.title, plan.year
            # from today within the plan's year; a plan of another year from its 1 January
            start = start or (clock.today() if clock.today().year == year else date(year, 1, 1))
            until = until or date(year, 12, 31)
            if until < start:
                raise SimulationError(f"结束日期 {until} 早于开始日期 {start}")
            timeline = Timeline(title, start, until, str(assumption))
            run(bind, plan_id, start, until, assumption, timeline)
        finally:
            bind.dispose()
    timeline.seconds = time.perf_counter() - began
    return timeline


def run(bind: Engine, plan_id: int, start: date, until: date, assumption: Assumption, timeline: Timeline) -> None:
    """The days on the copy ``bind``: jobs, then people, then the day's notifications into ``timeline``."""
    with Session(bind) as session:
        seen_event = session.exec(select(OutboxEvent.id).order_by(OutboxEvent.id.desc())).first() or 0
        seen_target = session.exec(select(Target.id).order_by(Target.id.desc())).first() or 0
    day = start
    while day <= until:
        with clock.frozen(datetime(day.year, day.month, day.day, 9, 0)):
            recurring.create_due(bind, today=day)
            escalation.sweep(bind, today=day)
            reminders.sweep(bind, today=day)
            warnings.sweep(bind, today=day)
        with clock.frozen(datetime(day.year, day.month, day.day, 10, 0)):
            act(bind, plan_id, day, assumption)
        seen_event, seen_target = record(bind, plan_id, day, seen_event, seen_target, timeline)
        day += timedelta(days=1)


def _staff(parties: Parties) -> Actor:
    return Actor(parties.persons[0] if parties.persons else f"{parties.sections[0]}经办人", frozenset({"staff"}),
                 frozenset(parties.sections))


def _share(target: Target, day: date, start: date) -> int:
    if target.due_date is None or target.due_date <= start:
        return min(95, target.progress + 8)
    return max(target.progress, min(95, round((day - start).days / (target.due_date - start).days * 100)))


def _steps(target: Target, parties: Parties, day: date, pace: str, year: int) -> list[tuple[str, Actor, dict, str]]:
    """What the target's people do today, as (trigger, actor, payload, comment)."""
    staff, office = _staff(parties), OFFICE
    late = 10 if pace == "late" else 0
    state, due = target.state, target.due_date
    if pace == "stall" and not (target.workflow == "target" and state == "assigned"):
        return []
    if target.workflow == "target":
        if state == "assigned":
            return [("start", staff, {}, "")]
        if state == "in_progress":
            if due is not None and day >= due - timedelta(days=3) + timedelta(days=late):
                return [("self_assess", staff, {"self_score": float(target.weight), "summary": "全年目标已完成"}, "")]
            if day.day == 20 and (pace != "late" or day.month % 2 == 0):
                percent = _share(target, day, date(year, 1, 1))
                return [("report_progress", staff, {"note": f"{day.month}月按计划推进", "percent": percent}, "")]
        if state == "self_assessed":
            return [("sign", Actor(name, frozenset({"leader"})), {}, "") for name in parties.leaders]
        return []
    if target.workflow == "report" and state == "due" and due is not None:
        if day >= due - timedelta(days=2) + timedelta(days=7 if pace == "late" else 0):
            return [("submit", staff, {"content": f"{target.text}：本期工作按计划推进"}, "")]
        return []
    if target.workflow == "report" and state == "submitted":
        return [("accept", office, {}, "")]
    if target.workflow == "supervision":
        entered = clock.local(target.state_entered_at).date()
        if state == "issued" and day >= entered + timedelta(days=7 if pace == "late" else 1):
            return [("reply", staff, {"reason": "前期协调用时较长", "measures": "倒排工期，每周调度",
                                      "new_date": (day + timedelta(days=30)).isoformat()}, "")]
        if state == "replied":
            return [("countersign", Actor(name, frozenset({"leader"})), {}, "") for name in parties.leaders]
        if state == "countersigned":
            return [("accept", office, {}, "")]
    return []


#: States in which someone acts whatever the day (start, sign, submit, reply, countersign, accept).
ALWAYS = ("assigned", "self_assessed", "submitted", "issued", "replied", "countersigned")
#: How far ahead a due date may be for today's step (self-assess three days early, up to ten days late).
HORIZON = timedelta(days=10)


def _candidates(day: date):
    """The targets that may have a step today: never the whole plan on an ordinary day."""
    soon = Target.due_date <= day + HORIZON
    in_progress = (Target.state == "in_progress") & (soon if day.day != 20 else true())
    return or_(Target.state.in_(ALWAYS), in_progress, (Target.state == "due") & soon,
               Target.workflow == "rectification")


def act(bind: Engine, plan_id: int, day: date, assumption: Assumption) -> None:
    """The plan's people act for the day, each step through the one door; a refused step is skipped."""
    with Session(bind, expire_on_commit=False) as session:
        year = session.get(Plan, plan_id).year
        rows = session.exec(select(Target).where(Target.plan_id == plan_id, _candidates(day))).all()
        parties = parties_for(session, [t.id for t in rows])
        plan = [(t.id, _steps(t, parties[t.id], day, assumption.pace(parties[t.id]), year)) for t in rows]
        session.rollback()
        for target_id, steps in plan:
            for trigger, actor, payload, comment in steps:
                try:
                    fire(session=session, target_id=target_id, trigger=trigger, actor=actor, payload=payload,
                         comment=comment)
                except DomainError:
                    continue
            session.expunge_all()  # memory stays flat over the year


def record(bind: Engine, plan_id: int, day: date, seen_event: int, seen_target: int,
           timeline: Timeline) -> tuple[int, int]:
    """Add the day's notifications and new report items of the plan to ``timeline``; the newest ids seen."""
    with Session(bind) as session:
        events = session.exec(select(OutboxEvent, Target).join(Target, Target.id == OutboxEvent.target_id)
                              .where(OutboxEvent.id > seen_event, Target.plan_id == plan_id)
                              .order_by(OutboxEvent.id)).all()
        items = session.exec(select(Target).where(Target.id > seen_target, Target.plan_id == plan_id,
                                                  Target.workflow == recurring.WORKFLOW).order_by(Target.id)).all()
        ids = [t.id for _, t in events] + [t.id for t in items]
        parties = parties_for(session, list(dict.fromkeys(ids)))
        for event, target in events:
            kind = KINDS.get(event.event_type.rsplit(".", 1)[-1])
            if kind is None:
                continue
            data = event.data or {}
            detail = data.get("level_label") or (f"第 {data['level']} 级" if "level" in data else "")
            detail = f"{detail}：{data['reason']}" if data.get("reason") else detail
            timeline.happenings.append(Happening(
                day, kind if target.workflow != "supervision" or kind != "督办升级" else "督办单逾期", target.code,
                target.text, parties[target.id].sections,
                tuple(WHO.get(r["name"], r["name"]) for r in event.recipients), detail))
        for item in items:
            timeline.happenings.append(Happening(day, "报告事项", item.code, item.text, parties[item.id].sections,
                                                 parties[item.id].persons, f"{item.due_date} 前报送"))
        last_event = session.exec(select(OutboxEvent.id).order_by(OutboxEvent.id.desc())).first() or seen_event
        last_target = session.exec(select(Target.id).order_by(Target.id.desc())).first() or seen_target
    return last_event, last_target
