"""Early warning over a simulated year: a target that reports steadily never warns; one that stalls
warns yellow, then orange, then red, each once, well before its due date."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import select

from engine.audit import chain, replay
from engine.calendar import clock
from engine.schedule import warnings
from engine.store.models import OutboxEvent, Target, TransitionRecord
from tests import factories as f
from tests.engine.lifecycle import step


def _at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0)


def _year(start: date, end: date):
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def test_a_steady_target_never_warns_and_a_stalled_one_climbs_before_its_due_date(session, engine_db):
    with clock.frozen(_at(date(2024, 1, 2))):
        steady = f.target(session, code="1-1-1")
        stalled = f.target(session, code="1-1-2")
        for t in (steady, stalled):
            step(session, t.id, "start", f.STAFF)
    changes: dict[int, list[tuple[date, int]]] = {steady.id: [], stalled.id: []}
    for day in _year(date(2024, 1, 2), date(2024, 12, 31)):
        with clock.frozen(_at(day)):
            if day.day == 20:
                share = round((day - date(2024, 1, 2)).days / (date(2024, 12, 31) - date(2024, 1, 2)).days * 100)
                step(session, steady.id, "report_progress", f.STAFF, payload={"note": "按计划推进", "percent": share})
                if day.month == 1:
                    step(session, stalled.id, "report_progress", f.STAFF, payload={"note": "启动", "percent": 10})
            result = warnings.sweep(engine_db, today=day)
        for target_id, level in result.changed:
            changes[target_id].append((day, level))
    assert changes[steady.id] == []
    # No report since 20 January: 25 February passes unreported (yellow), 25 March (orange), 25 April (red).
    assert changes[stalled.id] == [(date(2024, 2, 26), 1), (date(2024, 3, 26), 2), (date(2024, 4, 26), 3)]
    assert all(day < date(2024, 12, 31) for day, _ in changes[stalled.id])

    session.expire_all()
    target = session.get(Target, stalled.id)
    assert target.risk_level == 3 and target.risk_reason.endswith("连续 3 个月未报送")
    records = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "warn")
                           .order_by(TransitionRecord.id)).all()
    assert [(r.target_id, r.kind, r.payload["level"], r.payload["label"]) for r in records] == [
        (stalled.id, "system", 1, "黄色预警"), (stalled.id, "system", 2, "橙色预警"), (stalled.id, "system", 3, "红色预警")]
    assert records[0].comment == "已过 15% 时间，进度 10%，连续 1 个月未报送"
    events = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "target.warned")
                          .order_by(OutboxEvent.id)).all()
    assert [[r["name"] for r in e.recipients] for e in events] == [["洪玮玮"], ["洪玮玮", "林长华"],
                                                                   ["洪玮玮", "林长华", "office"]]
    assert chain.verify(session).ok
    assert replay.verify(session=session).ok


def test_lag_and_missed_checkpoints_raise_the_level_and_a_report_clears_it(session, engine_db):
    with clock.frozen(_at(date(2024, 1, 1))):
        t = f.target(session, checkpoints=["2024-03-25", "2024-06-25"])
        step(session, t.id, "start", f.STAFF)
    with clock.frozen(_at(date(2024, 7, 20))):
        step(session, t.id, "report_progress", f.STAFF, payload={"note": "刚起步", "percent": 5})
        assert warnings.sweep(engine_db, today=date(2024, 7, 20)).changed == [(t.id, 3)]  # 55% of the time, 5%
    session.expire_all()
    assert session.get(Target, t.id).risk_reason == "已过 55% 时间，进度 5%"
    with clock.frozen(_at(date(2024, 7, 21))):
        step(session, t.id, "report_progress", f.STAFF, payload={"note": "赶上进度", "percent": 55})
        assert warnings.sweep(engine_db, today=date(2024, 7, 21)).changed == [(t.id, 0)]
        assert warnings.sweep(engine_db, today=date(2024, 7, 21)).changed == []  # once per change


def test_assess_names_missed_checkpoints_and_plan_thresholds_count():
    target = Target(plan_id=1, code="1", text="x", weight=1, state="in_progress", progress=40,
                    due_date=date(2024, 12, 31), created_at=datetime(2024, 1, 1, tzinfo=clock.ZONE),
                    checkpoints=[{"date": "2024-03-25", "what": "方案印发"}, "2024-06-25"])
    risk = warnings.assess(target, today=date(2024, 7, 1), last_report=date(2024, 3, 1), year=2024)
    assert risk.facts["missed_checkpoints"] == 2 and risk.level == 3  # the report of 1 March counts for 25 March; April to June are missed
    assert risk.reason == "已过 50% 时间，进度 40%，连续 3 个月未报送，2 个节点未报（3月25日、6月25日）"
    lenient = {"lag": (60, 70, 80), "silent_months": (5, 6, 7), "missed_checkpoints": (3, 4, 5)}
    assert warnings.assess(target, today=date(2024, 7, 1), last_report=date(2024, 3, 1), year=2024,
                           limits=lenient).level == 0
