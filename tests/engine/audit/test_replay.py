"""Whole-state verification: each tampering an administrator could do is found, by the server and the bundle."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from engine.audit import checkpoints, replay
from engine.plans import service as plans, staffing
from engine.schedule import escalation
from engine.store.config import settings
from engine.store.models import Evidence, Target
from tests import factories as f
from tests.engine.audit import trail
from tests.engine.lifecycle import step


@pytest.fixture
def built(session, frozen, monkeypatch, tmp_path):
    trail.use_files(monkeypatch, tmp_path)
    return trail.build(session, frozen)


def _verify(session, kept: list | None = None):
    return replay.verify(session=session, checkpoints=kept or [], public_pem=checkpoints.public_pem())


def _kept() -> list[dict]:
    return checkpoints.read_file(settings().checkpoint_file)


def test_an_honest_trail_verifies(session, built):
    check = _verify(session)
    assert check.ok, check.lines
    assert check.count == len(trail.rows(session)) and "当前状态与历史一致" in check.lines[0]


def test_office_edits_escalation_and_admin_changes_are_replayed(session, built, frozen):
    plans.set_milestone(session=session, plan_id=1, key="evaluation", phrase="1月9日前", actor=f.OFFICE)
    plans.add_dynamic(session=session, plan_id=1, actor=f.OFFICE, code="D-1", text="临时交办的动态工作", weight=1,
                      reason="市里临时交办", deadline_phrase="6月底前", sections=["规划科"], leaders=["林长华"], persons=[])
    user = session.exec(select(Target).where(Target.code == "D-1")).one()
    assert user.state == "assigned"
    staffing.update(session=session, by=trail.ADMIN, user_id=1, roles=["staff", "leader"], sections=["规划科", "思政科"])
    frozen.move(timedelta(days=300))  # long past every deadline: the sweep climbs the ladder and supervises
    assert escalation.sweep(session.get_bind()).fired
    check = _verify(session)
    assert check.ok, check.lines


def test_setting_a_state_or_a_score_directly_is_found(session, built):
    trail.sql(session, "UPDATE target SET state = 'scored' WHERE id = :t", t=built.b)
    check = _verify(session)
    assert not check.ok and check.problem is None
    assert check.differences[0].startswith(f"目标 T-") and "状态 记录为 'verified'，数据库为 'scored'" in check.differences[0]
    trail.sql(session, "UPDATE target SET state = 'verified', score = 99 WHERE id = :t", t=built.b)
    assert "得分 记录为 None，数据库为 '99.00'" in _verify(session).differences[0]


@pytest.mark.parametrize(("column", "value", "label"), [("version", 9, "版本"), ("supervised", True, "督办"),
                                                        ("escalation_level", 3, "催办级别"), ("self_score", 2, "自评分")])
def test_every_tracked_field_of_a_target_is_compared(session, built, column, value, label):
    trail.sql(session, f"UPDATE target SET {column} = :v WHERE id = :t", v=value, t=built.a)
    assert f"：{label} 记录为" in _verify(session).differences[0]


def test_deleting_a_signature_is_found(session, built):
    trail.sql(session, "DELETE FROM signature WHERE target_id = :t", t=built.b)
    check = _verify(session)
    assert not check.ok and "审签人 记录为 ['林长华']，数据库为 []" in check.differences[0]


def test_editing_a_users_roles_is_found(session, built):
    trail.sql(session, """UPDATE "user" SET roles = '["staff", "office"]' WHERE name = :n""", n=f.STAFF.name)
    check = _verify(session)
    assert not check.ok and check.differences[0].startswith(f"用户 {f.STAFF.name}：角色")
    trail.sql(session, """UPDATE "user" SET roles = '["staff"]' WHERE name = :n""", n=f.STAFF.name)
    trail.sql(session, "DELETE FROM usersection")
    assert _verify(session).differences[0].startswith(f"用户 {f.STAFF.name}：科室")


def test_a_user_added_behind_the_admins_back_is_found(session, built):
    trail.sql(session, """INSERT INTO "user" (org_id, name, login, roles, active, failed_logins, created_at)
                          SELECT min(id), '冒名者', '冒名者', '["office"]', true, 0, CURRENT_TIMESTAMP FROM organisation""")
    assert "用户 冒名者：没有记录" in _verify(session).differences[0]


def test_moving_a_milestone_directly_is_found(session, built):
    trail.sql(session, "UPDATE milestone SET due_date = '2025-02-01' WHERE key = 'evaluation'")
    assert "里程碑 evaluation：记录为 '2025-01-10'，数据库为 '2025-02-01'" in _verify(session).differences[0]


def test_replacing_an_evidence_file_is_found(session, built):
    row = session.exec(select(Evidence)).one()
    (Path(settings().files_dir) / row.stored_as).write_bytes(b"%PDF-1.4 forged notes")
    check = _verify(session)
    assert not check.ok and "文件内容与记录的 SHA-256 不符" in check.differences[0]
    trail.sql(session, "UPDATE evidence SET sha256 = :h", h="0" * 64)
    assert "数据库中的校验值与记录不符" in _verify(session).differences[0]


@pytest.mark.parametrize(("tamper", "found"), [(trail.truncate, "末尾记录被删除"), (trail.rewrite_score, "链被改写"),
                                               (trail.renumber, "末尾记录被删除"), (trail.forge_score, "事后补写")],
                         ids=["truncated", "rewritten", "renumbered", "forged"])
def test_consistent_tampering_is_found_with_the_kept_checkpoints(session, built, frozen, tamper, found):
    kept = trail.checkpoint(session, frozen)
    tamper(session, built)
    assert not _verify(session).ok  # the database's own checkpoint still tells
    trail.sql(session, "DELETE FROM auditcheckpoint")  # the administrator removes it too
    assert _verify(session).ok  # what the database alone can tell
    check = _verify(session, _kept())
    assert not check.ok and found in check.problem
    if tamper is trail.forge_score:
        assert check.first_bad_id == kept["length"] + 1


def test_a_forged_record_that_skips_the_workflow_is_found(session, built):
    trail.append_forged(session, {
        "target_id": built.c, "kind": "transition", "actor": f.OFFICE.name, "role": "office", "trigger": "score",
        "from_state": "verified", "to_state": "scored", "at": trail.rows(session)[-1]["at"], "comment": "",
        "payload": {"score": 2, "after": {"state": "scored", "score": "2.00"}}})
    check = _verify(session)
    assert not check.ok and "原状态“verified”与历史重放的状态“in_progress”不符" in check.problem


def test_a_forged_checkpoint_signature_is_refused(session, built, frozen):
    trail.checkpoint(session, frozen)
    trail.sql(session, "UPDATE auditcheckpoint SET length = length - 1")
    check = _verify(session)
    assert not check.ok and "签名无效" in check.problem


def test_made_up_evidence_is_refused(session, built):
    from engine.store.errors import InvalidPayload

    for made_up in (["进度表.pdf"], [{"id": 999}], list(range(300_000))):
        with pytest.raises(InvalidPayload):
            step(session, built.c, "report_progress", f.STAFF,
                 payload={"note": "附件", "percent": 70, "evidence": made_up})
    own = session.exec(select(Evidence)).one()
    done = step(session, built.c, "report_progress", f.STAFF, payload={"note": "附件", "percent": 70,
                                                                      "evidence": [own.id]})
    assert done.record.payload["evidence"] == [{"id": own.id, "name": "纪要.pdf", "sha256": own.sha256}]
    assert _verify(session).ok
    assert session.execute(text("SELECT count(*) FROM transitionrecord")).scalar_one() == done.record.id
