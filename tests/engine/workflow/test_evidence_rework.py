"""A self-assessment made again after a return keeps the files chosen and removes the others, in the chain."""
from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import select

from engine.audit import checkpoints, replay
from engine.store.errors import InvalidPayload
from engine.store.models import Evidence, TransitionRecord
from engine.workflow import evidence
from engine.workflow.commands import fire
from tests import factories as f
from tests.engine.audit import trail
from tests.engine.lifecycle import step

PDF = b"%PDF-1.4 ledger"


@pytest.fixture
def returned(session, frozen, monkeypatch, tmp_path):
    """A target self-assessed with two files, then returned by its leader."""
    trail.use_files(monkeypatch, tmp_path)
    target = f.target(session)
    step(session, target.id, "start", f.STAFF)
    step(session, target.id, "self_assess", f.STAFF,
         uploads=[evidence.Upload("台账.pdf", PDF), evidence.Upload("照片.png", b"\x89PNG photo")])
    step(session, target.id, "return", f.LEADER)
    files = {e.filename: e.id for e in evidence.of_target(session, target.id)}
    return target.id, files


def test_rework_keeps_one_file_removes_the_other_and_the_chain_says_so(session, returned):
    target_id, files = returned
    fire(session=session, target_id=target_id, trigger="self_assess", actor=f.STAFF,
         payload={"self_score": 1.5, "summary": "已补充", "evidence": [files["台账.pdf"]]},
         uploads=[evidence.Upload("补充.pdf", b"%PDF-1.4 more")], remove_evidence=[files["照片.png"]])
    rows = {e.filename: e for e in evidence.of_target(session, target_id)}
    assert rows["照片.png"].removed_at is not None and rows["照片.png"].removed_by == f.STAFF.name
    assert rows["台账.pdf"].removed_at is None and rows["补充.pdf"].removed_at is None
    last = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == target_id)
                        .order_by(TransitionRecord.id.desc())).first()
    assert [e["name"] for e in last.payload["evidence"]] == ["台账.pdf", "补充.pdf"]
    assert last.payload["evidence_removed"] == [{"id": files["照片.png"], "name": "照片.png",
                                                 "sha256": rows["照片.png"].sha256}]
    check = replay.verify(session=session, public_pem=checkpoints.public_pem())
    assert check.ok, check.lines


def test_a_removal_made_behind_the_chain_is_found(session, returned):
    target_id, files = returned
    session.execute(update(Evidence).where(Evidence.id == files["台账.pdf"]).values(removed_at=Evidence.uploaded_at))
    session.commit()
    check = replay.verify(session=session, public_pem=checkpoints.public_pem())
    assert not check.ok
    assert f"佐证文件 {files['台账.pdf']}：数据库中已移除，记录中没有移除" in check.differences


@pytest.mark.parametrize("case", ["foreign", "twice", "kept_and_removed", "no_evidence_field"])
def test_bad_removals_are_refused_and_change_nothing(session, returned, case):
    target_id, files = returned
    other = f.target(session)
    payload, remove, trigger = {"self_score": 1, "summary": "再次提交"}, [files["照片.png"]], "self_assess"
    if case == "foreign":
        step(session, other.id, "start", f.STAFF)
        step(session, other.id, "report_progress", f.STAFF, uploads=[evidence.Upload("别的.pdf", PDF)])
        remove = [session.exec(select(Evidence.id).where(Evidence.target_id == other.id)).one()]
    elif case == "twice":
        fire(session=session, target_id=target_id, trigger="self_assess", actor=f.STAFF, payload=dict(payload),
             remove_evidence=remove)
        step(session, target_id, "return", f.LEADER)
    elif case == "kept_and_removed":
        payload["evidence"] = list(remove)
    else:  # 开始推进 takes no files: it removes none either
        target_id, trigger, payload = other.id, "start", {}
    before = session.exec(select(TransitionRecord.id).order_by(TransitionRecord.id.desc())).first()
    with pytest.raises(InvalidPayload):
        fire(session=session, target_id=target_id, trigger=trigger, actor=f.STAFF, payload=payload,
             remove_evidence=remove)
    assert session.exec(select(TransitionRecord.id).order_by(TransitionRecord.id.desc())).first() == before
    if case != "twice":
        assert session.get(Evidence, files["照片.png"]).removed_at is None


def test_a_removed_file_cannot_be_named_again(session, returned):
    target_id, files = returned
    fire(session=session, target_id=target_id, trigger="self_assess", actor=f.STAFF,
         payload={"self_score": 1, "summary": "再次提交"}, remove_evidence=[files["照片.png"]])
    step(session, target_id, "return", f.LEADER)
    with pytest.raises(InvalidPayload, match="已移除"):
        fire(session=session, target_id=target_id, trigger="self_assess", actor=f.STAFF,
             payload={"self_score": 1, "summary": "三次提交", "evidence": [files["照片.png"]]})


def test_the_offline_bundle_replays_the_removal_too(session, returned, tmp_path):
    from tests.engine.audit.test_checkpoints import _export, _offline

    target_id, files = returned
    fire(session=session, target_id=target_id, trigger="self_assess", actor=f.STAFF,
         payload={"self_score": 1, "summary": "再次提交"}, remove_evidence=[files["照片.png"]])
    done = _offline(tmp_path, _export(session, tmp_path, with_files=True))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == replay.verify(session=session, public_pem=checkpoints.public_pem()).lines
