"""得分 = 权重 − Σ扣分: deductions count, a score that differs says why, and nothing typed is lost."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from engine.audit.chain import verify
from engine.scoring import sheet as scoring
from engine.store.errors import GuardFailed
from engine.store.models import Target, TransitionRecord
from engine.workflow import definitions, payloads
from tests import factories as f
from tests.engine.lifecycle import PATHS, step


def _verified(session, weight=2) -> int:
    target = f.target(session, weight=weight)
    for trigger in PATHS["verified"]:
        step(session, target.id, trigger, {"start": f.STAFF, "self_assess": f.STAFF, "sign": f.LEADER}.get(trigger, f.OFFICE))
    return target.id


def _score(session, target_id, **payload):
    return step(session, target_id, "score", f.OFFICE, payload=payload)


def test_a_score_that_ignores_its_deductions_is_refused(session):
    target_id = _verified(session)
    with pytest.raises(GuardFailed, match=r"得分 2 与 权重 2 − 扣分 1.5 = 0.5 不一致") as refused:
        _score(session, target_id, score=2, deductions=[{"points": 1.5, "reason": "签到表不全"}])
    assert refused.value.details["guard"] == "score_follows_deductions"
    assert session.get(Target, target_id).state == "verified"


def test_the_score_defaults_to_weight_less_deductions(session):
    target_id = _verified(session)
    fired = _score(session, target_id, deductions=[{"points": 0.3, "reason": "签到表不全"}, {"points": 0.2, "reason": "迟报"}])
    assert fired.target.score == Decimal("1.5") and fired.record.payload["score"] == 1.5
    line = next(x for x in scoring.sheet(session=session, plan_id=fired.target.plan_id).lines if x.target.id == target_id)
    assert (line.score, line.deducted, line.by_deductions, line.score_reason) == (
        Decimal("1.5"), Decimal("0.5"), Decimal("1.5"), "")


def test_a_different_score_needs_a_reason_kept_in_the_chain(session):
    target_id = _verified(session)
    fired = _score(session, target_id, score=1, deductions=[{"points": 0.3, "reason": "签到表不全"}],
                   score_reason="年度重点任务仅完成一半，按比例计分")
    assert fired.target.score == 1
    record = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == target_id,
                                                         TransitionRecord.trigger == "score")).one()
    assert record.payload["score_reason"] == "年度重点任务仅完成一半，按比例计分"
    assert verify(session).ok
    line = next(x for x in scoring.sheet(session=session, plan_id=fired.target.plan_id).lines if x.target.id == target_id)
    assert line.score_reason == "年度重点任务仅完成一半，按比例计分" and line.by_deductions == Decimal("1.7")
    from api import report_render
    from engine.scoring import report

    page = report_render.html(report.build(session=session, plan_id=fired.target.plan_id))
    assert "年度重点任务仅完成一半，按比例计分" in page


def test_deductions_never_exceed_the_weight(session):
    target_id = _verified(session)
    with pytest.raises(GuardFailed, match="扣分合计 2.5 分超过权重分值 2 分") as refused:
        _score(session, target_id, score=0, deductions=[{"points": 1.5, "reason": "a"}, {"points": 1, "reason": "b"}],
               score_reason="全部扣完")
    assert refused.value.details["guard"] == "deductions_within_weight"


@pytest.mark.parametrize("line, item", [
    ("扣0.3分，签到表不全", {"points": 0.3, "reason": "签到表不全"}),
    ("0.5 进度滞后", {"points": 0.5, "reason": "进度滞后"}),
    ("0.3分：签到表不全", {"points": 0.3, "reason": "签到表不全"}),
    ("签到表不全，扣0.3分", {"points": 0.3, "reason": "签到表不全"}),
    ("扣０．５分　佐证材料缺失", {"points": 0.5, "reason": "佐证材料缺失"}),
    ("1 未按时报送", {"points": 1, "reason": "未按时报送"}),
    ("签到表不全", {"points": "签到表不全", "reason": ""}),  # no points: kept whole, for the guard to refuse
    ("3月未报送，扣0.2分", {"points": 0.2, "reason": "3月未报送"}),
    ("3月未报送", {"points": "3月未报送", "reason": ""}),
])
def test_a_deduction_line_keeps_points_and_reason_apart(line, item):
    spec = definitions.get("target").transition("verified", "score")
    assert payloads.from_form(spec, {"deductions_text": line})["deductions"] == [item]


def test_the_prefilled_weight_stands_for_the_default_score():
    spec = definitions.get("target").transition("verified", "score")
    form = {"score": "2", "score_default": "2", "deductions_text": "扣0.3分，签到表不全"}
    assert "score" not in payloads.from_form(spec, form)
    assert payloads.from_form(spec, form | {"score": "1.7"})["score"] == 1.7


def test_a_line_without_points_is_refused_naming_it(session):
    target_id = _verified(session)
    spec = definitions.get("target").transition("verified", "score")
    with pytest.raises(GuardFailed, match="“签到表不全”读不出分值"):
        _score(session, target_id, **payloads.from_form(spec, {"deductions_text": "签到表不全"}))
