"""Who may open a target's evidence, and who submits its self-assessment (the lead section only)."""
from __future__ import annotations

import pytest
from sqlmodel import select

from engine.people.actors import Actor
from engine.store.errors import Forbidden, NotFound
from engine.store.models import Evidence
from engine.workflow import evidence
from tests import factories as f
from tests.engine.lifecycle import step

PDF = b"%PDF-1.4 progress report"
ZUZHI_STAFF = Actor("王毅樟", frozenset({"staff"}), frozenset({"组织科"}))


@pytest.fixture
def files(tmp_path, monkeypatch):
    from engine.store.config import settings

    monkeypatch.setattr(settings(), "files_dir", str(tmp_path / "files"))


def _joint_target(session):
    """A target led by 规划科 with 思政科 cooperating, signed by 林长华."""
    return f.target(session, sections=("规划科", "思政科"), leaders=("林长华",), persons=("洪玮玮", "陈华森"))


def test_evidence_only_for_the_targets_parties_the_office_and_the_auditor(session, files):
    t = _joint_target(session)
    step(session, t.id, "start", f.STAFF)
    step(session, t.id, "report_progress", f.STAFF, uploads=[evidence.Upload("进度.pdf", PDF)])
    evidence_id = session.exec(select(Evidence.id)).one()
    for actor in (f.STAFF, f.OTHER_STAFF, f.LEADER, f.OFFICE, f.AUDITOR):
        row, path = evidence.fetch(session=session, evidence_id=evidence_id, actor=actor)
        assert path.read_bytes() == PDF and row.filename == "进度.pdf"
    for actor in (ZUZHI_STAFF, f.OTHER_LEADER, f.ADMIN, Actor("陈华森", frozenset({"leader"}))):
        with pytest.raises(Forbidden) as refused:
            evidence.fetch(session=session, evidence_id=evidence_id, actor=actor)
        assert refused.value.code == "out_of_scope" and "佐证材料" in refused.value.message
    other = f.target(session)
    with pytest.raises(NotFound):  # a file asked for under another target is not there
        evidence.fetch(session=session, evidence_id=evidence_id, actor=f.OFFICE, target_id=other.id)


def test_only_the_lead_section_submits_the_self_assessment(session):
    t = _joint_target(session)
    step(session, t.id, "start", f.OTHER_STAFF)  # any section of the target starts and reports
    step(session, t.id, "report_progress", f.OTHER_STAFF)
    with pytest.raises(Forbidden) as refused:
        step(session, t.id, "self_assess", f.OTHER_STAFF)
    assert refused.value.code == "out_of_scope" and "牵头科室（规划科）" in refused.value.message
    session.rollback()
    assert step(session, t.id, "self_assess", f.STAFF).target.state == "self_assessed"


def test_a_cooperating_section_is_not_offered_the_self_assessment(session):
    from engine.workflow.commands import available
    from engine.workflow.targets import get

    t = _joint_target(session)
    step(session, t.id, "start", f.STAFF)
    target = get(session=session, target_id=t.id)
    lead = {a.spec.trigger for a in available(session=session, target=target, actor=f.STAFF)}
    cooperating = {a.spec.trigger for a in available(session=session, target=target, actor=f.OTHER_STAFF)}
    assert lead == {"report_progress", "self_assess"} and cooperating == {"report_progress"}
