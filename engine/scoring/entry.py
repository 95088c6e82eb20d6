"""Scores typed on the plan-wide score sheet (评分表录入), turned into ``score`` orders for the one door.

A row carries a score, or a deduction (points and reason), or both. Without a score, the score is
the weight less the deduction (满分扣减); a score other than that needs the reason box filled, which
becomes its 得分说明 (kept in the chain).
A row left blank is not scored. What cannot be read is said beside the row, in words.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from engine.store.models import Target
from engine.workflow.bulk import Order


@dataclass(frozen=True)
class Row:
    """One row as typed: the target, the version the page showed, and the three boxes."""

    target_id: int
    version: int | None
    score: str = ""
    points: str = ""
    reason: str = ""

    @property
    def blank(self) -> bool:
        return not (self.score.strip() or self.points.strip() or self.reason.strip())


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def order_for(target: Target, row: Row) -> tuple[Order | None, str]:
    """The ``score`` order for a typed row, or ``(None, reason)``."""
    weight = Decimal(str(target.weight))
    points = _number(row.points) if row.points.strip() else Decimal(0)
    if points is None or points < 0:
        return None, f"扣分“{row.points}”不是有效的分值"
    if points > weight:
        return None, f"扣分不能超过满分 {weight:f} 分"
    if points and not row.reason.strip():
        return None, "扣分须写明理由"
    if row.score.strip():
        score = _number(row.score)
        if score is None:
            return None, f"评分“{row.score}”不是有效的分值"
    else:
        score = weight - points
    if not 0 <= score <= weight:
        return None, f"评分应在 0 到满分 {weight:f} 分之间"
    if score != weight - points and not row.reason.strip():  # 得分 = 权重 − Σ扣分, or a stated reason
        return None, f"评分 {score:f} 不等于满分减扣分（{weight - points:f}），须在理由栏写明得分说明"
    payload: dict = {"score": float(score)}
    if points:
        payload["deductions"] = [{"points": float(points), "reason": row.reason.strip()[:2000]}]
    if score != weight - points:
        payload["score_reason"] = row.reason.strip()[:2000]
    return Order(target.id, "score", payload, expected_version=row.version), ""
