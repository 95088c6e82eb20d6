"""``kaoping workflows deploy``, ``workflows list`` and ``workflows migrate``."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from api.cli import bpmn as bpmn_cli
from engine.store.db import make_engine
from engine.store.errors import DomainError
from engine.bpmn import reader
from engine.workflow import deployments

BY_HELP = "部署或迁移人的姓名（写入审计记录）"


def deploy_command(
    file: Annotated[Path, typer.Argument(help="工作流定义（.yaml）或 BPMN 2.0 文件（.bpmn）", exists=True, dir_okay=False)],
    lenient: Annotated[bool, typer.Option("--lenient", help=bpmn_cli.LENIENT_HELP)] = False,
    role_map: Annotated[list[str], typer.Option("--role-map", help=bpmn_cli.ROLE_MAP_HELP)] = [],  # noqa: B006
    effect_map: Annotated[list[str], typer.Option("--map", help=bpmn_cli.MAP_HELP)] = [],  # noqa: B006
    by: Annotated[str, typer.Option("--by", help=BY_HELP)] = "系统",
) -> None:
    """部署工作流定义：检查后以新版本号存入数据库（记入审计）；新目标按最新版本运行。"""
    fmt = "bpmn" if file.suffix.lower() in (".bpmn", ".xml") else "yaml"
    bind = make_engine()
    try:
        with Session(bind, expire_on_commit=False) as session:
            done = reader.deploy(session=session, data=file.read_bytes(), filename=str(file), fmt=fmt, lenient=lenient,
                                 role_map=bpmn_cli.parse_role_map(role_map),
                                 effect_map=bpmn_cli.parse_pairs(effect_map, "--map", "任务id=效果"),
                                 actor=by, role="admin" if by != "系统" else "system")
    except DomainError as exc:
        typer.echo(f"未部署 {file}：", err=True)
        for reason in [e["reason"] for e in exc.details.get("errors") or []] or [exc.message]:
            typer.echo(reason, err=True)
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()
    row = done.deployment
    if done.new:
        typer.echo(f"已部署 {row.workflow} 第 {row.version} 版（{row.format}，校验和 {row.checksum[:12]}）")
    else:
        typer.echo(f"{row.workflow} 第 {row.version} 版与此文件相同，未部署新版本")


def list_command() -> None:
    """列出已部署的工作流定义：id、版本、格式、部署人、部署时间、运行中的目标数。"""
    bind = make_engine()
    try:
        with Session(bind, expire_on_commit=False) as session:
            rows, counts = deployments.listing(session=session), deployments.counts(session=session)
    finally:
        bind.dispose()
    if not rows:
        typer.echo("尚未部署任何工作流定义（kaoping init 会部署内置定义）")
    for row in rows:
        typer.echo(f"{row.workflow}\t第 {row.version} 版\t{row.format}\t{row.deployed_by}\t"
                   f"{row.deployed_at:%Y-%m-%d %H:%M}\t{counts.get((row.workflow, row.version), 0)} 个目标")


def migrate_command(
    workflow_id: Annotated[str, typer.Argument(help="工作流定义的 id")],
    from_version: Annotated[int, typer.Option("--from", help="目标现在运行的版本")],
    to_version: Annotated[int, typer.Option("--to", help="迁移到的版本")],
    mapping: Annotated[list[str], typer.Option("--map", help="旧状态=新状态；新版本没有的状态必须指定；可多次")] = [],  # noqa: B006
    by: Annotated[str, typer.Option("--by", help=BY_HELP)] = "系统",
) -> None:
    """把某一版本上的目标迁移到另一版本；新版本没有的状态须用 --map 对应，否则拒绝；每个目标记入审计。"""
    states = bpmn_cli.parse_pairs(mapping, "--map", "旧状态=新状态")
    bind = make_engine()
    try:
        with Session(bind, expire_on_commit=False) as session:
            moved = deployments.migrate(session=session, workflow_id=workflow_id, from_version=from_version,
                                        to_version=to_version, mapping=states, actor=by,
                                        role="admin" if by != "系统" else "system")
            typer.echo(f"已把 {len(moved)} 个目标从 {workflow_id} 第 {from_version} 版迁移到第 {to_version} 版")
    except DomainError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()
