"""The monthly circular: drafted from the plan's state, published once (frozen, audited, in every
section's inbox), and a public version without people's names or internal remarks."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import select

from engine.audit import chain
from engine.calendar import clock
from engine.people.users import add
from engine.schedule import escalation
from engine.scoring import circulars
from engine.store.errors import Duplicate, Forbidden
from engine.store.models import Circular, OutboxEvent, Target, TransitionRecord
from tests import factories as f
from tests.engine.lifecycle import step


@pytest.fixture
def plan_state(session, engine_db):
    """规划科: one target overdue and supervised; 思政科: one on time with a red warning."""
    with clock.frozen(datetime(2024, 1, 2, 9)):
        late = f.target(session, code="1-1-1", due_date=date(2024, 5, 31))
        warned = f.target(session, code="1-3-1", sections=("思政科",), persons=("陈华森",))
        step(session, late.id, "start", f.STAFF)
    with clock.frozen(datetime(2024, 6, 28, 8)):
        escalation.sweep(engine_db, today=date(2024, 6, 28))  # 督办, and its notice
    session.exec(update(Target).where(Target.id == warned.id).values(risk_level=3, risk_reason="连续 3 个月未报送",
                                                                      progress=10))
    for name, section in (("洪玮玮", "规划科"), ("陈华森", "思政科")):
        add(session=session, name=name, roles=["staff"], sections=[section])
    session.commit()
    return late, warned


def test_a_circular_is_drafted_published_once_and_made_public(session, plan_state):
    late, warned = plan_state
    with clock.frozen(datetime(2024, 6, 28, 9)):
        with pytest.raises(Forbidden):
            circulars.draft(session=session, plan_id=late.plan_id, actor=f.STAFF)
        made = circulars.draft(session=session, plan_id=late.plan_id, actor=f.OFFICE)
    c = made.content
    assert (made.period, made.status) == ("2024-06", "draft")
    assert c["totals"] == {"targets": 2, "overdue": 1, "supervised": 1, "warnings": 1, "late_reports": 0, "open_notices": 1}
    assert [(x["code"], x["working_days_late"], x["persons"]) for x in c["overdue"]] == [("1-1-1", 19, ["洪玮玮"])]
    assert [(x["code"], x["level"], x["reason"]) for x in c["warnings"]] == [("1-3-1", "红色预警", "连续 3 个月未报送")]
    assert [(r["place"], r["name"], r["progress"]) for r in c["ranking"]["sections"]] == [(1, "思政科", 10), (2, "规划科", 0)]

    with clock.frozen(datetime(2024, 6, 28, 15)):
        done = circulars.publish(session=session, circular_id=made.id, actor=f.OFFICE, comment="规划科进度需约谈")
        with pytest.raises(Duplicate, match="已于 2024-06-28 15:00 发布"):
            circulars.publish(session=session, circular_id=made.id, actor=f.OFFICE)
        with pytest.raises(Duplicate, match="已发布"):
            circulars.draft(session=session, plan_id=late.plan_id, actor=f.OFFICE)
    session.expire_all()
    kept = session.get(Circular, made.id)
    assert kept.status == "published" and kept.digest == circulars.digest(kept.content) and kept.published_by == "绩效办"
    record = session.exec(select(TransitionRecord).where(TransitionRecord.trigger == "publish_circular")).one()
    assert record.payload["digest"] == kept.digest and record.kind == "circular"
    event = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "circular.published")).one()
    assert event.recipients == [{"kind": "section", "name": "思政科"}, {"kind": "section", "name": "规划科"}]
    assert chain.verify(session).ok

    shown = circulars.public(kept.content)
    text = repr(shown)
    assert "洪玮玮" not in text and "陈华森" not in text and "林长华" not in text and "约谈" not in text
    assert shown["warnings"][0]["reason"] == "连续 3 个月未报送"
    for public_version, names in ((False, True), (True, False)):
        book = load_workbook(io.BytesIO(circulars.xlsx(kept.content, period=kept.period, public_version=public_version)))
        cells = " ".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v)
        assert book.sheetnames == ["各科室进展", "科室排名", "逾期事项", "督办事项", "预警", "迟报"]
        assert ("洪玮玮" in cells) is names and "1-1-1" in cells


def test_the_circular_day_drafts_once(session, engine_db, plan_state):
    assert circulars.due_today(engine_db, today=date(2024, 6, 27)) == []
    made = circulars.due_today(engine_db, today=date(2024, 6, 28))
    assert len(made) == 1 and made[0].endswith(":2024-06")
    assert circulars.due_today(engine_db, today=date(2024, 6, 28)) == []
