"""`kaoping backup` and `kaoping restore`, as a person runs them, on both databases."""
from __future__ import annotations

from sqlmodel import Session, func, select

from engine.audit import chain
from engine.store.db import make_engine
from engine.store.models import Target
from tests import factories as f
from tests.cli_runner import kaoping
from tests.engine.lifecycle import drive


def _kaoping(url, files, *args):
    return kaoping(*args, env={"KAOPING_DATABASE_URL": url, "KAOPING_FILES_DIR": str(files)})


def test_backup_then_restore_over_newer_data(db_url, session, tmp_path):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    length = chain.verify(session).count  # the target's creation, the plan's milestones and its start
    files = tmp_path / "files"
    archive = tmp_path / "kaoping-backup.tar.gz"
    made = _kaoping(db_url, files, "backup", str(archive))
    assert made.returncode == 0, made.stderr
    assert f"审计链 {length} 条" in made.stdout and archive.is_file()
    f.target(session)
    session.close()

    refused = _kaoping(db_url, files, "restore", str(archive))
    assert refused.returncode == 1 and "--force" in refused.stderr

    restored = _kaoping(db_url, files, "restore", str(archive), "--force")
    assert restored.returncode == 0, restored.stderr
    assert f"审计链完整：共 {length} 条记录，与备份清单一致" in restored.stdout
    bind = make_engine(db_url)
    with Session(bind) as s:
        assert s.exec(select(func.count()).select_from(Target)).one() == 1
    bind.dispose()
    assert _kaoping(db_url, files, "audit", "verify").returncode == 0


def test_a_file_that_is_not_a_backup_is_refused(tmp_path):
    (tmp_path / "plan.xlsx").write_bytes(b"PK\x03\x04")
    out = _kaoping(f"sqlite:///{tmp_path / 'k.db'}", tmp_path / "files", "restore", str(tmp_path / "plan.xlsx"))
    assert out.returncode == 1 and "不是 kaoping 备份文件" in out.stderr
