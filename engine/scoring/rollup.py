"""Rolling up (汇总): a target handed down to child organisations shows each child's state, progress,
indicator values and score, and takes its own progress, indicator actuals and suggested score from them.

The rule is the target's ``rollup`` or, when it has none, the plan's (``Plan.scoring["rollup"]``), else
:data:`DEFAULT_RULE`:

- ``all`` (全部完成): each child counts once it is verified; progress and score are the share of children
  that are (a child not finished earns nothing); indicator actuals are the children's sum;
- ``average`` (平均): the mean of the children's progress, score rates and indicator actuals;
- ``minimum`` (取最低): the lowest of each;
- ``weighted`` (加权): the mean weighted by each child's ``rollup_weight`` (a child without one weighs 1).

A score rate is a child's score over its weight. The suggested score is the parent's weight times the
rolled-up rate, given only when every child is scored (``all``: verified); until then it is ``None``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session, select

from engine.plans.indicators import IndicatorError, in_target_unit, parse_indicator
from engine.store.models import Indicator, Organisation, Plan, Target
from engine.workflow import definitions
from engine.workflow.rules import CHILD_FINISHED

RULES = {"all": "全部完成", "average": "平均", "minimum": "取最低", "weighted": "加权"}
DEFAULT_RULE = "average"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ChildLine:
    """One child organisation's target as its parent shows it."""

    target_id: int
    org_id: int
    organisation: str
    state: str
    state_label: str
    progress: int
    finished: bool
    weight: Decimal
    rollup_weight: Decimal
    score: Decimal | None
    indicators: dict[str, str | None]


@dataclass(frozen=True)
class Rollup:
    rule: str
    rule_label: str
    children: list[ChildLine]
    progress: int
    finished: int
    scored: int
    indicators: dict[str, Decimal | None] = field(default_factory=dict)
    suggested_score: Decimal | None = None


def rule_of(target: Target, plan: Plan) -> str:
    """The roll-up rule that applies to ``target``."""
    return target.rollup or (plan.scoring or {}).get("rollup") or DEFAULT_RULE


def _combine(rule: str, values: Sequence[Decimal], weights: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    if rule == "all":
        return sum(values, Decimal(0))
    if rule == "minimum":
        return min(values)
    if rule == "weighted":
        total = sum(weights, Decimal(0))
        return sum((v * w for v, w in zip(values, weights, strict=True)), Decimal(0)) / total if total else None
    return sum(values, Decimal(0)) / len(values)


def _progress(rule: str, lines: Sequence[ChildLine]) -> int:
    if rule == "all":
        return round(100 * sum(line.finished for line in lines) / len(lines))
    done = [Decimal(100 if line.finished else line.progress) for line in lines]
    value = _combine(rule, done, [line.rollup_weight for line in lines])
    return int(value.quantize(Decimal(1), ROUND_HALF_UP)) if value is not None else 0


def _suggested(rule: str, parent: Target, lines: Sequence[ChildLine]) -> Decimal | None:
    weight = Decimal(str(parent.weight))
    if rule == "all":
        if not all(line.finished for line in lines):
            return None
        rate = Decimal(sum(line.finished for line in lines)) / len(lines)
    else:
        if any(line.score is None for line in lines):
            return None
        rates = [line.score / line.weight if line.weight else Decimal(0) for line in lines]
        rate = _combine(rule, rates, [line.rollup_weight for line in lines])
    return (weight * rate).quantize(CENT, ROUND_HALF_UP) if rate is not None else None


def _indicator_values(rule: str, lines: Sequence[ChildLine], raws: dict[str, str], year: int) -> dict[str, Decimal | None]:
    out: dict[str, Decimal | None] = {}
    for name, raw in raws.items():
        spec = parse_indicator(raw, year)
        values, weights = [], []
        for line in lines:
            actual = line.indicators.get(name)
            if actual in (None, ""):
                continue
            try:
                values.append(in_target_unit(spec, actual))
            except IndicatorError:  # a date or a word: shown per child, not added up
                continue
            weights.append(line.rollup_weight)
        value = _combine(rule, values, weights) if len(values) == len(lines) or rule != "all" else None
        out[name] = value.quantize(CENT, ROUND_HALF_UP) if value is not None else None
    return out


def of(*, session: Session, target: Target) -> Rollup | None:
    """The roll-up of ``target`` from the targets handed down from it; ``None`` if it handed none down.
    Four queries whatever the number of children (the children with their organisations, their indicators,
    the plan, the parent's indicators)."""
    rows = session.exec(select(Target, Organisation.name).join(Organisation, Organisation.id == Target.org_id)
                        .where(Target.parent_id == target.id).order_by(Organisation.path)).all()
    if not rows:
        return None
    actuals: dict[int, dict[str, str | None]] = {child.id: {} for child, _ in rows}
    for target_id, name, actual in session.exec(select(Indicator.target_id, Indicator.name, Indicator.actual)
                                                .where(Indicator.target_id.in_(list(actuals)))):
        actuals[target_id][name] = actual
    lines = []
    for child, organisation in rows:
        definition = definitions.get(child.workflow)
        lines.append(ChildLine(
            target_id=child.id, org_id=child.org_id, organisation=organisation, state=child.state,
            state_label=definition.state_label(child.state), progress=child.progress,
            finished=child.state in CHILD_FINISHED, weight=Decimal(str(child.weight)),
            rollup_weight=Decimal(str(child.rollup_weight)) if child.rollup_weight is not None else Decimal(1),
            score=Decimal(str(child.score)) if child.score is not None else None, indicators=actuals[child.id]))
    plan = session.get(Plan, target.plan_id)
    rule = rule_of(target, plan)
    raws = dict(session.exec(select(Indicator.name, Indicator.raw).where(Indicator.target_id == target.id)
                             .order_by(Indicator.position)).all())
    return Rollup(rule=rule, rule_label=RULES.get(rule, rule), children=lines, progress=_progress(rule, lines),
                  finished=sum(line.finished for line in lines), scored=sum(line.score is not None for line in lines),
                  indicators=_indicator_values(rule, lines, raws, plan.year),
                  suggested_score=_suggested(rule, target, lines))

