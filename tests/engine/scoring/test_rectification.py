"""整改: a target scored below its weight gets a rectification item, which is submitted, returned,
submitted again and accepted through the one door; the report lists it open, then closed."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from engine.audit import chain, replay
from engine.scoring import rectification, report
from engine.store.errors import Forbidden, GuardFailed, InvalidPayload
from engine.store.models import TransitionRecord
from engine.workflow.commands import fire
from tests import factories as f
from tests.engine.lifecycle import drive

RESULT = {"measures": "补建学位扩容项目台账，逐校督促", "result": "新增学位 600 个，已达年度目标"}


def test_a_target_scored_below_its_weight_is_rectified(session, frozen):
    short = f.target(session, weight=2)
    full = f.target(session, weight=2)
    drive(session, short.id, "scored", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)  # 1.8 of 2
    drive(session, full.id, "verified", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    fire(session=session, target_id=full.id, trigger="score", actor=f.OFFICE, payload={"score": 2})
    assert rectification.shortfalls(session, session.get(type(short), short.id)) == ["得分 1.8 分，低于权重 2 分"]
    with pytest.raises(GuardFailed, match="得分低于权重"):
        rectification.open_item(session=session, target_id=full.id, actor=f.OFFICE, due=date(2024, 6, 30),
                                requirement="补齐")
    with pytest.raises(Forbidden):
        rectification.open_item(session=session, target_id=short.id, actor=f.STAFF, due=date(2024, 6, 30),
                                requirement="补齐")
    with pytest.raises(InvalidPayload, match="整改期限不能早于今天"):
        rectification.open_item(session=session, target_id=short.id, actor=f.OFFICE, due=date(2024, 5, 1),
                                requirement="补齐")

    item = rectification.open_item(session=session, target_id=short.id, actor=f.OFFICE, due=date(2024, 6, 30),
                                   requirement="进度滞后一个月，补齐学位扩容台账")
    assert (item.workflow, item.state, item.subject_id, item.state_due) == ("rectification", "open", short.id,
                                                                          date(2024, 6, 30))
    listed = report.build(session=session, plan_id=item.plan_id).rectifications
    assert [(x.item.code, x.subject_code, x.state_label, x.closed) for x in listed] == [
        (item.code, short.code, "整改中", False)]

    fire(session=session, target_id=item.id, trigger="submit", actor=f.STAFF, payload=RESULT)
    fire(session=session, target_id=item.id, trigger="return", actor=f.OFFICE, comment="佐证不足，请补充学位清单")
    fire(session=session, target_id=item.id, trigger="submit", actor=f.STAFF, payload=RESULT)
    assert fire(session=session, target_id=item.id, trigger="accept", actor=f.OFFICE).target.state == "closed"

    listed = report.build(session=session, plan_id=item.plan_id).rectifications
    assert [(x.state_label, x.closed) for x in listed] == [("已验收", True)]
    record = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == short.id,
                                                         TransitionRecord.trigger == "open_rectification")).one()
    assert record.payload["shortfalls"] == ["得分 1.8 分，低于权重 2 分"] and record.actor == "绩效办"
    assert chain.verify(session).ok and replay.verify(session=session).ok

    from api.report_render import html
    page = html(report.build(session=session, plan_id=item.plan_id))
    assert "整改事项 1 项：未完成 0 项，已验收 1 项。" in page and item.code in page
