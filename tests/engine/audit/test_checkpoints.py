"""Signed checkpoints: the key file, the three copies, and the offline bundle's own verifier."""
from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlmodel import select

from engine.audit import bundle, checkpoints, offline_verifier, replay
from engine.store.config import settings
from engine.store.models import AuditCheckpoint, Evidence, InboxItem, User
from notifications import dispatch
from tests import factories as f
from tests.engine.audit import trail


@pytest.fixture
def built(session, frozen, monkeypatch, tmp_path):
    trail.use_files(monkeypatch, tmp_path)
    return trail.build(session, frozen)


def test_the_key_is_created_readable_by_its_owner_only(session, built):
    assert checkpoints.load_key(create=False) is None and checkpoints.public_key_info() is None
    checkpoints.take(session=session)
    path = Path(settings().audit_key_file)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = checkpoints.public_key_info()
    assert info["pem"].startswith("-----BEGIN PUBLIC KEY-----") and len(info["fingerprint"]) == 19
    path.chmod(0o644)
    with pytest.raises(checkpoints.AuditKeyError, match="chmod 600"):
        checkpoints.take(session=session)


def test_a_checkpoint_is_kept_in_the_database_a_file_and_the_auditors_inbox(session, built, frozen):
    first = trail.checkpoint(session, frozen)
    assert first["length"] == len(trail.rows(session))
    assert first["state_digest"] == replay.replay(session)[0].state_digest()
    row = session.exec(select(AuditCheckpoint)).one()
    assert (row.length, row.last_hash, row.signature) == (first["length"], first["last_hash"], first["signature"])
    assert checkpoints.read_file(settings().checkpoint_file) == [first]
    session.rollback()
    dispatch.dispatch(session.get_bind())
    auditor = session.exec(select(User).where(User.name == "审计员")).one()
    message = session.exec(select(InboxItem).where(InboxItem.user_id == auditor.id)).one()
    assert "审计检查点" in message.subject and first["signature"] in message.body
    assert offline_verifier.checkpoint_fingerprint(first) in message.body
    second = trail.checkpoint(session, frozen)
    assert [c["length"] for c in checkpoints.read_file(settings().checkpoint_file)] == [first["length"]] * 2
    assert checkpoints.latest(session)["signature"] == second["signature"]
    check = replay.verify(session=session, public_pem=checkpoints.public_pem())
    assert check.ok and "签名检查点 2 个" in check.lines[1] and "其后 0 条记录尚未签名" in check.lines[1]


def test_a_tampered_chain_is_not_signed(session, built):
    trail.sql(session, "UPDATE transitionrecord SET comment = '改过' WHERE id = 3")
    with pytest.raises(checkpoints.ChainBroken):
        checkpoints.take(session=session)
    assert session.exec(select(AuditCheckpoint)).first() is None


def test_the_daily_job_names_the_milestone_due_today(session, built, frozen):
    from engine.calendar import clock
    from datetime import datetime

    with clock.frozen(datetime(2024, 12, 30, 23, 50)):
        assert "里程碑：" in checkpoints.scheduled(session.get_bind())["reason"]
    with clock.frozen(datetime(2024, 12, 31, 23, 50)):
        assert checkpoints.scheduled(session.get_bind())["reason"] == "每日"


def test_the_verifier_imports_nothing_of_kaoping():
    tree = ast.parse(Path(offline_verifier.__file__).read_text("utf-8"))
    names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert names <= set(sys.stdlib_module_names) | {"cryptography", "__future__"}, names


def _offline(tmp_path, path: Path, *extra: str) -> subprocess.CompletedProcess:
    """The bundle's own verifier, unpacked into a clean folder, run by an isolated Python with no settings."""
    where = tmp_path / "inspector"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    with zipfile.ZipFile(path) as z:
        z.extract("offline_verifier.py", where)
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, "-I", str(where / "offline_verifier.py"), str(path), *extra],
                          capture_output=True, text=True, env=env, cwd=where, timeout=300)


def _export(session, tmp_path, **kw) -> Path:
    path = tmp_path / "bundle.zip"
    bundle.export(session=session, plan_id=1, path=path, **kw)
    return path


def _server(session, kept=()) -> replay.StateCheck:
    return replay.verify(session=session, checkpoints=list(kept), public_pem=checkpoints.public_pem())


def test_the_bundle_holds_what_an_inspector_needs_and_agrees_with_the_server(session, built, frozen, tmp_path):
    trail.checkpoint(session, frozen)
    path = _export(session, tmp_path, with_files=True)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        state = json.loads(z.read("state.json"))
    assert {"records.jsonl", "checkpoints.jsonl", "public_key.pem", "state.json", "offline_verifier.py",
            "README.txt", "manifest.json"} <= names
    assert any(n.startswith("evidence/") for n in names) and len(state["scope"]) == 3
    done = _offline(tmp_path, path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == _server(session).lines


def _tamper_state(session, built):
    trail.sql(session, "UPDATE target SET state = 'scored' WHERE id = :t", t=built.b)


def _tamper_score(session, built):
    trail.sql(session, "UPDATE target SET score = 99 WHERE id = :t", t=built.a)


def _tamper_signature(session, built):
    trail.sql(session, "DELETE FROM signature WHERE target_id = :t", t=built.b)


def _tamper_roles(session, built):
    trail.sql(session, """UPDATE "user" SET roles = '["office"]' WHERE name = :n""", n=f.STAFF.name)


def _tamper_file(session, built):
    row = session.exec(select(Evidence)).one()
    (Path(settings().files_dir) / row.stored_as).write_bytes(b"%PDF-1.4 forged")


@pytest.mark.parametrize("tamper", [_tamper_state, _tamper_score, _tamper_signature, _tamper_roles, _tamper_file, trail.truncate,
                                    trail.rewrite_score, trail.renumber, trail.forge_score],
                         ids=lambda t: t.__name__.removeprefix("_tamper_"))
def test_the_offline_verifier_finds_each_tampering(session, built, frozen, tmp_path, tamper):
    trail.checkpoint(session, frozen)
    kept = tmp_path / "my-checkpoints.jsonl"
    shutil.copy(settings().checkpoint_file, kept)
    tamper(session, built)
    trail.sql(session, "DELETE FROM auditcheckpoint")  # the administrator removes the database's copies
    path = _export(session, tmp_path, with_files=True)
    done = _offline(tmp_path, path, "--checkpoints", str(kept))
    server = _server(session, checkpoints.read_file(kept))
    assert done.returncode == 1 and not server.ok, done.stdout
    assert done.stdout.splitlines()[0] == server.lines[0]


def test_the_evaluation_report_prints_the_fingerprints(session, built, frozen):
    from api import report_render
    from engine.scoring import report

    assert "尚无签名检查点" in report_render.html(report.build(session=session, plan_id=1))
    found = trail.checkpoint(session, frozen)
    page = report_render.html(report.build(session=session, plan_id=1))
    assert offline_verifier.checkpoint_fingerprint(found) in page and found["key_fingerprint"] in page
