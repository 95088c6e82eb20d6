"""Early warning (预警): a risk level for every target still being worked on, before it is late.

The rule, in one place (:func:`assess`): a target's level is the highest any of these reaches —

- **lag**: the share of its time gone (from its start to its due date) less its reported progress,
  in percentage points (已过 70% 时间，进度 20%: 50 points);
- **silent months**: the monthly report days (the 25th, seed 001) passed since its last progress
  report (连续 2 个月未报送);
- **missed checkpoints**: its checkpoints (节点) passed since its last progress report.

Each factor has three thresholds, for 黄色 / 橙色 / 红色预警 (:data:`THRESHOLDS`); a plan may set
others in ``Plan.supervision["warnings"]``. The daily sweep (:func:`sweep`) writes a change of level
to the chain as a system record, with its reason in words, and tells the target's people through the
outbox — once per change: a level that stays is neither recorded nor sent again.
"""
from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock
from engine.people.actors import Actor
from engine.people.roles import SYSTEM_ROLE
from engine.store import db
from engine.store.models import Plan, Target, TransitionRecord
from engine.workflow import deployments, outbox
from engine.workflow.targets import parties_for

LEVELS = ("正常", "黄色预警", "橙色预警", "红色预警")
#: Factor → the value at which each level starts (yellow, orange, red).
THRESHOLDS: dict[str, tuple[int, int, int]] = {
    "lag": (20, 35, 50),
    "silent_months": (1, 2, 3),
    "missed_checkpoints": (1, 2, 3),
}
#: The day of the month by which progress is reported (seed 001: 每月25日前).
REPORT_DAY = 25
#: Who is told of a new level: the responsible persons, the leaders from orange on, the office at red.
NOTIFY = {1: ("responsible",), 2: ("responsible", "leaders"), 3: ("responsible", "leaders", "office")}
#: The states of a target still being worked on (its own deadline runs).
WATCHED = ("assigned", "in_progress")
PROGRESS_TRIGGERS = ("report_progress",)
SYSTEM = Actor.system()
BATCH = 200


@dataclass(frozen=True)
class Risk:
    """A target's risk level now, the facts it comes from and the reason in words."""

    level: int
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LEVELS[self.level]


def thresholds(plan: Plan | None) -> dict[str, tuple[int, ...]]:
    """The plan's thresholds, the defaults for factors it does not set."""
    own = ((plan.supervision or {}).get("warnings") or {}) if plan is not None else {}
    return {name: tuple(own.get(name, default)) for name, default in THRESHOLDS.items()}


def report_days(after: date, before: date, day: int = REPORT_DAY, *, reported: bool = True) -> int:
    """How many monthly report days passed unreported between a report on ``after`` and ``before``
    (exclusive). A report counts for the first report day on or after it; ``reported=False``:
    ``after`` is the start, and every report day from it on counts."""
    count, year, month = 0, after.year, after.month
    covered = not reported
    while True:
        moment = date(year, month, min(day, monthrange(year, month)[1]))  # a 31st in a short month: its last day
        if moment >= before:
            return count
        if moment >= after:
            if covered:
                count += 1
            covered = True
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def checkpoint_dates(target: Any) -> list[date]:
    """The target's checkpoint dates (节点), whether kept as ISO dates or as ``{date, what}``."""
    out = []
    for item in target.checkpoints or []:
        raw = item.get("date") if isinstance(item, dict) else item
        try:
            out.append(date.fromisoformat(str(raw)[:10]))
        except ValueError:
            continue
    return sorted(out)


def start_of(target: Any, year: int | None = None) -> date:
    """When the target's time starts: its creation, or 1 January of its plan's year if later."""
    created = clock.local(target.created_at).date()
    return max(created, date(year, 1, 1)) if year else created


def assess(target: Any, *, today: date, last_report: date | None, year: int | None = None,
           limits: dict[str, tuple[int, ...]] | None = None, report_day: int = REPORT_DAY) -> Risk:
    """The risk level of ``target`` on ``today``: the rule, stated once."""
    limits = limits or THRESHOLDS
    start = start_of(target, year)
    since = max(last_report or start, start)
    facts: dict[str, Any] = {"progress": int(target.progress or 0)}
    words = []
    if target.due_date is not None and target.due_date > start:
        elapsed = min(max((today - start).days / (target.due_date - start).days, 0.0), 1.0)
        facts["elapsed"] = round(elapsed * 100)
        facts["lag"] = max(facts["elapsed"] - facts["progress"], 0)
        words.append(f"已过 {facts['elapsed']}% 时间，进度 {facts['progress']}%")
    facts["silent_months"] = report_days(since, today, report_day, reported=last_report is not None)
    if facts["silent_months"]:
        words.append(f"连续 {facts['silent_months']} 个月未报送" if last_report else
                     f"{facts['silent_months']} 个月未报送进展")
    missed = [d for d in checkpoint_dates(target) if since < d < today]
    facts["missed_checkpoints"] = len(missed)
    if missed:
        words.append(f"{len(missed)} 个节点未报（{'、'.join(f'{d.month}月{d.day}日' for d in missed)}）")
    level = 0
    for name, steps in limits.items():
        value = facts.get(name, 0)
        level = max([level] + [i + 1 for i, limit in enumerate(steps) if value >= limit])
    return Risk(level, "，".join(words), facts)


def last_reports(session: Session, target_ids: list[int] | None = None, *, among=None) -> dict[int, date]:
    """Each target's last progress report (local date), for those that have one: of ``target_ids``,
    or of the targets a subquery ``among`` selects (no long list of ids to send)."""
    if target_ids is not None and not target_ids:
        return {}
    query = (select(TransitionRecord.target_id, func.max(TransitionRecord.at))
             .where(TransitionRecord.trigger.in_(PROGRESS_TRIGGERS),
                    TransitionRecord.target_id.in_(among if among is not None else target_ids))
             .group_by(TransitionRecord.target_id))
    return {target_id: clock.local(at).date() for target_id, at in session.exec(query).all()}


#: What the rule reads of a target (a light row, not the whole object: the sweep reads every watched target daily).
_READ = (Target.id, Target.plan_id, Target.code, Target.text, Target.state, Target.progress, Target.due_date,
         Target.created_at, Target.checkpoints, Target.risk_level, Target.workflow_version)


@dataclass
class WarningResult:
    checked: int = 0
    changed: list[tuple[int, int]] = field(default_factory=list)  # (target id, new level)


def sweep(bind: Engine, *, today: date | None = None, batch: int = BATCH) -> WarningResult:
    """Assess every watched target; record and notify each change of level (and clear the level of a
    target that is no longer worked on). Idempotent: a second run the same day changes nothing."""
    today = today or clock.today()
    result = WarningResult()
    with Session(bind, expire_on_commit=False) as session:
        plans = {p.id: p for p in session.exec(select(Plan)).all()}
        mine = (Target.workflow == "target") & Target.state.in_(WATCHED)
        watched = session.exec(select(*_READ).where(mine)).all()
        left = session.exec(select(*_READ).where(Target.workflow == "target", Target.risk_level > 0,
                                                 Target.state.not_in(WATCHED))).all()
        result.checked = len(watched)
        reports = last_reports(session, among=select(Target.id).where(mine))
        changes: list[tuple[Any, Risk]] = []
        rules = {}
        for target in watched:
            if target.plan_id not in rules:
                plan = plans.get(target.plan_id)
                settings = (plan.supervision or {}) if plan else {}
                rules[target.plan_id] = (plan.year if plan else None, thresholds(plan),
                                         int(settings.get("report_day", REPORT_DAY)))
            year, limits, day = rules[target.plan_id]
            risk = assess(target, today=today, last_report=reports.get(target.id), year=year, limits=limits,
                          report_day=day)
            if risk.level != target.risk_level:
                changes.append((target, risk))
        changes += [(t, Risk(0, f"目标已{deployments.resolve(session, 'target', t.workflow_version).state_label(t.state)}，"
                            "预警解除")) for t in left]  # in the words of the version the target runs on
        session.rollback()  # end the read snapshot before writing
        for start in range(0, len(changes), batch):
            db.begin_write(session)
            try:
                for target, risk in changes[start:start + batch]:
                    if record(session, target, risk):
                        result.changed.append((target.id, risk.level))
            except BaseException:
                session.rollback()
                raise
            session.commit()
    return result


def record(session: Session, target: Any, risk: Risk) -> bool:
    """Write a change of level: the target's columns, a system record in the chain, the outbox event
    (not for a level that falls back to 正常). ``False`` when another process changed it first."""
    previous = target.risk_level
    # System bookkeeping, not an edit of the target: no new version, so nobody's open form goes stale.
    changed = session.exec(update(Target).where(Target.id == target.id, Target.risk_level == previous)
                           .values(risk_level=risk.level, risk_reason=risk.reason)
                           .execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        return False
    now = clock.now()
    entry = chain.append(session, target_id=target.id, kind="system", actor=SYSTEM.name, role=SYSTEM_ROLE,
                         trigger="warn", from_state=target.state, to_state=target.state, at=clock.to_db(now),
                         comment=risk.reason, payload={"level": risk.level, "label": risk.label, "previous": previous,
                                                       "facts": risk.facts})
    if risk.level > 0:
        outbox.emit(session, event_type="target.warned", target_id=target.id, record_id=entry.id,
                    notify=NOTIFY[risk.level], parties=parties_for(session, [target.id])[target.id],
                    data={"code": target.code, "text": target.text, "level": risk.level,
                          "level_label": risk.label, "previous": previous,
                          "previous_label": LEVELS[previous] if previous else "", "reason": risk.reason})
    return True
