"""Checkpoints (节点): from the plan's 节点 column and deadline phrase, added by the office, reported
against, and counted by the warning when one passes unreported."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import select

from engine.audit import chain, replay
from engine.calendar import clock
from engine.plans import importer, table, service as plans, target_checkpoints
from engine.schedule import warnings
from engine.store.errors import Forbidden, GuardFailed, InvalidPayload
from engine.store.models import Target, TransitionRecord
from engine.workflow.commands import fire
from tests import factories as f
from tests.engine.lifecycle import step

TABLE = """
plan: {org: 泉州市教育局, year: 2024, title: 泉州市教育局2024年度绩效目标考评表}
targets:
  - {编号: "1-1", 类别: 重点工作目标, 年度目标: 学位扩容, 权重分值: 60, 完成时限: "3月25日、12月底前",
     节点: "6月30日前：完成主体工程\\n9月25日 竣工验收", 分管领导: 林长华, 责任科室: 规划科, 科室责任人: 洪玮玮}
  - {编号: "1-2", 年度目标: 教育大会, 权重分值: 40, 完成时限: 11月底前, 节点: "下周：开会",
     分管领导: 林长华, 责任科室: 组织科, 科室责任人: 王毅樟}
"""


def _draft(text):
    return importer.parse(table.read(text.encode(), "plan.yaml"), "plan.yaml")


def test_the_plan_column_gives_checkpoints_with_what_is_due(session):
    refused = _draft(TABLE)
    assert [e.column for e in refused.errors] == ["节点"]
    assert "节点“下周：开会”的日期无法识别" in refused.errors[0].reason
    with clock.frozen(datetime(2024, 1, 2, 9)):
        plans.apply(session=session, draft=_draft(TABLE.replace("下周：开会", "10月底前：大会召开")), actor=f.ADMIN)
    t = session.exec(select(Target).where(Target.code == "1-1")).one()
    assert target_checkpoints.normalise(t.checkpoints) == [
        {"date": "2024-03-25", "what": "", "by": ""},
        {"date": "2024-06-30", "what": "完成主体工程", "by": "plan"},
        {"date": "2024-09-25", "what": "竣工验收", "by": "plan"}]
    assert [target_checkpoints.label(c) for c in target_checkpoints.normalise(t.checkpoints)][1] == "6月30日：完成主体工程"


def test_the_office_adds_a_checkpoint_staff_report_against_it_and_a_missed_one_warns(session, engine_db):
    with clock.frozen(datetime(2024, 1, 2, 9)):
        t = f.target(session)
        step(session, t.id, "start", f.STAFF)
    with clock.frozen(datetime(2024, 3, 1, 9)):
        with pytest.raises(Forbidden):
            target_checkpoints.add(session=session, target_id=t.id, actor=f.STAFF, day=date(2024, 4, 10), what="方案")
        with pytest.raises(InvalidPayload, match="不能早于今天"):
            target_checkpoints.add(session=session, target_id=t.id, actor=f.OFFICE, day=date(2024, 2, 1), what="方案")
        target_checkpoints.add(session=session, target_id=t.id, actor=f.OFFICE, day=date(2024, 4, 10), what="方案印发")
        with pytest.raises(InvalidPayload, match="已有节点"):
            target_checkpoints.add(session=session, target_id=t.id, actor=f.OFFICE, day=date(2024, 4, 10), what="又一个")
        step(session, t.id, "report_progress", f.STAFF, payload={"note": "起步", "percent": 20})
        with pytest.raises(GuardFailed, match="没有 2024-05-01 的节点"):
            step(session, t.id, "report_progress", f.STAFF, payload={"note": "x", "percent": 20, "checkpoint": "2024-05-01"})
    # 10 April passes with no report since 1 March (and 25 March too): two reasons for a warning
    risk = warnings.assess(session.get(Target, t.id), today=date(2024, 4, 11), last_report=date(2024, 3, 1), year=2024)
    assert risk.facts["missed_checkpoints"] == 1 and "1 个节点未报（4月10日）" in risk.reason and risk.level == 1
    with clock.frozen(datetime(2024, 4, 12, 9)):
        fire(session=session, target_id=t.id, trigger="report_progress", actor=f.STAFF,
             payload={"note": "方案已印发", "percent": 30, "checkpoint": "2024-04-10"})
    assert warnings.assess(session.get(Target, t.id), today=date(2024, 4, 13), last_report=date(2024, 4, 12),
                           year=2024).facts["missed_checkpoints"] == 0
    record = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "add_checkpoint")).one()
    assert record.kind == "amendment" and record.payload["changes"]["checkpoints"][1]["what"] == "方案印发"
    assert chain.verify(session).ok and replay.verify(session=session).ok


def test_the_checkpoint_column_is_written_back_and_reads_the_same(session):
    from engine.plans.exporter import write_xlsx

    with clock.frozen(datetime(2024, 1, 2, 9)):
        plans.apply(session=session, draft=_draft(TABLE.replace("下周：开会", "10月底前：大会召开")), actor=f.ADMIN)
    plan_id = session.exec(select(Target.plan_id)).first()
    again = importer.parse(table.read(write_xlsx(session, plan_id), "plan.xlsx"), "plan.xlsx")
    assert again.errors == []
    assert [d.checkpoints for d in again.targets if d.code == "1-1"] == [
        [date(2024, 3, 25), {"date": "2024-06-30", "what": "完成主体工程", "by": "plan"},
         {"date": "2024-09-25", "what": "竣工验收", "by": "plan"}]]
