"""The evaluation report (绩效评估报告) of a plan: what it says, apart from how it is drawn."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from engine.audit import checkpoints
from engine.people.actors import Actor
from engine.workflow import definitions
from engine.store.models import Escalation, Target
from engine.plans.exporter import collector_paused, write_xlsx
from engine.scoring import rectification
from engine.scoring import ranking
from engine.scoring.ranking import Rank
from engine.scoring.overdue import month_ends, overdue_at
from engine.scoring.sheet import Line, Sheet, Total, sheet
from engine.workflow.targets import is_overdue


@dataclass
class Report:
    sheet: Sheet
    states: list[tuple[str, int]]                      # label, targets
    months: list[tuple[str, int | None, int]]          # "1月", overdue at its end (None: not yet), became supervised
    deductions: list[tuple[Line, dict[str, Any]]]
    bonus: list[tuple[Line, dict[str, Any]]]
    not_met: list[Line]                                # scored below full weight, or with indicators not met
    unscored: list[Line]
    #: Every quantitative indicator: code, its levels (一级, 二级, 三级 — or only a name), value, actual, met.
    indicators: list[dict[str, Any]] = field(default_factory=list)

    @property
    def leveled(self) -> bool:
        return any(len(i["levels"]) == 3 for i in self.indicators)

    overdue_now: int = 0                               # targets overdue as the report is taken
    #: The plan's rectification items (整改), open ones first.
    rectifications: list[Any] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """Whether every target is scored: only then is the grade more than provisional (暂定)."""
        return is_final(self.sheet.total)

    @property
    def grade_label(self) -> str:
        """The plan's grade as it may be stated: 良好, 良好（暂定）, or 未评定."""
        return grade_label(self.sheet.total)

    @property
    def met_statement(self) -> str:
        """What may be said of the targets' being met when none is listed as not met."""
        t = self.sheet.total
        if self.not_met:
            return ""
        if not t.scored:
            return "尚无已评分的目标，是否达成待评分后确定。"
        if self.unscored:
            return f"已评分的 {t.scored} 项目标均已达成；尚有 {len(self.unscored)} 项未评分，是否达成待评分后确定。"
        return "全部目标均已达成。"
    #: The audit trail's signing key fingerprint and newest checkpoint (``None`` while there is none).
    audit_key: dict[str, str] | None = None
    checkpoint: dict[str, Any] | None = None
    #: The plan's organisation's children ranked (排名) on their plans of the same year; empty without children.
    ranking: list[Rank] = field(default_factory=list)

    @property
    def summary(self) -> str:
        s, t = self.sheet, self.sheet.total
        parts = [f"{s.plan.title}共 {t.targets} 项目标，权重合计 {_n(t.weight)} 分；已评分 {t.scored} 项（权重 {_n(t.scored_weight)} 分），"
                 f"得分 {_n(t.score)} 分" + (f"（含加分 {_n(t.bonus)} 分）" if t.bonus else "") + "。"]
        if t.rate is not None and self.final:
            parts.append(f"得分率 {_n(t.rate)}%，等级为“{t.grade}”。")
        elif t.rate is not None:
            parts.append(f"已评分部分得分率 {_n(t.rate)}%，暂定等级为“{t.grade}”（已评分权重占全部权重的 "
                         f"{_n(scored_share(t))}%），全部目标评分后方为最终等级。")
        if self.unscored:
            parts.append(f"尚有 {len(self.unscored)} 项未评分，未计入合计。")
        if self.not_met:
            parts.append(f"未完全达成的目标 {len(self.not_met)} 项，扣分 {len(self.deductions)} 处。")
        if self.overdue_now:
            parts.append(f"当前逾期目标 {self.overdue_now} 项。")
        return "".join(parts)


def is_final(total: Total) -> bool:
    return total.targets > 0 and total.scored == total.targets


def scored_share(total: Total) -> Decimal:
    """How much of the weight is scored, in per cent (one decimal)."""
    if not total.weight:
        return Decimal(0)
    return (total.scored_weight / total.weight * 100).quantize(Decimal("0.1"))


def grade_label(total: Total) -> str:
    """A total's grade as it may be stated: final when all its targets are scored, else 暂定."""
    if total.rate is None or is_final(total):
        return total.grade
    return f"{total.grade}（暂定）"


def _n(value: Decimal) -> str:
    return f"{value.normalize():f}"


def build(*, session: Session, plan_id: int, actor: Actor | None = None) -> Report:
    """Everything the report shows, read in one go (its time is ``sheet.taken_at``), for ``actor``
    if they read the plan's organisation."""
    s = sheet(session=session, plan_id=plan_id, actor=actor)
    d = definitions.get("target")
    counts = Counter(line.target.state for line in s.lines)
    states = [(d.states[name].label, counts.get(name, 0)) for name in d.states]
    rows = session.exec(select(Escalation.level, Escalation.fired_at).join(Target, Target.id == Escalation.target_id)
                        .where(Target.plan_id == plan_id, Target.workflow == "target")).all()
    supervised = Counter(_local_month(fired_at) for level, fired_at in rows if _top(level))
    ends = month_ends(s.plan.year)
    overdue = overdue_at(session=session, targets=[line.target for line in s.lines], days=[day for _, day in ends])
    months = [(label, None if count < 0 else count, supervised[(s.plan.year + (i == 12), 1 if i == 12 else i + 1)])
              for i, ((label, _), count) in enumerate(zip(ends, overdue, strict=True))]
    return Report(
        sheet=s, states=states, months=months,
        deductions=[(line, item) for line in s.lines for item in line.deductions],
        bonus=[(line, item) for line in s.lines for item in line.bonus],
        not_met=[line for line in s.lines if (line.scored and line.score < Decimal(str(line.target.weight))) or line.unmet],
        unscored=[line for line in s.lines if not line.scored],
        overdue_now=sum(1 for line in s.lines if is_overdue(line.target)),
        indicators=_indicators(s), rectifications=rectification.of_plan(session, plan_id),
        audit_key=checkpoints.public_key_info(), checkpoint=checkpoints.latest(session),
        ranking=ranking.of(session=session, org_id=s.plan.org_id, year=s.plan.year),
    )


def _indicators(s: Sheet) -> list[dict[str, Any]]:
    """Every target's quantitative indicators as the sheet read and judged them, in the order of the
    targets' rows (as entered), each target's in its own order."""
    from engine.plans.indicator_table import levels_of

    return [{"code": line.target.code, "levels": levels_of(row.name), "raw": row.raw, "actual": row.actual, "met": met}
            for line in sorted(s.lines, key=lambda line: line.target.id) for row, met in line.indicators]


def _top(level: int) -> bool:
    return level == len(definitions.get("target").escalation)


def _local_month(moment) -> tuple[int, int]:
    from engine.calendar.clock import local

    value = local(moment)
    return value.year, value.month


@collector_paused()  # the sheet's lines too live until the file is written
def xlsx(*, session: Session, plan_id: int, actor: Actor | None = None) -> bytes:
    """The assessment table as the seed writes it, plus the score columns (re-imports as the same plan)."""
    s = sheet(session=session, plan_id=plan_id, actor=actor)
    by_id = {line.target.id: line for line in s.lines}

    def column(get):
        return lambda target: get(by_id[target.id]) if target.id in by_id else None

    def num(value):
        return float(value) if value is not None else None

    extra = [
        ("状态", column(lambda line: line.state_label)),
        ("自评分", column(lambda line: num(line.self_score))),
        ("得分", column(lambda line: num(line.score) if line.scored else "未评分")),
        ("扣分", column(lambda line: num(line.deducted) if line.deductions else None)),
        ("扣分理由", column(lambda line: "；".join(f"{d['points']}分：{d['reason']}" for d in line.deductions) or None)),
        ("得分说明", column(lambda line: line.score_reason or None)),
        ("加分", column(lambda line: "；".join(f"{b['points']}分：{b['reason']}" for b in line.bonus) or None)),
        ("指标计分", column(lambda line: num(line.indicator_score))),
    ]
    ranks = ranking.of(session=session, org_id=s.plan.org_id, year=s.plan.year)
    # A second sheet, 下级单位排名, when the organisation has children (the first stays the table that imports back).
    ranked = [("下级单位排名", ["名次", "单位", "目标数", "已评分", "得分率(%)", "按期完成率(%)", "逾期数"],
               [[r.place, r.organisation, r.targets, r.scored,
                 float(r.score_rate) if r.score_rate is not None else None,
                 float(r.on_time_rate) if r.on_time_rate is not None else None, r.overdue] for r in ranks])] if ranks else []
    known = [(line.target, line.parties, [row for row, _ in line.indicators]) for line in s.lines]  # read once
    return write_xlsx(session, plan_id, extra=extra, sheets=ranked, known=known, footer=[
        ("合计", float(s.total.weight), f"得分 {_n(s.total.score)}；得分率 {_n(s.total.rate) if s.total.rate is not None else '—'}%；"
                                        f"等级 {grade_label(s.total)}；数据时间 {s.taken_at:%Y-%m-%d %H:%M}")])
