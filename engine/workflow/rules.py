"""Named guards and effects that workflow definitions may refer to.

A definition names a guard or an effect; the name resolves to a function registered here.
Nothing from YAML is ever evaluated as code. A guard returns ``None`` when the transition
may go ahead, or the reason it may not (Chinese, shown to the person who tried). An effect
changes the target (or rows that hang off it) as part of the transition; it flushes, it
never commits.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, delete, select

from engine.people.roles import ACTING_ROLES, ROLES, SYSTEM_ROLE  # noqa: F401  (re-exported for definitions)
from engine.store.models import Indicator, Organisation, Plan, Signature, Target, TransitionRecord

if TYPE_CHECKING:
    from engine.people.actors import Actor
    from engine.workflow.definitions import Definition, TransitionSpec


#: Whom a definition may name as recipients of a notification.
RECIPIENTS = {
    "responsible": "科室责任人",
    "sections": "责任科室",
    "leaders": "分管领导",
    "office": "绩效办",
}


@dataclass
class Context:
    """Everything a guard or an effect may look at during one transition."""

    session: Session
    target: Target
    definition: Definition
    transition: TransitionSpec
    actor: Actor
    role: str
    payload: dict[str, Any]
    comment: str
    at: datetime
    leaders: list[str] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)  # signatures an effect cleared
    #: What the payload-free guards would read, read beforehand for a whole list (:func:`facts_for`).
    facts: ListFacts | None = None


@dataclass(frozen=True)
class ListFacts:
    """What the payload-free guards read about a page of targets, in two queries for the page instead of
    two per row: the targets with a child not yet finished, and when the office allowed each an early
    self-assessment. A target not ``covered`` is read by the guard itself."""

    covered: frozenset[int]
    pending_children: frozenset[int]
    allowed_at: dict[int, list[datetime]]

    def knows(self, target: Target) -> bool:
        return target.id in self.covered

    @classmethod
    def settled(cls, target_id: int) -> ListFacts:
        """A target none of whose children is still open (the guards need read nothing more about it)."""
        return cls(frozenset({target_id}), frozenset(), {})


Guard = Callable[[Context], str | None]
Effect = Callable[[Context], None]
GUARDS: dict[str, Guard] = {}
EFFECTS: dict[str, Effect] = {}
#: Guards that judge without the payload, so they can tell beforehand whether an action is open.
PAYLOAD_FREE: set[str] = set()


def guard(name: str, *, needs_payload: bool = True) -> Callable[[Guard], Guard]:
    """Register a guard under ``name``."""

    def register(func: Guard) -> Guard:
        GUARDS[name] = func
        if not needs_payload:
            PAYLOAD_FREE.add(name)
        return func

    return register


def effect(name: str) -> Callable[[Effect], Effect]:
    """Register an effect under ``name``."""

    def register(func: Effect) -> Effect:
        EFFECTS[name] = func
        return func

    return register


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _within_weight(ctx: Context, name: str, label: str) -> str | None:
    value = _decimal(ctx.payload[name])
    if value < 0 or value > ctx.target.weight:
        return (f"{label}应在 0 到权重分值 {_show(_decimal(ctx.target.weight))} 之间（满分 "
                f"{_show(_decimal(ctx.target.weight))} 分），实际为 {_show(value)}")
    return None


#: The form field each payload guard speaks about, so that its refusal is shown beside that field.
GUARD_FIELDS = {"self_score_within_weight": "self_score", "score_within_weight": "score",
                "deductions_within_weight": "deductions", "score_follows_deductions": "score_reason",
                "deductions_have_reasons": "deductions", "bonus_have_reasons": "bonus",
                "indicators_known": "indicators"}


def field_errors(details: dict[str, Any], message: str) -> dict[str, str]:
    """Field → reason, from the details of an :class:`InvalidPayload` (its ``errors``) or of a
    :class:`GuardFailed` (its ``guard``, whose ``message`` is the reason)."""
    found = {str(e.get("field")): str(e.get("reason")) for e in details.get("errors") or [] if isinstance(e, dict)}
    field = GUARD_FIELDS.get(str(details.get("guard")))
    if field:
        found.setdefault(field, message)
    return found


@guard("self_score_within_weight")
def _self_score_within_weight(ctx: Context) -> str | None:
    return _within_weight(ctx, "self_score", "自评分")


@guard("score_within_weight")
def _score_within_weight(ctx: Context) -> str | None:
    if ctx.payload.get("score") is None:  # left to the arithmetic: weight less deductions
        return None
    return _within_weight(ctx, "score", "评分")


def deducted(payload: dict[str, Any]) -> Decimal:
    """Σ扣分 of a score payload whose deductions passed ``deductions_have_reasons``."""
    return sum((_decimal(item["points"]) for item in payload.get("deductions") or []), Decimal(0))


def score_by_deductions(target: Target, payload: dict[str, Any]) -> Decimal:
    """得分 = 权重 − Σ扣分: the score a target earns by its deductions."""
    return _decimal(target.weight) - deducted(payload)


def _show(value: Decimal) -> str:
    return f"{value.normalize():f}"


@guard("deductions_within_weight")
def _deductions_within_weight(ctx: Context) -> str | None:
    total = deducted(ctx.payload)
    if total > _decimal(ctx.target.weight):
        return f"扣分合计 {_show(total)} 分超过权重分值 {_show(_decimal(ctx.target.weight))} 分"
    return None


@guard("score_follows_deductions")
def _score_follows_deductions(ctx: Context) -> str | None:
    """A score other than 权重 − Σ扣分 needs its reason (``score_reason``), which the chain keeps."""
    given = ctx.payload.get("score")
    if given is None:
        return None
    expected = score_by_deductions(ctx.target, ctx.payload)
    reason = ctx.payload.get("score_reason")
    if _decimal(given) != expected and not (isinstance(reason, str) and reason.strip()):
        return (f"得分 {_show(_decimal(given))} 与 权重 {_show(_decimal(ctx.target.weight))} − 扣分 "
                f"{_show(deducted(ctx.payload))} = {_show(expected)} 不一致：请填写扣分项，或说明得分的理由")
    return None


def _points_with_reasons(ctx: Context, name: str, label: str) -> str | None:
    for number, item in enumerate(ctx.payload.get(name) or [], start=1):
        if not isinstance(item, dict):
            return f"第 {number} 项{label}应包含分值和理由"
        points, reason = item.get("points"), item.get("reason")
        if isinstance(points, str):  # a line of the form's box whose points could not be read
            return f"第 {number} 项{label}“{points}”读不出分值，请写作“0.5 理由”或“扣0.5分，理由”"
        if isinstance(points, bool) or not isinstance(points, int | float) or not math.isfinite(points) or points <= 0:
            return f"第 {number} 项{label}的分值应为正数"
        if points > ctx.target.weight:
            return f"第 {number} 项{label}的分值不能超过权重分值 {ctx.target.weight}"
        if not isinstance(reason, str) or not reason.strip():
            return f"第 {number} 项{label}缺少理由"
    return None


@guard("deductions_have_reasons")
def _deductions_have_reasons(ctx: Context) -> str | None:
    return _points_with_reasons(ctx, "deductions", "扣分")


@guard("bonus_have_reasons")
def _bonus_have_reasons(ctx: Context) -> str | None:
    return _points_with_reasons(ctx, "bonus", "加分")


@guard("not_signed_yet", needs_payload=False)
def _not_signed_yet(ctx: Context) -> str | None:
    if ctx.actor.name in ctx.signers:
        return f"{ctx.actor.name} 已审签过该目标"
    return None


def _reported_indicators(ctx: Context) -> dict[str, Any]:
    return ctx.payload.get("indicators") or {}


#: Readers of reported indicator values, registered by the wing that knows indicators
#: (``engine.plans.indicators``): (target value as written, reported value, plan year) → why
#: the report cannot stand (a unit other than the target's), or None.
INDICATOR_READERS: list[Callable[[str, Any, int], str | None]] = []


@guard("checkpoint_known")
def _checkpoint_known(ctx: Context) -> str | None:
    """A progress report made against a checkpoint (节点) names one of the target's."""
    named = ctx.payload.get("checkpoint")
    if not named:
        return None
    days = [str(c.get("date") if isinstance(c, dict) else c)[:10] for c in ctx.target.checkpoints or []]
    if str(named)[:10] not in days:
        return f"该目标没有 {named} 的节点（已有：{'、'.join(sorted(days)) or '无'}）"
    return None


@guard("indicators_known")
def _indicators_known(ctx: Context) -> str | None:
    reported = _reported_indicators(ctx)
    if not reported:
        return None
    raws = dict(ctx.session.exec(select(Indicator.name, Indicator.raw).where(Indicator.target_id == ctx.target.id)).all())
    names = set(raws)
    unknown = [name for name in reported if name not in names]
    if unknown:
        return f"该目标没有指标：{'、'.join(unknown)}（已有：{'、'.join(sorted(names)) or '无'}）"
    too_long = [name for name, value in reported.items() if len(str(value)) > 200]
    if too_long:
        return f"指标实际值过长：{'、'.join(too_long)}"
    year = ctx.session.get(Plan, ctx.target.plan_id).year if INDICATOR_READERS else 0
    for name, value in reported.items():
        for read in INDICATOR_READERS:
            problem = read(raws[name], value, year)
            if problem:
                return f"指标“{name}”：{problem}"
    return None


@effect("record_indicators")
def _record_indicators(ctx: Context) -> None:
    reported = _reported_indicators(ctx)
    if not reported:
        return
    for indicator in ctx.session.exec(select(Indicator).where(Indicator.target_id == ctx.target.id)):
        if indicator.name in reported:
            indicator.actual = str(reported[indicator.name])
            indicator.reported_at = ctx.at
            ctx.session.add(indicator)


@effect("record_progress")
def _record_progress(ctx: Context) -> None:
    ctx.target.progress = int(ctx.payload["percent"])


@effect("record_self_score")
def _record_self_score(ctx: Context) -> None:
    ctx.target.self_score = _decimal(ctx.payload["self_score"])


@effect("record_score")
def _record_score(ctx: Context) -> None:
    if ctx.payload.get("score") is None:  # the default, written into the payload so the chain holds it
        value = score_by_deductions(ctx.target, ctx.payload)
        ctx.payload["score"] = int(value) if value == value.to_integral_value() else float(value)
    ctx.target.score = _decimal(ctx.payload["score"])


@effect("clear_score")
def _clear_score(ctx: Context) -> None:
    ctx.target.score = None


@effect("clear_signatures")
def _clear_signatures(ctx: Context) -> None:
    ctx.voided = signers_of(ctx.session, ctx.target.id)
    ctx.session.exec(delete(Signature).where(Signature.target_id == ctx.target.id))
    ctx.signers.clear()


#: States in which a handed-down target counts as finished for its parent (核验 done).
CHILD_FINISHED = ("verified", "scored")
#: The office's trigger that lets a parent be self-assessed before its children are verified.
ALLOW_SELF_ASSESS = "allow_self_assess"


def facts_for(session: Session, targets: list[Target]) -> ListFacts:
    """:class:`ListFacts` of ``targets`` (two queries, none when the list is empty)."""
    ids = [t.id for t in targets]
    if not ids:
        return ListFacts(frozenset(), frozenset(), {})
    pending = session.exec(select(Target.parent_id).where(Target.parent_id.in_(ids),
                                                          Target.state.not_in(CHILD_FINISHED)).distinct())
    allowed: dict[int, list[datetime]] = {}
    for target_id, at in session.exec(select(TransitionRecord.target_id, TransitionRecord.at).where(
            TransitionRecord.target_id.in_(ids), TransitionRecord.trigger == ALLOW_SELF_ASSESS)):
        allowed.setdefault(target_id, []).append(at)
    return ListFacts(frozenset(ids), frozenset(pending), allowed)


def children_pending(session: Session, target: Target) -> list[str]:
    """The organisations whose target handed down from ``target`` is not yet verified (names)."""
    return list(session.exec(
        select(Organisation.name).join(Target, Target.org_id == Organisation.id)
        .where(Target.parent_id == target.id, Target.state.not_in(CHILD_FINISHED)).order_by(Organisation.path)))


def _allowed_this_stay(ctx: Context) -> bool:
    """Whether the office let this target be self-assessed early (with a reason) during its current stay."""
    if ctx.facts is not None and ctx.facts.knows(ctx.target):
        return any(at >= ctx.target.state_entered_at for at in ctx.facts.allowed_at.get(ctx.target.id, ()))
    found = ctx.session.exec(select(TransitionRecord.id).where(
        TransitionRecord.target_id == ctx.target.id, TransitionRecord.trigger == ALLOW_SELF_ASSESS,
        TransitionRecord.at >= ctx.target.state_entered_at).limit(1)).first()
    return found is not None


@guard("children_verified")
def _children_verified(ctx: Context) -> str | None:
    """A parent target is self-assessed once every child organisation's target is verified (汇总 complete),
    unless the office has allowed it with a reason."""
    if ctx.facts is not None and ctx.facts.knows(ctx.target) and ctx.target.id not in ctx.facts.pending_children:
        return None
    pending = children_pending(ctx.session, ctx.target)
    if not pending or _allowed_this_stay(ctx):
        return None
    return (f"下级单位的目标尚未全部核验（{'、'.join(pending[:5])}{' 等' if len(pending) > 5 else ''}），暂不能自评；"
            f"确需先行自评的，由绩效办说明理由后准予")


@guard("children_unverified", needs_payload=False)
def _children_unverified(ctx: Context) -> str | None:
    facts = ctx.facts if ctx.facts is not None and ctx.facts.knows(ctx.target) else None
    pending = ctx.target.id in facts.pending_children if facts else bool(children_pending(ctx.session, ctx.target))
    if not pending:
        return "下级单位的目标均已核验（或没有下级目标），无需准予先行自评"
    if _allowed_this_stay(ctx):
        return "已准予先行自评"
    return None


def signers_of(session: Session, target_id: int) -> list[str]:
    """Names of the leaders who have signed the target's current self-assessment, in order."""
    rows = session.exec(select(Signature.signer).where(Signature.target_id == target_id).order_by(Signature.id))
    return list(rows)


#: The guard every step of a parallel state's branches carries (see ``branches:`` in the definitions).
BRANCH_STEP = "branch_step_due"


def branch_steps_done(session: Session, target: Target, definition: Definition) -> set[str]:
    """The triggers of the branch steps done in the target's current stay in its parallel state."""
    steps = [t.trigger for t in definition.triggers_from(target.state) if t.branch]
    if not steps:
        return set()
    return set(session.exec(select(TransitionRecord.trigger).where(
        TransitionRecord.target_id == target.id, TransitionRecord.trigger.in_(steps),
        TransitionRecord.from_state == target.state, TransitionRecord.to_state == target.state,
        TransitionRecord.at >= target.state_entered_at)))


def branches_complete(ctx: Context) -> bool:
    """Whether this step completes every branch of the parallel state: the join may fire (并行汇合)."""
    done = branch_steps_done(ctx.session, ctx.target, ctx.definition) | {ctx.transition.trigger}
    lasts = {spec.branch: spec for spec in ctx.definition.triggers_from(ctx.target.state) if spec.branch}
    return all(spec.trigger in done for spec in lasts.values())  # the last step of each branch, in order


@guard(BRANCH_STEP, needs_payload=False)
def _branch_step_due(ctx: Context) -> str | None:
    """A branch's steps are done in order, each once per stay in the parallel state."""
    done = branch_steps_done(ctx.session, ctx.target, ctx.definition)
    if ctx.transition.trigger in done:
        return f"“{ctx.transition.label}”已完成，等待其他分支"
    same = [t for t in ctx.definition.triggers_from(ctx.target.state) if t.branch == ctx.transition.branch]
    before = same[:same.index(ctx.transition)]
    if before and before[-1].trigger not in done:
        return f"请先完成本分支的“{before[-1].label}”"
    return None
