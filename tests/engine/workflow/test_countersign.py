"""会签: leaders who sign the version they saw are not in conflict with each other; a return voids signatures."""
from __future__ import annotations

import pytest
from sqlmodel import select

from engine.audit import chain
from engine.store.errors import StaleVersion
from engine.store.models import OutboxEvent, Target
from tests import factories as f
from tests.engine.lifecycle import drive, step

PEOPLE = [f.LEADER, f.LEADER_2, f.LEADER_3]


def _self_assessed(session):
    t = f.target(session, leaders=[p.name for p in PEOPLE])
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=PEOPLE, office=f.OFFICE)
    return t.id, session.get(Target, t.id).version


def test_every_leader_signs_the_version_they_saw(session):
    target_id, seen = _self_assessed(session)
    for leader in PEOPLE:  # all three opened the page at the same version
        fired = step(session, target_id, "sign", leader, expected_version=seen)
    assert fired.target.state == "leader_signed"
    assert fired.record.payload["countersign"]["signed"] == [p.name for p in PEOPLE]
    assert chain.verify(session).ok


def test_a_return_after_the_page_was_drawn_is_still_a_conflict(session):
    target_id, seen = _self_assessed(session)
    step(session, target_id, "sign", f.LEADER, expected_version=seen)
    step(session, target_id, "return", f.LEADER_2)  # a return is not a countersignature
    step(session, target_id, "self_assess", f.STAFF)
    with pytest.raises(StaleVersion):  # the page showed the earlier self-assessment
        step(session, target_id, "sign", f.LEADER_3, expected_version=seen)


def test_other_triggers_still_need_the_current_version(session):
    target_id, seen = _self_assessed(session)
    step(session, target_id, "sign", f.LEADER, expected_version=seen)
    with pytest.raises(StaleVersion):
        step(session, target_id, "return", f.LEADER_2, expected_version=seen)


def test_a_return_tells_the_leaders_whose_signature_it_voided(session):
    target_id, _ = _self_assessed(session)
    step(session, target_id, "sign", f.LEADER)
    step(session, target_id, "sign", f.LEADER_2)
    step(session, target_id, "return", f.LEADER_3, comment="佐证材料不全")
    voided = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "target.signatures_voided")).all()
    assert len(voided) == 1
    assert voided[0].recipients == [{"kind": "person", "name": f.LEADER.name},
                                    {"kind": "person", "name": f.LEADER_2.name}]
    assert voided[0].data["comment"] == "佐证材料不全" and voided[0].data["actor"] == f.LEADER_3.name


def test_a_return_with_nobody_signed_tells_no_leader(session):
    target_id, _ = _self_assessed(session)
    step(session, target_id, "return", f.LEADER)
    assert session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "target.signatures_voided")).all() == []


def test_the_message_renders():
    from notifications import messages

    subject, body = messages.render("target.signatures_voided", {
        "code": "1-2-1", "text": "召开全市教育大会", "actor": "庄映峰", "comment": "请补充", "label": "退回修改",
        "to_label": "推进中"}, "李自坚")
    assert "1-2-1" in subject and "李自坚，您好" in body and "再次审签" in body
