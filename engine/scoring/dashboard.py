"""What each person's home page shows: the engine's reading of the plan for one actor."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import and_, case, exists, false, func, not_, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from engine.calendar import clock
from engine.calendar.workdays import workdays_between
from engine.workflow import commands, definitions, rules
from engine.people import inbox, scope
from engine.scoring import ranking
from engine.people.actors import Actor, Parties
from engine.store.models import Assignment, Plan, Signature, Target, TransitionRecord
from engine.workflow import targets
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
    #: How many there are in all when ``items`` are only the first of them (``None``: all are here).
    total: int | None = None
    #: The target list's parameters that list them all, filtered the same way (查看全部).
    query: dict[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.items) if self.total is None else self.total

    @property
    def more(self) -> bool:
        """Whether there are more than the list shows."""
        return self.count > len(self.items)


def narrow(queues: list[Queue], *, q: str = "", section: str = "") -> list[Queue]:
    """The queues with only the items that match a code or words (``q``) and a section (the home filter bar)."""
    q, section = (q or "").strip(), (section or "").strip()

    def keep(item: Item) -> bool:
        return (not q or q in item.target.code or q in item.target.text) and \
            (not section or section in item.parties.sections)

    return [Queue(x.key, x.label, [i for i in x.items if keep(i)], x.empty) for x in queues] if q or section else queues


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


def _by_due(query):
    return query.order_by(Target.state_due.is_(None), Target.state_due, Target.id)


@cache
def _returned_ids():
    """The targets whose latest transition sent them back (退回 by a leader or the office), as a subquery:
    the records of those triggers (by their index; returns are few) that no later transition follows.
    Built once (it takes nothing, and a statement is never changed once made)."""
    record, later = aliased(TransitionRecord), aliased(TransitionRecord)
    return select(record.target_id).where(
        record.trigger.in_(("return", "send_back")), record.kind == "transition", record.target_id.is_not(None),
        ~exists().where(later.target_id == record.target_id, later.kind == "transition", later.id > record.id))


def _states_leaving_by(trigger: str):
    """The (workflow, state) pairs a ``trigger`` of a shipped workflow leaves, as a condition on the target."""
    pairs = [and_(Target.workflow == name, Target.state.in_(sorted({s for spec in d.transitions if spec.trigger == trigger
                                                                      for s in spec.sources})))
             for name, d in definitions.shipped().items() if any(spec.trigger == trigger for spec in d.transitions)]
    return or_(*pairs) if pairs else false()


def _open_follow_up():
    """A target of another workflow than the plan's (report, notice, rectification) not in a final state."""
    finals = [and_(Target.workflow == name, Target.state.in_([s for s, spec in d.states.items() if spec.final]))
              for name, d in definitions.shipped().items() if name != "target"]
    return and_(Target.workflow != "target", not_(or_(*finals))) if finals else Target.workflow != "target"


def narrowing(q: str = "", section: str = "") -> list:
    """The home filter bar's conditions (a code or words, a section), as the target list reads them."""
    return targets.conditions(targets.TargetFilter(q=(q or "").strip() or None, section=(section or "").strip() or None))


@dataclass(frozen=True)
class QueueSpec:
    """One of a person's home lists: its key (also the target list's ``queue``), label, role, what is empty."""

    key: str
    label: str
    role: str
    empty: str
    order: str = "due"  # or "risk": the most serious warning first
    #: Of the plan's own targets only (the workflow ``target``); else of every workflow (审签, reports, 督办单).
    plan: bool = True


QUEUES = {q.key: q for q in (
    QueueSpec("to-start", "待开始", "staff", "没有待开始的目标。"),
    QueueSpec("going", "推进中", "staff", "没有推进中的目标。"),
    QueueSpec("to-assess", "待自评", "staff", f"没有 {DUE_SOON_DAYS} 天内到期、需要自评的目标。"),
    QueueSpec("returned", "被退回", "staff", "没有被退回的目标。"),
    QueueSpec("overdue", "逾期", "staff", "没有逾期的目标。"),
    QueueSpec("due-soon", f"临近期限（{DUE_SOON_DAYS} 天内）", "staff", "无"),
    QueueSpec("supervised", "督办", "staff", "无"),
    QueueSpec("section-targets", "本科室目标", "staff", "无"),
    QueueSpec("reports", "定期报告、督办单与整改", "staff", "无", plan=False),
    QueueSpec("warnings", "预警", "staff", "没有预警的目标。", "risk"),
    QueueSpec("to-sign", "待我审签", "leader", "没有待审签的目标。", plan=False),
    QueueSpec("notices-to-sign", "待审签的督办回复", "leader", "无", plan=False),
    QueueSpec("led", "我分管目标的进展", "leader", "无"),
    QueueSpec("led-warnings", "预警（我分管的目标）", "leader", "没有预警的目标。", "risk"),
)}


def _signed_by(name: str):
    return exists().where(Signature.target_id == Target.id, Signature.signer == name)


def queue_conditions(session: Session, actor: Actor, key: str) -> list | None:
    """The SQL conditions of one of ``actor``'s home lists (:data:`QUEUES`), the same for the home page and the
    target list it links to; ``None`` if ``actor`` has no such list."""
    spec = QUEUES.get(key)
    if spec is None or spec.role not in actor.roles:
        return None
    mine = _mine(session, actor, spec.role)
    return mine + _within(session, actor, key, mine)


def _mine(session: Session, actor: Actor, role: str) -> list:
    """The targets a role's lists are taken from: my sections' (staff) or those I lead (leader), of my organisation."""
    own = scope.acting(scope.of(session, actor), Target.org_id)
    if role == "leader":
        return [Target.id.in_(_of("leader", [actor.name])), own]
    return [Target.id.in_(_of("section", actor.sections)), own]


def _within(session: Session, actor: Actor, key: str, mine: list) -> list:
    """What one list keeps of :func:`_mine` (only that list's conditions are built: some are subqueries)."""
    plan = [Target.workflow == "target"] if QUEUES[key].plan else []
    if QUEUES[key].role == "leader":
        return plan + {
            "to-sign": lambda: [_states_leaving_by("sign"), not_(_signed_by(actor.name))],
            "notices-to-sign": lambda: [_states_leaving_by("countersign"), not_(_signed_by(actor.name))],
            "led": lambda: [],
            "led-warnings": lambda: [Target.risk_level > 0],
        }[key]()
    today = clock.today()
    soon = today + timedelta(days=DUE_SOON_DAYS)
    going = [Target.state == "in_progress"]
    return plan + {
        "to-start": lambda: [Target.state == "assigned"],
        "going": lambda: going + [Target.id.not_in(_returned_ids()),
                                  or_(Target.state_due.is_(None), Target.state_due > soon)],
        "to-assess": lambda: going + [Target.id.not_in(_returned_ids()), Target.state_due <= soon],
        "returned": lambda: going + [Target.id.in_(_returned_ids())],
        "overdue": lambda: [Target.state_due < today],
        "due-soon": lambda: [Target.state_due >= today, Target.state_due <= soon],
        "supervised": lambda: [Target.id.in_(_supervised_ids(session, actor, mine))],
        "section-targets": lambda: [],
        "reports": lambda: [_open_follow_up()],
        "warnings": lambda: [Target.risk_level > 0],
    }[key]()


def _supervised_ids(session: Session, actor: Actor, mine: list) -> list[int]:
    """My sections' targets under 督办 against my sections (a leader's late signature is the leader's, not
    ours): read as ids and whom each is against (督办 is of few targets), judged here."""
    found = session.exec(select(Target.id, Target.supervised_against)
                         .where(*mine, Target.workflow == "target", Target.supervised == True))  # noqa: E712
    return [i for i, against in found if not against or actor.sections & set(against)]


def queue_query(key: str, q: str = "", section: str = "", state: str = "") -> dict[str, str]:
    """The target list's parameters that list one home list in all, filtered the same way (查看全部)."""
    query = {"queue": key, "workflow": "target" if QUEUES[key].plan else "",
             "q": q, "section": section, "state": state}
    return {k: v for k, v in query.items() if v or k == "workflow"}


def _listed(session: Session, conditions: list, order: str = "due") -> list[Target]:
    query = select(Target).where(*conditions)
    query = query.order_by(Target.risk_level.desc(), Target.code, Target.id) if order == "risk" else _by_due(query)
    return list(session.exec(query.limit(LIST_LIMIT)))


def _queues(session: Session, actor: Actor, keys: list[str], narrowed: list) -> tuple[dict[str, list[Target]], dict[str, int]]:
    """The first :data:`LIST_LIMIT` targets of each list (all of one role), by its own query, and how many each
    has: every list is the person's targets narrowed, so one pass over them counts them all."""
    mine = _mine(session, actor, QUEUES[keys[0]].role) + narrowed
    within = {key: _within(session, actor, key, mine) for key in keys}
    listed = {key: _listed(session, mine + found, QUEUES[key].order) for key, found in within.items()}
    sums = [func.coalesce(func.sum(case((and_(*found), 1), else_=0)), 0) for found in within.values()]
    totals = session.exec(select(*sums).where(*mine)).one()
    return listed, dict(zip(keys, totals, strict=True))


def _dressed(session: Session, lists: dict[str, list[Target]], actor: Actor) -> dict[str, list[Item]]:
    # Dressed once for all the lists (a target is often in several): the same queries whatever their length.
    every = list({t.id: t for found in lists.values() for t in found}.values())
    dressed = {i.target.id: i for i in items(session, every, actor)}
    return {key: [dressed[t.id] for t in found] for key, found in lists.items()}


def _queue(key: str, found: list[Item], total: int, q: str, section: str) -> Queue:
    spec = QUEUES[key]
    return Queue(key, spec.label, found, spec.empty, total=total, query=queue_query(key, q, section))


def _state_counts(session: Session, conditions: list) -> list[tuple[str, str, int]]:
    """(state, label, how many) of the plan's workflow, in its order, of the targets ``conditions`` keep."""
    d = definitions.get("target")
    found = dict(session.exec(select(Target.state, func.count()).where(*conditions).group_by(Target.state)).all())
    return [(s, d.state_label(s), found[s]) for s in d.states if found.get(s)]


def staff_home(session: Session, actor: Actor, *, q: str = "", section: str = "") -> dict[str, Any]:
    """My sections' targets: the work queues, overdue, due soon, supervised, warnings, counts by state; my
    report items. Each list is its first :data:`LIST_LIMIT` targets and how many there are in all; narrowed by
    a code or words (``q``) and a section as the target list narrows."""
    narrowed = narrowing(q, section)
    keys = ["to-start", "going", "to-assess", "returned", "overdue", "due-soon", "supervised", "reports", "warnings"]
    lists, totals = _queues(session, actor, keys, narrowed)
    dressed = _dressed(session, lists, actor)
    queues = {key: _queue(key, dressed[key], totals[key], q, section) for key in keys}
    mine = queue_conditions(session, actor, "section-targets") + narrowed
    return {
        "queues": [queues[k] for k in ("to-start", "going", "to-assess", "returned")],
        "lists": queues,
        "by_state": [(label, n, queue_query("section-targets", q, section, state))
                     for state, label, n in _state_counts(session, mine)],
        "overdue": dressed["overdue"], "due_soon": dressed["due-soon"], "supervised": dressed["supervised"],
        "reports": dressed["reports"], "warnings": dressed["warnings"],
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


def leader_home(session: Session, actor: Actor, *, q: str = "", section: str = "") -> dict[str, Any]:
    """待我审签: self-assessments waiting for my signature, with what was submitted; my targets' progress.
    Each list is its first :data:`LIST_LIMIT` targets and how many there are in all."""
    narrowed = narrowing(q, section)
    keys = ["to-sign", "notices-to-sign", "led", "led-warnings"]
    lists, totals = _queues(session, actor, keys, narrowed)
    dressed = _dressed(session, lists, actor)
    # What the engine says the leader may do (a guard or the separation of duties may still say no).
    waiting = [i for i in dressed["to-sign"] if any(a.spec.trigger == "sign" for a in i.actions)]
    notices = [i for i in dressed["notices-to-sign"] if any(a.spec.trigger == "countersign" for a in i.actions)]
    totals["to-sign"] -= len(dressed["to-sign"]) - len(waiting)
    totals["notices-to-sign"] -= len(dressed["notices-to-sign"]) - len(notices)
    submitted = last_self_assessments(session, [i.target.id for i in waiting])
    for item in waiting:
        item.self_assessment = submitted.get(item.target.id, {})
    dressed.update({"to-sign": waiting, "notices-to-sign": notices})
    queues = {key: _queue(key, dressed[key], totals[key], q, section) for key in keys}
    led = queue_conditions(session, actor, "led") + narrowed
    return {"queues": [queues["to-sign"]], "lists": queues, "waiting": waiting,
            "progress": [(label, n) for _, label, n in _state_counts(session, led)],
            "mine": dressed["led"], "warnings": dressed["led-warnings"], "notices": notices}


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
