"""The score sheet (评分表): target scores, totals per category, indicator, section and plan, and grades.

Rules (documented in the README, configurable per plan in ``Plan.scoring``):

- A target's score is the office's score (0 to its weight), given with the ``score`` transition
  together with its deductions and bonus items, each with points and a reason. By default
  得分 = 权重 − Σ扣分; a score other than that carries its stated reason (``score_reason``), and
  the deductions never add up to more than the weight (guards in ``engine.workflow.rules``). A target not yet
  scored is shown as such and left out of every total — never counted as zero.
- Bonus items (加分, e.g. an innovation result under 6-5) are listed apart and added to the plan's
  total, which never exceeds 100.
- Totals: per category, per first-level indicator, per section — a target shared by several
  sections counts in full for each of them (the sheet says so) — and for the plan.
- A rate is score ÷ the weight of the scored targets × 100; grades come from bands on that rate
  (defaults: 优秀 ≥ 90, 良好 ≥ 80, 合格 ≥ 60, else 不合格).
- Quantitative indicators suggest a score (指标计分): each indicator carries an equal share of the
  weight; a met indicator earns its share; an unmet one earns, by ``indicator_rule``,
  ``proportional`` — its share times how close the actual value came (numbers only; 0 for dates
  and 长期) — or ``fixed`` — its share less ``fixed_deduction`` points (not below 0). Not reported
  counts as not met. The office sees the suggestion beside its own score.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from sqlmodel import Session, select

from engine.calendar import clock
from engine.workflow import definitions
from engine.people import scope
from engine.people.actors import Actor, Parties
from engine.store.errors import InvalidPayload, NotFound
from engine.plans.indicators import IndicatorError, judge, parse_indicator
from engine.store.models import Indicator, Plan, Target, TransitionRecord
from engine.workflow.targets import parties_for

DEFAULTS: dict[str, Any] = {
    "bands": [[90, "优秀"], [80, "良好"], [60, "合格"], [0, "不合格"]],
    "indicator_rule": "proportional",
    "fixed_deduction": 0.5,
}
PLAN_MAX = Decimal(100)
CENT = Decimal("0.01")


def rules_of(plan: Plan) -> dict[str, Any]:
    return {**DEFAULTS, **(plan.scoring or {})}


def _d(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def grade(rate: Decimal | None, bands: list[list[Any]]) -> str:
    """The grade for a rate (0–100) from bands ``[[floor, name], …]``; "未评定" without a rate."""
    if rate is None:
        return "未评定"
    for floor, name in sorted(bands, key=lambda b: -float(b[0])):
        if rate >= Decimal(str(floor)):
            return name
    return bands[-1][1]


class IndicatorRow(NamedTuple):
    """What the sheet reads of an indicator (a tuple, not a table object: a plan has tens of thousands)."""

    name: str
    raw: str
    actual: str | None


@dataclass
class Line:
    """One target on the sheet."""

    target: Target
    parties: Parties
    state_label: str
    scored: bool
    score: Decimal | None
    self_score: Decimal | None
    deductions: list[dict[str, Any]] = field(default_factory=list)
    bonus: list[dict[str, Any]] = field(default_factory=list)
    indicator_score: Decimal | None = None
    unmet: list[str] = field(default_factory=list)
    score_reason: str = ""  # why the office's score is not 权重 − Σ扣分
    #: The target's quantitative indicators in order, each with whether its actual meets it (``None``: not
    #: reported, or not readable), as read and judged once for the sheet (the report lists them).
    indicators: list[tuple[IndicatorRow, bool | None]] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        return len(self.parties.sections) > 1

    @property
    def bonus_points(self) -> Decimal:
        return sum((_d(b["points"]) for b in self.bonus), Decimal(0))

    @property
    def deducted(self) -> Decimal:
        return sum((_d(d["points"]) for d in self.deductions), Decimal(0))

    @property
    def by_deductions(self) -> Decimal:
        """得分 = 权重 − Σ扣分: the score the deductions leave (the default score)."""
        return _d(self.target.weight) - self.deducted


@dataclass
class Total:
    """A total over some lines: all the weight, the scored weight, the score, its rate and grade."""

    name: str
    weight: Decimal = Decimal(0)
    points: Decimal | None = None  # as the plan writes it (categories, indicators)
    scored_weight: Decimal = Decimal(0)
    score: Decimal = Decimal(0)
    bonus: Decimal = Decimal(0)
    targets: int = 0
    scored: int = 0
    rate: Decimal | None = None
    grade: str = "未评定"


@dataclass
class Sheet:
    plan: Plan
    lines: list[Line]
    categories: list[Total]
    indicators: list[Total]
    sections: list[Total]
    total: Total
    rules: dict[str, Any]
    taken_at: datetime


def _indicator_score(target: Target, rows: list[IndicatorRow], year: int, rules: dict[str, Any]
                     ) -> tuple[Decimal | None, list[str], list[tuple[IndicatorRow, bool | None]]]:
    """The score the indicators suggest, the names of those not met, and each row with whether it is met."""
    if not rows:
        return None, [], []
    share, earned, unmet, judged = Decimal(str(target.weight)) / len(rows), Decimal(0), [], []
    for row in rows:
        spec = parse_indicator(row.raw, year)
        try:
            met, value = judge(spec, row.actual)
        except IndicatorError:  # an actual that cannot be read counts as not met; the report says 未报告
            judged.append((row, None))
            met, value = False, None
        else:
            judged.append((row, met))
        if met:
            earned += share
            continue
        unmet.append(row.name)
        if rules["indicator_rule"] == "fixed":
            earned += max(Decimal(0), share - Decimal(str(rules["fixed_deduction"])))
        elif met is False and spec.value and spec.comparator in ("ge", "gt", "le", "lt", "between"):
            earned += share * _closeness(spec, value)
    return _d(earned), unmet, judged


def _closeness(spec, value: Decimal | None) -> Decimal:
    """How close an unmet numeric actual (``value``, in the target's unit) came to its target, 0–1
    (``None``: another unit, or no number: nothing to measure)."""
    if value is None:
        return Decimal(0)
    target = spec.value
    if spec.comparator in ("ge", "gt", "between"):
        ratio = value / target if target else Decimal(0)
    else:
        ratio = target / value if value else Decimal(0)
    return max(Decimal(0), min(Decimal(1), ratio))


def _last_scores(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The payload of each target's latest ``score`` record."""
    found: dict[int, dict[str, Any]] = {}
    if ids:
        rows = session.exec(select(TransitionRecord.target_id, TransitionRecord.payload)
                            .where(TransitionRecord.target_id.in_(ids), TransitionRecord.trigger == "score")
                            .order_by(TransitionRecord.id))
        for target_id, payload in rows:
            found[target_id] = payload
    return found


def _add(total: Total, line: Line, weight: Decimal, bonus: Decimal) -> None:
    """Counts ``line`` (its ``weight`` and ``bonus`` points, read once for all its totals) in ``total``."""
    total.weight += weight
    total.targets += 1
    if line.scored:
        total.scored += 1
        total.scored_weight += weight
        total.score += line.score
        total.bonus += bonus


def _finish(total: Total, bands, *, cap: Decimal | None = None) -> Total:
    if cap is not None:
        total.score = min(cap, total.score + total.bonus)
    if total.scored_weight:  # a bonus never lifts a rate past 100
        total.rate = min(Decimal(100), _d(total.score / total.scored_weight * 100)).quantize(CENT)
    total.grade = grade(total.rate, bands)
    return total


def sheet(*, session: Session, plan_id: int, actor: Actor | None = None) -> Sheet:
    """The score sheet of a plan as it stands now (``taken_at`` says when), for ``actor`` if they read
    its organisation (:class:`NotFound` otherwise; ``None``: the system)."""
    plan = session.get(Plan, plan_id)
    if plan is None or not scope.may_read(session, actor, plan.org_id):
        raise NotFound(f"计划 {plan_id} 不存在", plan_id=plan_id)
    rules = rules_of(plan)
    found = list(session.exec(select(Target).where(Target.plan_id == plan_id, Target.workflow == "target")))
    from engine.plans.exporter import code_key

    found.sort(key=lambda t: code_key(t.code))
    ids = [t.id for t in found]
    parties, scores = parties_for(session, ids), _last_scores(session, ids)
    indicators: dict[int, list[IndicatorRow]] = defaultdict(list)
    for target_id, *row in session.exec(select(Indicator.target_id, Indicator.name, Indicator.raw, Indicator.actual)
                                        .where(Indicator.target_id.in_(ids)).order_by(Indicator.position)) if ids else []:
        indicators[target_id].append(IndicatorRow(*row))
    d = definitions.get("target")
    lines = []
    for t in found:
        scored = t.state == "scored" and t.score is not None
        payload = scores.get(t.id, {}) if scored else {}
        suggestion, unmet, judged = _indicator_score(t, indicators[t.id], plan.year, rules)
        lines.append(Line(t, parties[t.id], d.state_label(t.state), scored, _d(t.score) if scored else None,
                          _d(t.self_score) if t.self_score is not None else None,
                          list(payload.get("deductions") or []), list(payload.get("bonus") or []), suggestion, unmet,
                          str(payload.get("score_reason") or ""), judged))
    categories: dict[str, Total] = {}
    groups: dict[str, Total] = {}
    sections: dict[str, Total] = {}
    total = Total(name=plan.title, points=PLAN_MAX)
    for line in lines:
        t = line.target
        weight, bonus = Decimal(str(t.weight)), line.bonus_points if line.scored else Decimal(0)
        if t.category not in categories:
            categories[t.category] = Total(t.category, points=_maybe(plan.categories.get(t.category)))
        if t.indicator not in groups:  # its points as its first target gives them
            groups[t.indicator] = Total(t.indicator, points=_maybe(t.indicator_points))
        for bucket in (categories[t.category], groups[t.indicator], total):
            _add(bucket, line, weight, bonus)
        for name in line.parties.sections:  # shared targets count in full for every section
            if name not in sections:
                sections[name] = Total(name)
            _add(sections[name], line, weight, bonus)
    bands = rules["bands"]
    return Sheet(plan, lines, [_finish(c, bands) for c in categories.values()],
                 [_finish(g, bands) for g in groups.values()],
                 sorted((_finish(s, bands) for s in sections.values()),
                        key=lambda s: (s.rate is None, -(s.rate or 0), s.name)),
                 _finish(total, bands, cap=PLAN_MAX), rules, clock.now())


def _maybe(value: Any) -> Decimal | None:
    return None if value is None else _d(value)


def set_rules(*, session: Session, plan_id: int, bands: list[list[Any]] | None = None,
              indicator_rule: str | None = None, fixed_deduction: float | None = None) -> Plan:
    """Change how a plan is scored; commits."""
    from engine.store import db

    db.begin_write(session)
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"计划 {plan_id} 不存在", plan_id=plan_id)
    rules = dict(plan.scoring or {})
    if bands is not None:
        try:
            cleaned = sorted(([float(floor), str(name)] for floor, name in bands), key=lambda b: -b[0])
        except (TypeError, ValueError) as exc:
            raise InvalidPayload("等级应为 [下限, 名称] 的列表", errors=[{"field": "bands", "reason": str(exc)}]) from exc
        if not cleaned or cleaned[-1][0] != 0 or any(not 0 <= b[0] <= 100 for b in cleaned):
            raise InvalidPayload("等级下限应在 0–100 之间，且最低一档从 0 起", errors=[{"field": "bands", "reason": "范围"}])
        rules["bands"] = cleaned
    if indicator_rule is not None:
        if indicator_rule not in ("proportional", "fixed"):
            raise InvalidPayload("指标计分规则应为 proportional 或 fixed", errors=[{"field": "indicator_rule", "reason": ""}])
        rules["indicator_rule"] = indicator_rule
    if fixed_deduction is not None:
        rules["fixed_deduction"] = float(fixed_deduction)
    plan.scoring = rules
    session.add(plan)
    session.commit()
    return plan
