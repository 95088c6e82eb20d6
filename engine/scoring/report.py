"""The evaluation report (绩效评估报告) of a plan: what it says, apart from how it is drawn."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from engine.audit import checkpoints
from engine.workflow import definitions
from engine.store.models import Escalation, Target
from engine.plans.exporter import write_xlsx
from engine.scoring.sheet import Line, Sheet, sheet


@dataclass
class Report:
    sheet: Sheet
    states: list[tuple[str, int]]                      # label, targets
    months: list[tuple[str, int, int]]                 # "1月", became overdue, became supervised
    deductions: list[tuple[Line, dict[str, Any]]]
    bonus: list[tuple[Line, dict[str, Any]]]
    not_met: list[Line]                                # scored below full weight, or with indicators not met
    unscored: list[Line]
    #: The audit trail's signing key fingerprint and newest checkpoint (``None`` while there is none).
    audit_key: dict[str, str] | None = None
    checkpoint: dict[str, Any] | None = None

    @property
    def summary(self) -> str:
        s, t = self.sheet, self.sheet.total
        parts = [f"{s.plan.title}共 {t.targets} 项目标，权重合计 {_n(t.weight)} 分；已评分 {t.scored} 项（权重 {_n(t.scored_weight)} 分），"
                 f"得分 {_n(t.score)} 分" + (f"（含加分 {_n(t.bonus)} 分）" if t.bonus else "") + "。"]
        if t.rate is not None:
            parts.append(f"得分率 {_n(t.rate)}%，等级为“{t.grade}”。")
        if self.unscored:
            parts.append(f"尚有 {len(self.unscored)} 项未评分，未计入合计。")
        if self.not_met:
            parts.append(f"未完全达成的目标 {len(self.not_met)} 项，扣分 {len(self.deductions)} 处。")
        return "".join(parts)


def _n(value: Decimal) -> str:
    return f"{value.normalize():f}"


def build(*, session: Session, plan_id: int) -> Report:
    """Everything the report shows, read in one go (its time is ``sheet.taken_at``)."""
    s = sheet(session=session, plan_id=plan_id)
    d = definitions.get("target")
    counts = Counter(line.target.state for line in s.lines)
    states = [(d.states[name].label, counts.get(name, 0)) for name in d.states]
    rows = session.exec(select(Escalation.level, Escalation.fired_at).join(Target, Target.id == Escalation.target_id)
                        .where(Target.plan_id == plan_id, Target.workflow == "target")).all()
    overdue, supervised = Counter(), Counter()
    for level, fired_at in rows:
        month = _local_month(fired_at)
        if level == 1:
            overdue[month] += 1
        if _top(level):
            supervised[month] += 1
    months = [(f"{m}月", overdue[(s.plan.year, m)], supervised[(s.plan.year, m)]) for m in range(1, 13)]
    months.append(("次年1月", overdue[(s.plan.year + 1, 1)], supervised[(s.plan.year + 1, 1)]))
    return Report(
        sheet=s, states=states, months=months,
        deductions=[(line, item) for line in s.lines for item in line.deductions],
        bonus=[(line, item) for line in s.lines for item in line.bonus],
        not_met=[line for line in s.lines if (line.scored and line.score < Decimal(str(line.target.weight))) or line.unmet],
        unscored=[line for line in s.lines if not line.scored],
        audit_key=checkpoints.public_key_info(), checkpoint=checkpoints.latest(session),
    )


def _top(level: int) -> bool:
    return level == len(definitions.get("target").escalation)


def _local_month(moment) -> tuple[int, int]:
    from engine.calendar.clock import local

    value = local(moment)
    return value.year, value.month


def xlsx(*, session: Session, plan_id: int) -> bytes:
    """The assessment table as the seed writes it, plus the score columns (re-imports as the same plan)."""
    s = sheet(session=session, plan_id=plan_id)
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
        ("加分", column(lambda line: "；".join(f"{b['points']}分：{b['reason']}" for b in line.bonus) or None)),
        ("指标计分", column(lambda line: num(line.indicator_score))),
    ]
    return write_xlsx(session, plan_id, extra=extra, footer=[
        ("合计", float(s.total.weight), f"得分 {_n(s.total.score)}；得分率 {_n(s.total.rate) if s.total.rate is not None else '—'}%；"
                                        f"等级 {s.total.grade}；数据时间 {s.taken_at:%Y-%m-%d %H:%M}")])

