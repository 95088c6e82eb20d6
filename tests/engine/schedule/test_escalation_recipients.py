"""Escalation tells whoever must act in the current state, supervises whoever is late, and never
drops a level silently (a report of a section without a leader goes to the office)."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import select

from engine.audit import chain
from engine.calendar import clock
from engine.schedule import escalation
from engine.scoring import dashboard
from engine.store.models import OutboxEvent, Target, TransitionRecord
from engine.workflow import definitions, targets
from tests import factories as f
from tests.engine.lifecycle import step


def _sweep(bind, day: date) -> list[int]:
    with clock.frozen(datetime(day.year, day.month, day.day, 9, 0)):
        return [level for _, level in escalation.sweep(bind, today=day).fired]


def _events(session, target_id: int) -> list[list[dict]]:
    session.rollback()
    session.expire_all()
    return [e.recipients for e in session.exec(select(OutboxEvent).where(OutboxEvent.target_id == target_id,
                                                                        OutboxEvent.event_type.like("%.escalated"))
                                               .order_by(OutboxEvent.id))]


def _escalations(session, target_id: int) -> list[dict]:
    return [r.payload for r in session.exec(select(TransitionRecord).where(TransitionRecord.target_id == target_id,
                                                                           TransitionRecord.trigger == "escalate")
                                            .order_by(TransitionRecord.id))]


def test_a_late_signature_tells_the_leader_who_has_not_signed_never_the_section(session, engine_db, frozen):
    t = f.target(session, leaders=("林长华", "李自坚"))
    for trigger, actor in (("start", f.STAFF), ("self_assess", f.STAFF), ("sign", f.LEADER)):
        step(session, t.id, trigger, actor)
    assert _sweep(engine_db, date(2025, 1, 20)) == [1, 2, 3]  # due 30 December: far past every level
    late = {"kind": "person", "name": "李自坚"}
    assert _events(session, t.id) == [[late], [late], [late, {"kind": "role", "name": "office"}]]
    target = session.get(Target, t.id)
    assert target.supervised and target.supervised_against == ["李自坚"]
    assert _escalations(session, t.id)[-1]["against"] == ["李自坚"]
    assert dashboard.staff_home(session, f.STAFF)["supervised"] == []  # not the section's 督办
    assert chain.verify(session).ok


def test_a_late_verification_tells_the_office(session, engine_db, frozen):
    t = f.target(session)
    for trigger, actor in (("start", f.STAFF), ("self_assess", f.STAFF), ("sign", f.LEADER)):
        step(session, t.id, trigger, actor)
    assert _sweep(engine_db, date(2025, 2, 20)) == [1, 2, 3]  # evaluation due 10 January
    office = [{"kind": "role", "name": "office"}]
    assert _events(session, t.id) == [office, office, office]
    assert session.get(Target, t.id).supervised_against == ["绩效办"]


def test_a_late_section_is_still_told_and_supervised_as_the_section(session, engine_db, frozen):
    t = f.target(session, sections=("规划科", "思政科"), due_date=date(2024, 9, 30))
    step(session, t.id, "start", f.STAFF)
    assert _sweep(engine_db, date(2024, 10, 31)) == [1, 2, 3]
    assert _events(session, t.id) == [[{"kind": "person", "name": "洪玮玮"}], [{"kind": "person", "name": "林长华"}],
                                      [{"kind": "role", "name": "office"}]]
    assert session.get(Target, t.id).supervised_against == ["规划科", "思政科"]
    assert [i.target.id for i in dashboard.staff_home(session, f.STAFF)["supervised"]] == [t.id]


def test_a_report_of_a_section_without_a_leader_escalates_to_the_office(session, engine_db, frozen):
    plan = f.plan(session)
    report = targets.create(session=session, plan_id=plan.id, workflow="report", code="R-规划科-2024-05",
                            text="规划科 5月进展报告", weight=0, due_date=date(2024, 5, 27), deadline_phrase="每月25日前",
                            sections=["规划科"], leaders=[], persons=[])
    session.commit()
    assert _sweep(engine_db, date(2024, 6, 28)) == [1, 2, 3]
    office = [{"kind": "role", "name": "office"}]
    assert _events(session, report.id) == [office, office, office]  # none dropped
    assert [p.get("fallback") for p in _escalations(session, report.id)] == ["office", "office", None]


def test_recipients_per_state_follow_the_definition():
    d = definitions.get("target")
    assert escalation.acting(d, "self_assessed") == ("leaders",)
    assert escalation.acting(d, "verified") == ("office",)
    assert [escalation.level_notify(d, "in_progress", lv) for lv in d.escalation] == [
        ("responsible",), ("leaders",), ("office",)]
    assert [escalation.level_notify(d, "leader_signed", lv) for lv in d.escalation] == [("office",)] * 3
    assert [escalation.level_notify(d, "self_assessed", lv) for lv in d.escalation] == [
        ("leaders",), ("leaders",), ("leaders", "office")]  # named in target.yaml
    report = definitions.get("report")
    assert [escalation.level_notify(report, "submitted", lv) for lv in report.escalation] == [("office",)] * 3


def test_a_state_naming_unknown_recipients_is_refused():
    text = definitions.source_text("target").replace(
        "escalate_to: [[leaders], [leaders], [leaders, office]]", "escalate_to: [[leaders], [bosses]]")
    with pytest.raises(definitions.DefinitionError, match="bosses"):
        definitions.parse(text, "target.yaml")
