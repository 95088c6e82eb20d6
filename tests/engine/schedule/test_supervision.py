"""督办单: issued for a target, replied late (the reply escalates), countersigned, returned, accepted."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import select

from engine.audit import chain, replay
from engine.calendar import clock
from engine.schedule import escalation, supervision
from engine.store.errors import Forbidden, InvalidPayload
from engine.store.models import OutboxEvent, Target, TransitionRecord
from engine.workflow.commands import fire
from tests import factories as f
from tests.engine.lifecycle import step

REPLY = {"reason": "项目用地审批滞后", "measures": "协调自然资源部门加快审批，倒排工期", "new_date": "2024-11-30"}


def _sweep(bind, day: date):
    with clock.frozen(datetime(day.year, day.month, day.day, 9)):
        return escalation.sweep(bind, today=day).fired


def test_a_notice_runs_its_full_cycle_with_a_late_reply(session, engine_db, frozen):
    t = f.target(session, due_date=date(2024, 9, 30))
    step(session, t.id, "start", f.STAFF)
    notice = supervision.issue(session=session, target_id=t.id, actor=f.OFFICE, reply_due=date(2024, 6, 7),
                               requirement="请说明进度滞后原因并提出整改措施")
    assert (notice.workflow, notice.state, notice.subject_id, notice.code) == ("supervision", "issued", t.id, f"督办-{t.code}-1")
    assert notice.state_due == date(2024, 6, 7)
    # No reply by Friday 7 June: on Tuesday 11 June (after the Dragon Boat holiday of 10 June) it escalates.
    assert _sweep(engine_db, date(2024, 6, 7)) == []
    assert _sweep(engine_db, date(2024, 6, 11)) == [(notice.id, 1)]
    assert _sweep(engine_db, date(2024, 6, 12)) == [(notice.id, 2)]  # two working days late: the leaders
    assert _sweep(engine_db, date(2024, 6, 13)) == [(notice.id, 3)]  # three: the office
    levels = session.exec(select(OutboxEvent.recipients).where(OutboxEvent.event_type == "supervision.escalated")
                          .order_by(OutboxEvent.id)).all()
    assert levels == [[{"kind": "person", "name": "洪玮玮"}], [{"kind": "person", "name": "林长华"}],
                      [{"kind": "role", "name": "office"}]]

    with clock.frozen(datetime(2024, 6, 14, 10)):
        with pytest.raises(Forbidden):  # a section not in charge of the target cannot reply
            fire(session=session, target_id=notice.id, trigger="reply", actor=f.OTHER_STAFF, payload=REPLY)
        with pytest.raises(InvalidPayload):
            fire(session=session, target_id=notice.id, trigger="reply", actor=f.STAFF, payload={"reason": "x"})
        assert fire(session=session, target_id=notice.id, trigger="reply", actor=f.STAFF, payload=REPLY).target.state == "replied"
        assert fire(session=session, target_id=notice.id, trigger="countersign", actor=f.LEADER).target.state == "countersigned"
        back = fire(session=session, target_id=notice.id, trigger="return", actor=f.OFFICE, comment="整改措施不具体")
        assert back.target.state == "issued" and back.target.state_due == date(2024, 6, 7)  # still late
        fire(session=session, target_id=notice.id, trigger="reply", actor=f.STAFF,
             payload={**REPLY, "measures": "每周调度，10月底前完成主体工程"})
        fire(session=session, target_id=notice.id, trigger="countersign", actor=f.LEADER)
        done = fire(session=session, target_id=notice.id, trigger="accept", actor=f.OFFICE)
    assert done.target.state == "closed"
    session.expire_all()
    triggers = [r.trigger for r in session.exec(select(TransitionRecord).where(TransitionRecord.target_id == notice.id)
                                                .order_by(TransitionRecord.id))]
    assert triggers == ["create", "escalate", "escalate", "escalate", "reply", "countersign", "return", "reply", "countersign", "accept"]
    on_target = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == t.id,
                                                            TransitionRecord.trigger == "issue_notice")).one()
    assert on_target.payload["notice_id"] == notice.id and on_target.actor == "绩效办"
    assert [n.id for n in supervision.notices_of(session, t.id)] == [notice.id]
    assert chain.verify(session).ok and replay.verify(session=session).ok


def test_the_supervision_level_of_the_ladder_issues_a_notice_once(session, engine_db, frozen):
    t = f.target(session, due_date=date(2024, 9, 30))
    step(session, t.id, "start", f.STAFF)
    assert [lv for _, lv in _sweep(engine_db, date(2024, 10, 12))] == [1, 2, 3]
    session.expire_all()
    notices = supervision.notices_of(session, t.id)
    assert len(notices) == 1 and notices[0].state == "issued" and notices[0].due_date == date(2024, 10, 18)
    record = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == t.id,
                                                         TransitionRecord.trigger == "issue_notice")).one()
    assert (record.kind, record.role) == ("system", "system")
    assert _sweep(engine_db, date(2024, 10, 14)) == []
    assert len(supervision.notices_of(session, t.id)) == 1


def test_issuing_refuses_bad_input(session, frozen):
    t = f.target(session)
    with pytest.raises(InvalidPayload, match="回复期限不能早于今天"):
        supervision.issue(session=session, target_id=t.id, actor=f.OFFICE, reply_due=date(2024, 6, 1), requirement="请回复")
    with pytest.raises(InvalidPayload, match="请写明督办事项"):
        supervision.issue(session=session, target_id=t.id, actor=f.OFFICE, reply_due=date(2024, 6, 10), requirement=" ")
    with pytest.raises(Forbidden):
        supervision.issue(session=session, target_id=t.id, actor=f.STAFF, reply_due=date(2024, 6, 10), requirement="请回复")
    assert session.exec(select(Target).where(Target.workflow == "supervision")).all() == []
