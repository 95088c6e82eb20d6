"""``kaoping backup FILE`` and ``kaoping restore FILE [--force]``."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.audit import restore as restoring
from engine.store import backup
from engine.store.config import settings
from engine.store.errors import DomainError


def _summary(manifest: backup.Manifest) -> str:
    rows = sum(manifest.counts.values())
    last = manifest.chain_last_hash[:12] + "…" if manifest.chain_count else "—"
    return (f"数据库结构修订 {manifest.revision}，审计链 {manifest.chain_count} 条（末条哈希 {last}），"
            f"{len(manifest.counts)} 张表共 {rows} 行，证据文件 {len(manifest.files)} 个；"
            f"{manifest.created_at} 由 kaoping {manifest.version} 备份")


def backup_command(file: Annotated[Path, typer.Argument(help="备份文件（如 kaoping-2024-12-31.tar.gz）")]) -> None:
    """备份数据库和证据文件（服务运行时也一致）到一个文件，附清单。"""
    config = settings()
    try:
        manifest = backup.create(url=config.database_url, path=file, files_dir=Path(config.files_dir))
    except DomainError as exc:
        typer.echo(f"未备份：{exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已备份到 {file}：{_summary(manifest)}")
    if manifest.missing_files:
        typer.echo(f"注意：数据库记载的 {len(manifest.missing_files)} 个证据文件不在 {config.files_dir} 中："
                   + "、".join(manifest.missing_files[:10]), err=True)


def restore_command(
    file: Annotated[Path, typer.Argument(help="kaoping backup 写出的备份文件")],
    force: Annotated[bool, typer.Option("--force", help="目标数据库已有数据时也覆盖它")] = False,
) -> None:
    """从备份恢复数据库和证据文件；较旧的结构随即升级；最后校验审计链并与清单核对。"""
    config = settings()
    try:
        result = restoring.restore(path=file, url=config.database_url, files_dir=Path(config.files_dir), force=force)
    except DomainError as exc:
        typer.echo(f"未恢复：{exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已从 {file} 恢复：{_summary(result.manifest)}")
    if not result.ok:
        for problem in result.problems:
            typer.echo(f"核对不符：{problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"审计链完整：共 {result.check.count} 条记录，与备份清单一致")
