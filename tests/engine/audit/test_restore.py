"""Backups taken while the server works restore whole: the chain verifies and matches the manifest."""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import signal
import tarfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlmodel import Session, select

from engine.audit import chain, restore
from engine.store import backup, schema
from engine.store.db import make_engine
from engine.store.errors import BackupRefused
from engine.store.models import ChainHead, Evidence, Target, TransitionRecord
from tests import factories as f
from tests.engine.lifecycle import drive
from tests.engine.store import rows
from tests.engine.workflow import workers

spawn = multiprocessing.get_context("spawn")
HEAD = ScriptDirectory.from_config(schema.alembic_config("sqlite://")).get_current_head()
PDF = b"%PDF-1.4 \xe4\xbd\x90\xe8\xaf\x81\xe6\x9d\x90\xe6\x96\x99"


def _evidence(session, files: Path, target_id: int, name: str = "0123abcd.pdf") -> None:
    files.mkdir(exist_ok=True)
    (files / name).write_bytes(PDF)
    session.add(Evidence(target_id=target_id, filename="进度表.pdf", content_type="application/pdf", size=len(PDF),
                         sha256=hashlib.sha256(PDF).hexdigest(), stored_as=name, uploaded_by=f.STAFF.name))
    session.commit()


def _head_count(url: str) -> int:
    bind = make_engine(url)
    try:
        with Session(bind) as s:
            return s.get(ChainHead, 1).count
    finally:
        bind.dispose()


def test_a_backup_taken_while_another_process_fires_restores_whole(db_url, session, spare_url, tmp_path):
    ts = [f.target(session) for _ in range(3)]
    for t in ts:
        drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    files = tmp_path / "files"
    _evidence(session, files, ts[0].id)
    committed = spawn.Semaphore(0)
    proc = spawn.Process(target=workers.fire_forever, args=(db_url, [t.id for t in ts], f.STAFF, committed))
    proc.start()
    try:
        for _ in range(3):
            assert committed.acquire(timeout=300), "the child never committed"
        manifest = backup.create(url=db_url, path=tmp_path / "kaoping.tar.gz", files_dir=files)
        while _head_count(db_url) <= manifest.chain_count:  # the writes go on past the backup
            assert committed.acquire(timeout=300), "the child stopped committing"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)
    assert manifest.chain_count >= 3 + 3 and manifest.revision == HEAD
    assert manifest.counts["transitionrecord"] == manifest.chain_count and manifest.counts["target"] == 3

    restored = restore.restore(path=tmp_path / "kaoping.tar.gz", url=spare_url, files_dir=tmp_path / "restored")

    assert restored.ok, restored.problems
    assert restored.check == chain.ChainCheck(count=manifest.chain_count, ok=True)
    assert (tmp_path / "restored" / "0123abcd.pdf").read_bytes() == PDF
    bind = make_engine(spare_url)
    try:
        with Session(bind) as s:
            versions = sorted(t.version for t in s.exec(select(Target)))
            records = s.exec(select(TransitionRecord)).all()
    finally:
        bind.dispose()
    assert len(records) == manifest.chain_count
    moves = [r for r in records if r.kind == "transition"]
    assert sum(v - 1 for v in versions) == len(moves)  # each transition record moved a target once


def test_restore_refuses_a_database_with_data_unless_forced(db_url, session, tmp_path):
    t = f.target(session)
    drive(session, t.id, "in_progress", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    archive = tmp_path / "b.tar.gz"
    backup.create(url=db_url, path=archive, files_dir=tmp_path / "files")
    f.target(session)  # written after the backup
    with pytest.raises(BackupRefused, match="--force"):
        restore.restore(path=archive, url=db_url, files_dir=tmp_path / "files")
    session.close()
    restored = restore.restore(path=archive, url=db_url, files_dir=tmp_path / "files", force=True)
    assert restored.ok, restored.problems
    assert restored.check.count == restored.manifest.chain_count and restored.manifest.counts["target"] == 1
    bind = make_engine(db_url)
    with Session(bind) as s:
        assert len(s.exec(select(Target)).all()) == 1
    bind.dispose()


def test_restore_into_an_initialised_empty_database(db_url, session, spare_url, tmp_path):
    """A database that `kaoping init` made (schema, chain head, nothing else) counts as empty."""
    t = f.target(session)
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    archive = tmp_path / "b.tar.gz"
    manifest = backup.create(url=db_url, path=archive, files_dir=tmp_path / "files")
    assert backup.is_empty(spare_url)  # no schema at all
    schema.upgrade(spare_url)
    assert backup.is_empty(spare_url) and not backup.is_empty(db_url)
    restored = restore.restore(path=archive, url=spare_url, files_dir=tmp_path / "files")
    assert restored.ok and restored.check.count == manifest.chain_count >= 2


def test_an_older_schema_is_upgraded_after_the_restore(blank_url, tmp_path):
    schema.upgrade(blank_url, revision="0006")
    bind = make_engine(blank_url)
    with bind.begin() as connection:
        rows.fill(connection)
    bind.dispose()
    archive = tmp_path / "old.tar.gz"
    manifest = backup.create(url=blank_url, path=archive, files_dir=tmp_path / "files")
    assert manifest.revision == "0006" and manifest.chain_count == rows.RECORDS
    assert sorted(manifest.missing_files) == sorted(f"{i:032x}.pdf" for i in range(rows.ROWS))  # rows without files
    restored = restore.restore(path=archive, url=blank_url, files_dir=tmp_path / "files", force=True)
    assert restored.ok, restored.problems
    with make_engine(blank_url).connect() as connection:
        assert backup.describe(connection)["revision"] == HEAD


def _rewrite_manifest(archive: Path, out: Path, **changes) -> None:
    with tarfile.open(archive, "r:gz") as source, tarfile.open(out, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == backup.MANIFEST:
                data = json.dumps({**json.loads(data), **changes}).encode()
                member.size = len(data)
            target.addfile(member, io.BytesIO(data))


def test_restore_refuses_a_newer_schema_and_foreign_files(db_url, session, spare_url, tmp_path):
    f.target(session)
    archive = tmp_path / "b.tar.gz"
    backup.create(url=db_url, path=archive, files_dir=tmp_path / "files")
    _rewrite_manifest(archive, tmp_path / "newer.tar.gz", revision="9999")
    with pytest.raises(BackupRefused, match="9999"):
        restore.restore(path=tmp_path / "newer.tar.gz", url=spare_url, files_dir=tmp_path / "files")
    (tmp_path / "not-a-backup.tar.gz").write_bytes(b"PK\x03\x04 a zip, not a backup")
    with pytest.raises(BackupRefused, match="不是 kaoping 备份文件"):
        restore.restore(path=tmp_path / "not-a-backup.tar.gz", url=spare_url, files_dir=tmp_path / "files")
    other = "sqlite:///" + str(tmp_path / "other.db") if not db_url.startswith("sqlite") else \
        "postgresql+psycopg://postgres@127.0.0.1:5432/unused"
    with pytest.raises(BackupRefused, match="不能恢复到"):
        restore.restore(path=archive, url=other, files_dir=tmp_path / "files")
    _rewrite_manifest(archive, tmp_path / "escape.tar.gz", files={"../../etc/passwd": "0" * 64})
    with pytest.raises(BackupRefused, match="不安全"):
        restore.restore(path=tmp_path / "escape.tar.gz", url=spare_url, files_dir=tmp_path / "files")


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.parametrize("tool", ["pg_dump", "pg_restore"])
def test_a_missing_postgresql_tool_is_named(db_url, tmp_path, monkeypatch, tool):
    archive = tmp_path / "b.tar.gz"
    if tool == "pg_restore":
        backup.create(url=db_url, path=archive, files_dir=tmp_path / "files")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    with pytest.raises(BackupRefused, match=tool):
        if tool == "pg_dump":
            backup.create(url=db_url, path=archive, files_dir=tmp_path / "files")
        else:
            restore.restore(path=archive, url=db_url, files_dir=tmp_path / "files", force=True)
