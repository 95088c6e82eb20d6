"""What each person's home page shows: the engine's reading of the plan for one actor."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from engine.calendar import clock
from engine.calendar.workdays import workdays_between
from engine.workflow import commands, definitions, rules
from engine.people import inbox, scope
from engine.scoring import ranking
from engine.people.actors import Actor, Parties
from engine.store.models import Assignment, Plan, Signature, Target, TransitionRecord
from engine.workflow.targets import is_overdue, parties_for

DUE_SOON_DAYS = 14
LIST_LIMIT = 100


@dataclass
class Item:
    """A target as a list shows it: with its people, what it waits for, and what the viewer may do."""

    target: Target
    parties: Parties
    state_label: str
    overdue: bool
    due_soon: bool
    awaiting: str
    actions: list[commands.Action] = field(default_factory=list)
    signed: list[str] = field(default_factory=list)
    self_assessment: dict[str, Any] = field(default_factory=dict)
    left: str = ""  # 还剩 3 个工作日 / 已逾期 12 个工作日 / 今天到期 / 长期


def days_left(target: Target, today) -> str:
    """How long the target's current stay has left, in working days, as people say it."""
    due = target.state_due
    if due is None:
        return "长期" if not definitions.get(target.workflow).states[target.state].final else ""
    if due < today:
        return f"已逾期 {max(1, workdays_between(due, today))} 个工作日"
    if due == today:
        return "今天到期"
    return f"还剩 {workdays_between(today, due)} 个工作日"


@dataclass
class Queue:
    """One of a person's work queues as the home page opens with it: a key (the anchor), a label, its items."""

    key: str
    label: str
    items: list[Item]
    empty: str = "无"

    @property
    def count(self) -> int:
        return len(self.items)


def narrow(queues: list[Queue], *, q: str = "", section: str = "") -> list[Queue]:
    """The queues with only the items that match a code or words (``q``) and a section (the home filter bar)."""
    q, section = (q or "").strip(), (section or "").strip()

    def keep(item: Item) -> bool:
        return (not q or q in item.target.code or q in item.target.text) and \
            (not section or section in item.parties.sections)

    return [Queue(x.key, x.label, [i for i in x.items if keep(i)], x.empty) for x in queues] if q or section else queues


def _returned(session: Session, target_ids: list[int]) -> set[int]:
    """Targets whose latest transition sent them back (退回 by a leader or the office)."""
    last: dict[int, str] = {}
    if target_ids:
        for target_id, trigger in session.exec(
                select(TransitionRecord.target_id, TransitionRecord.trigger)
                .where(TransitionRecord.target_id.in_(target_ids), TransitionRecord.kind == "transition")
                .order_by(TransitionRecord.id)):
            last[target_id] = trigger
    return {i for i, trigger in last.items() if trigger in ("return", "send_back")}


def awaiting(target: Target, parties: Parties, signed: list[str]) -> str:
    """What the target waits for, in words: who must do what next."""
    d = definitions.get(target.workflow)
    onward = [t for t in d.triggers_from(target.state) if t.dest != target.state and not t.comment_required]
    if not onward:
        return "已完成" if not d.triggers_from(target.state) or d.states[target.state].final else "已完成，可重新打开"
    spec = onward[0]
    who = "、".join(rules.ROLES[r] for r in spec.roles)
    text = f"等待{who}{spec.label}"
    if spec.countersign and parties.leaders:
        text += f"（已签 {len(set(signed) & set(parties.leaders))}/{len(parties.leaders)}）"
    return text


def next_step(item: Item) -> str:
    """Who is to act next, by name where the plan names them (feedback after an action)."""
    d = definitions.get(item.target.workflow)
    onward = [t for t in d.triggers_from(item.target.state) if t.dest != item.target.state and not t.comment_required]
    if not onward:
        return item.awaiting
    spec = onward[0]
    if spec.countersign and item.parties.leaders:
        waiting = [name for name in item.parties.leaders if name not in item.signed]
        return f"等待{'、'.join(waiting)}{spec.label}" if waiting else item.awaiting
    if "staff" in spec.roles and item.parties.persons:
        return f"等待{'、'.join(item.parties.persons)}{spec.label}"
    return item.awaiting


def items(session: Session, found: list[Target], actor: Actor | None = None) -> list[Item]:
    """Dress a list of targets for display (five queries for the whole list, none per row)."""
    ids = [t.id for t in found]
    parties = parties_for(session, ids)
    signatures: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for target_id, signer in session.exec(select(Signature.target_id, Signature.signer)
                                              .where(Signature.target_id.in_(ids)).order_by(Signature.id)):
            signatures[target_id].append(signer)
    # The guards' reading of the rows whose open triggers have a guard to judge (the actor's organisation's,
    # in a state one of the actor's triggers leaves under a payload-free guard), once for the list.
    facts = rules.facts_for(session, [t for t in found if _guarded(t, actor)]) if actor else None
    today = clock.today()
    out = []
    for t in found:
        d = definitions.get(t.workflow)
        soon = t.state_due is not None and today <= t.state_due <= today + timedelta(days=DUE_SOON_DAYS)
        out.append(Item(t, parties[t.id], d.state_label(t.state), is_overdue(t), soon,
                        awaiting(t, parties[t.id], signatures[t.id]),
                        commands.available(session=session, target=t, actor=actor, parties=parties[t.id],
                                           signers=signatures[t.id], facts=facts) if actor else [],
                        signatures[t.id], left=days_left(t, today)))
    return out


def _guarded(target: Target, actor: Actor) -> bool:
    """Whether :func:`commands.available` judges a payload-free guard on ``target`` for ``actor``."""
    if actor.org_id not in (None, target.org_id):
        return False
    return any(set(spec.roles) & actor.roles and set(spec.guards) & rules.PAYLOAD_FREE
               for spec in definitions.get(target.workflow).triggers_from(target.state))


def _of(kind: str, names: frozenset[str] | list[str]):
    return select(Assignment.target_id).where(Assignment.kind == kind, Assignment.name.in_(list(names)))


def staff_home(session: Session, actor: Actor) -> dict[str, Any]:
    """My sections' targets by state, due soon, overdue, supervised; my report items; unread messages."""
    mine = list(session.exec(select(Target).where(Target.id.in_(_of("section", actor.sections)),
                                                  scope.acting(scope.of(session, actor), Target.org_id))
                             .order_by(Target.state_due.is_(None), Target.state_due, Target.id)))
    dressed = items(session, [t for t in mine if t.workflow == "target" or not _final(t)], actor)
    targets = [i for i in dressed if i.target.workflow == "target"]
    reports = [i for i in dressed if i.target.workflow != "target"]
    order = list(definitions.get("target").states)
    returned = _returned(session, [i.target.id for i in targets if i.target.state == "in_progress"])
    going = [i for i in targets if i.target.state == "in_progress" and i.target.id not in returned]
    return {
        "queues": [
            Queue("to-start", "待开始", [i for i in targets if i.target.state == "assigned"], "没有待开始的目标。"),
            Queue("going", "推进中", [i for i in going if not (i.overdue or i.due_soon)], "没有推进中的目标。"),
            Queue("to-assess", "待自评", [i for i in going if i.overdue or i.due_soon],
                  f"没有 {DUE_SOON_DAYS} 天内到期、需要自评的目标。"),
            Queue("returned", "被退回", [i for i in targets if i.target.id in returned], "没有被退回的目标。"),
        ],
        "by_state": [(definitions.get("target").state_label(s), [i for i in targets if i.target.state == s])
                     for s in order],
        "overdue": [i for i in targets if i.overdue],
        "due_soon": [i for i in targets if i.due_soon],
        # 督办 against my sections (a leader's late signature is the leader's, not ours).
        "supervised": [i for i in targets if i.target.supervised
                       and (not i.target.supervised_against or actor.sections & set(i.target.supervised_against))],
        "reports": reports,
        "warnings": warned(targets),
    }


def _final(target: Target) -> bool:
    return definitions.get(target.workflow).states[target.state].final


def warned(listed: list[Item]) -> list[Item]:
    """The targets of a list that carry a warning (预警), the most serious first."""
    return sorted((i for i in listed if i.target.workflow == "target" and i.target.risk_level),
                  key=lambda i: (-i.target.risk_level, i.target.code))


def last_self_assessments(session: Session, target_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What each target's latest self-assessment said (one query for all of them)."""
    found: dict[int, dict[str, Any]] = {}
    if target_ids:
        for record in session.exec(select(TransitionRecord).where(TransitionRecord.target_id.in_(target_ids),
                                                                  TransitionRecord.trigger == "self_assess")
                                   .order_by(TransitionRecord.id)):
            found[record.target_id] = dict(record.payload, at=record.at, actor=record.actor)
    return found


def rework_form(session: Session, target_id: int) -> dict[str, str] | None:
    """The self-assessment form prefilled from the last submission (after a return or a send-back), or None."""
    last = last_self_assessments(session, [target_id]).get(target_id)
    if not last:
        return None
    return {"trigger": "self_assess", "self_score": _plain(last.get("self_score")),
            "summary": str(last.get("summary") or ""), "prefilled": "1"}


@dataclass(frozen=True)
class ProgressPoint:
    """One point of a target's progress over time, drawn on the target page."""

    at: Any  # a datetime (Asia/Shanghai)
    percent: int
    label: str  # the step that set it: 开始推进, 报告进展
    x: float = 0.0  # where it falls between the first point (0) and the last (1)

    @property
    def day(self):
        return self.at.date()


#: What a step says about the progress: a start is 0 %, a report its percent.
_PROGRESS_STEPS = {"start": "开始推进", "report_progress": "报告进展"}


def progress_over_time(history: list[TransitionRecord]) -> list[ProgressPoint]:
    """The target's progress as its history recorded it (start 0 %, each report's percent), oldest first,
    each placed by its time between the first and the last. Empty when no step has set any."""
    found = []
    for record in sorted(history, key=lambda r: r.id or 0):
        if record.kind != "transition" or record.trigger not in _PROGRESS_STEPS:
            continue
        percent = 0 if record.trigger == "start" else record.payload.get("percent")
        if isinstance(percent, int) and not isinstance(percent, bool):
            found.append((clock.local(record.at), max(0, min(100, percent)), _PROGRESS_STEPS[record.trigger]))
    if not found:
        return []
    first, span = found[0][0], (found[-1][0] - found[0][0]).total_seconds()
    return [ProgressPoint(at, percent, label, (at - first).total_seconds() / span if span else 0.5)
            for at, percent, label in found]


def _plain(value: Any) -> str:
    return "" if value is None else f"{Decimal(str(value)).normalize():f}"


def leader_home(session: Session, actor: Actor) -> dict[str, Any]:
    """待我审签: self-assessments waiting for my signature, with what was submitted; my targets' progress."""
    mine = list(session.exec(select(Target).where(Target.id.in_(_of("leader", [actor.name])),
                                                  scope.acting(scope.of(session, actor), Target.org_id))
                             .order_by(Target.state_due.is_(None), Target.state_due, Target.id)))
    dressed = items(session, mine, actor)
    waiting = [i for i in dressed if any(a.spec.trigger == "sign" for a in i.actions)]
    submitted = last_self_assessments(session, [i.target.id for i in waiting])
    for item in waiting:
        item.self_assessment = submitted.get(item.target.id, {})
    counts = Counter(i.state_label for i in dressed if i.target.workflow == "target")
    notices = [i for i in dressed if any(a.spec.trigger == "countersign" for a in i.actions)]
    return {"queues": [Queue("to-sign", "待我审签", waiting, "没有待审签的目标。")], "waiting": waiting, "progress": list(counts.items()), "mine": [i for i in dressed if i.target.workflow == "target"],
            "warnings": warned(dressed), "notices": notices}


def office_home(session: Session, actor: Actor) -> dict[str, Any]:
    """The whole plan at a glance: counts by state and section, overdue and supervised lists, queues.

    Everything is of the office's own organisation: its descendants' work is theirs to do (the
    target list reads it)."""
    d = definitions.get("target")
    own = scope.acting(scope.of(session, actor), Target.org_id)
    by_state = dict(session.exec(select(Target.state, func.count()).where(Target.workflow == "target", own)
                                 .group_by(Target.state)).all())
    by_section = session.exec(select(Assignment.name, Target.state, func.count())
                              .join(Target, Target.id == Assignment.target_id)
                              .where(Assignment.kind == "section", Target.workflow == "target", own)
                              .group_by(Assignment.name, Target.state)).all()
    sections: dict[str, Counter] = {}
    for name, state, count in by_section:
        sections.setdefault(name, Counter())[state] += count

    def listed(*conditions) -> list[Target]:
        query = select(Target).where(own, *conditions).order_by(Target.state_due.is_(None), Target.state_due, Target.id)
        return list(session.exec(query.limit(LIST_LIMIT)))

    lists = [listed(Target.workflow == "target", Target.state == "leader_signed"),
             listed(Target.workflow == "target", Target.state == "verified"),
             listed(Target.state_due < clock.today()),
             listed(Target.supervised == True),  # noqa: E712
             listed(Target.workflow == "target", Target.category == "动态工作目标"),
             listed(Target.workflow == "target", Target.risk_level > 0),
             listed(Target.workflow.in_(("supervision", "rectification")), Target.state != "closed")]
    # Dressed once for all the lists (a target is often in several): the same queries whatever their length.
    dressed = {i.target.id: i for i in items(session, list({t.id: t for found in lists for t in found}.values()), actor)}
    verify, score, overdue, supervised, dynamic, risky, notices = ([dressed[t.id] for t in found] for found in lists)
    warnings = warned(risky)
    later = list(d.states)[2:]  # self-assessed and beyond
    months = Counter(f"{i.target.state_due.year}年{i.target.state_due.month}月" for i in overdue if i.target.state_due)
    charts = {
        "states": [(d.state_label(s), by_state.get(s, 0)) for s in d.states],
        "sections": [(name, round(100 * sum(c[s] for s in later) / max(1, sum(c.values())))) for name, c in
                     sorted(sections.items())],
        "overdue": sorted(months.items()),
    }
    return {
        "charts": charts,
        "queues": [Queue("verify", "待核验", verify, "没有待核验的目标。"), Queue("score", "待评分", score, "没有待评分的目标。"),
                   Queue("overdue", "逾期", overdue, "没有逾期的目标。"), Queue("supervised", "督办", supervised, "没有督办的目标。"),
                   Queue("dynamic", "新增动态目标", dynamic, "尚未新增动态目标。")],
        "states": [(s, d.state_label(s), by_state.get(s, 0)) for s in d.states],
        "sections": sorted(sections.items()),
        "state_names": list(d.states),
        "overdue": overdue, "supervised": supervised, "verify": verify, "score": score,
        "warnings": warnings, "notices": notices,
        "plans": list(session.exec(select(Plan).where(scope.acting(scope.of(session, actor), Plan.org_id))
                                   .order_by(Plan.year.desc()))),
        # The organisation's children side by side (排名): one grouped query.
        "ranking": ranking.of(session=session, org_id=actor.org_id) if actor.org_id is not None else [],
    }


def unread(session: Session, user_id: int) -> int:
    return inbox.unread_count(session=session, user_id=user_id)


def follow_ups(session: Session, target: Target, actor: Actor) -> dict[str, Any]:
    """What a target's page shows of supervision: the target a notice or an item concerns, the
    notices and rectification items of a plan target, and whether ``actor`` may add them."""
    from engine.scoring import rectification

    office = "office" in actor.roles
    if target.workflow != "target":
        return {"subject": session.get(Target, target.subject_id) if target.subject_id else None, "related": [],
                "may_issue": False, "may_rectify": False, "shortfalls": []}
    found = list(session.exec(select(Target).where(Target.subject_id == target.id).order_by(Target.id)))
    short = rectification.shortfalls(session, target) if office else []
    return {"subject": None, "related": found, "may_issue": office and not _final(target) and target.state != "scored",
            "may_rectify": bool(short), "shortfalls": short}
