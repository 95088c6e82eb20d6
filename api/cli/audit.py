"""``kaoping audit verify | checkpoint | export``: the audit trail from the command line."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from engine.audit import bundle, checkpoints, replay
from engine.people import organisations
from engine.store.db import make_engine
from engine.store.errors import DomainError

audit_app = typer.Typer(help="流转记录（审计链）：校验、签名检查点、离线审计包", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    kept: Annotated[Path | None, typer.Option("--checkpoints", help="审计人员保存的检查点文件（每行一个 JSON）")] = None,
    org: Annotated[str | None, typer.Option("--org", help="只校验该单位及其下级单位的审计链（单位名称）")] = None,
) -> None:
    """重放审计链，核对每个目标、用户、计划里程碑和佐证文件的当前状态，并核对签名检查点。"""
    extra = checkpoints.read_file(kept) if kept else []
    bind = make_engine()
    try:
        with Session(bind) as session:
            org_id = organisations.named(session, org).id if org else None
            check = replay.verify(session=session, checkpoints=extra, public_pem=checkpoints.public_pem(), org_id=org_id)
    except DomainError as exc:
        typer.echo(f"无法校验：{exc.message}", err=True)
        raise typer.Exit(2) from exc
    finally:
        bind.dispose()
    typer.echo("\n".join(check.lines), err=not check.ok)
    if not check.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """对每个单位的审计链（及系统链）的链头签名（Ed25519），存入数据库、追加到检查点文件并发送给审计人员。"""
    bind = make_engine()
    try:
        with Session(bind) as session:
            taken = checkpoints.take_all(session=session, reason="手动")
            names = {o.id: o.name for o in organisations.listing(session)}
    except DomainError as exc:
        typer.echo(f"未签名：{exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()
    for found in taken:
        typer.echo(f"已签名检查点：{found['length']} 条记录，{found['at']}，"
                   f"指纹 {checkpoints.core.checkpoint_fingerprint(found)}；公钥指纹 {found['key_fingerprint']}"
                   f"（{names.get(found['org'], '系统链')}）")


@audit_app.command("export")
def export(
    plan: Annotated[int, typer.Option("--plan", help="计划编号")],
    output: Annotated[Path, typer.Option("-o", "--output", help="审计包文件（.zip）")],
    files: Annotated[bool, typer.Option("--with-files", help="附带佐证文件本身")] = False,
    org: Annotated[str | None, typer.Option("--org", help="计划所属单位或其上级单位（单位名称）")] = None,
) -> None:
    """导出离线审计包：计划所属单位的审计链、检查点、公钥、佐证文件哈希和独立的校验程序。"""
    bind = make_engine()
    try:
        with Session(bind) as session:
            org_id = organisations.named(session, org).id if org else None
            done = bundle.export(session=session, plan_id=plan, path=output, with_files=files, org_id=org_id)
    except DomainError as exc:
        typer.echo(f"未导出：{exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()
    typer.echo(f"已导出 {done.path}：{done.records} 条记录，{done.checkpoints} 个检查点，{done.files} 个佐证文件")
