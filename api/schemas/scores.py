"""The score sheet's and the ranking's response shapes (``GET /api/v1/plans/{id}/scores``, ``…/ranking``)."""
from __future__ import annotations

from dataclasses import fields
from datetime import datetime

from pydantic import BaseModel, create_model

from engine.scoring.ranking import Rank


class PointsItem(BaseModel):
    points: float
    reason: str


class ScoreLinePublic(BaseModel):
    target_id: int
    code: str
    category: str
    indicator: str
    weight: float
    sections: list[str]
    shared: bool
    state: str
    state_label: str
    scored: bool
    self_score: float | None
    score: float | None
    deductions: list[PointsItem]
    deducted: float  # Σ扣分
    by_deductions: float  # 权重 − Σ扣分, the default score
    score_reason: str  # why the score differs from by_deductions, when it does
    bonus: list[PointsItem]
    indicator_score: float | None
    unmet_indicators: list[str]


class TotalPublic(BaseModel):
    name: str
    points: float | None
    weight: float
    scored_weight: float
    score: float
    bonus: float
    targets: int
    scored: int
    rate: float | None
    grade: str
    provisional: bool  # 暂定: a grade while some of its targets are not scored yet


class ScoresPublic(BaseModel):
    plan_id: int
    taken_at: datetime
    lines: list[ScoreLinePublic]
    categories: list[TotalPublic]
    indicators: list[TotalPublic]
    sections: list[TotalPublic]
    total: TotalPublic
    bands: list[tuple[float, str]]
    indicator_rule: str


def _f(value) -> float | None:
    return None if value is None else float(value)


def _total(t) -> TotalPublic:
    return TotalPublic(name=t.name, points=_f(t.points), weight=float(t.weight), scored_weight=float(t.scored_weight),
                       score=float(t.score), bonus=float(t.bonus), targets=t.targets, scored=t.scored,
                       rate=_f(t.rate), grade=t.grade, provisional=t.rate is not None and t.scored < t.targets)


def _items(items) -> list[PointsItem]:
    return [PointsItem(points=float(i.get("points", 0)), reason=str(i.get("reason", ""))) for i in items]


def scores_public(sheet) -> ScoresPublic:
    return ScoresPublic(
        plan_id=sheet.plan.id, taken_at=sheet.taken_at,
        lines=[ScoreLinePublic(target_id=line.target.id, code=line.target.code, category=line.target.category,
                               indicator=line.target.indicator, weight=float(line.target.weight),
                               sections=list(line.parties.sections), shared=line.shared, state=line.target.state,
                               state_label=line.state_label, scored=line.scored, self_score=_f(line.self_score),
                               score=_f(line.score), deductions=_items(line.deductions), deducted=float(line.deducted),
                               by_deductions=float(line.by_deductions), score_reason=line.score_reason,
                               bonus=_items(line.bonus),
                               indicator_score=_f(line.indicator_score), unmet_indicators=line.unmet)
               for line in sheet.lines],
        categories=[_total(t) for t in sheet.categories], indicators=[_total(t) for t in sheet.indicators],
        sections=[_total(t) for t in sheet.sections], total=_total(sheet.total),
        bands=[(float(floor), name) for floor, name in sheet.rules["bands"]], indicator_rule=sheet.rules["indicator_rule"],
    )


#: One child organisation's line of the ranking (排名): the fields of :class:`engine.scoring.ranking.Rank`,
#: its rates (得分率, 按期完成率, in %) as numbers.
_PLAIN = {"int": int, "str": str}
RankPublic = create_model("RankPublic", **{
    f.name: (float | None if "Decimal" in str(f.type) else _PLAIN[str(f.type)], ...) for f in fields(Rank)})


class RankingPublic(BaseModel):
    plan_id: int
    by: str
    data: list[RankPublic]  # type: ignore[valid-type]
    count: int


def ranking_public(plan_id: int, by: str, ranks) -> RankingPublic:
    return RankingPublic(plan_id=plan_id, by=by, count=len(ranks), data=[
        RankPublic(**{**r.__dict__, "score_rate": _f(r.score_rate), "on_time_rate": _f(r.on_time_rate)}) for r in ranks])
