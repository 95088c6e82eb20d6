"""Restoring a backup ends with the chain check, compared with what the backup's manifest promised."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from engine.audit import chain
from engine.store import backup
from engine.store.db import make_engine
from engine.store.models import TransitionRecord


@dataclass(frozen=True)
class Restored:
    """What came back: the manifest, the chain check, and every way the database differs from the manifest."""

    manifest: backup.Manifest
    check: chain.ChainCheck
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def restore(*, path: Path, url: str, files_dir: Path, force: bool = False) -> Restored:
    """Restore the backup at ``path`` (see :func:`engine.store.backup.load`), then check the chain against it."""
    manifest = backup.load(path=path, url=url, files_dir=files_dir, force=force)
    bind = make_engine(url)
    try:
        with Session(bind) as session:
            check = chain.verify(session)
            last = session.exec(select(TransitionRecord).where(TransitionRecord.hash == manifest.chain_last_hash)).first() \
                if manifest.chain_count else None
            # An upgrade of an older backup may append baseline records (what was there); nothing else.
            appended = session.exec(select(TransitionRecord.trigger)
                                    .where(TransitionRecord.id > (last.id if last is not None else 0))).all()
            with bind.connect() as connection:
                counts = backup.describe(connection)["counts"]
    finally:
        bind.dispose()
    baseline = sum(1 for trigger in appended if trigger == "baseline")
    problems = []
    if not check.ok:
        problems.append(f"审计链校验失败：第 {check.first_bad_id} 条记录，{check.reason}")
    if check.count - baseline != manifest.chain_count or baseline != len(appended):
        problems.append(f"审计链有 {check.count} 条记录（升级补记 {baseline} 条），备份清单记载 {manifest.chain_count} 条")
    if manifest.chain_count and (last is None or last.hash != manifest.chain_last_hash):
        problems.append("审计链末条哈希与备份清单不符")
    for table, expected in sorted(manifest.counts.items()):
        found = counts.get(table, 0) - (baseline if table == "transitionrecord" else 0)
        if found != expected:
            problems.append(f"表 {table} 有 {counts.get(table, 0)} 行，备份清单记载 {expected} 行")
    return Restored(manifest, check, problems)
