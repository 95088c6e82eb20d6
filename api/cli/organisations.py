"""``kaoping org``: the organisations of the deployment (a tree: province → city → counties → schools)."""
from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session

from engine.store.db import make_engine

app = typer.Typer(help="组织（省、市、县(市、区)教育局，学校与其他单位）", no_args_is_help=True)

KINDS = ("province", "bureau", "county", "school", "unit")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="组织名称，如 泉港区教育局")],
    parent: Annotated[str | None, typer.Option("--parent", help="上级组织的名称（不填：顶级组织）")] = None,
    kind: Annotated[str, typer.Option("--kind", help="类型：province、bureau、county、school、unit")] = "bureau",
) -> None:
    """添加组织。"""
    from engine.people.actors import Actor
    from engine.people.organisations import KIND_LABELS
    from engine.plans import staffing
    from engine.store.errors import DomainError

    bind = make_engine()
    try:
        with Session(bind) as session:
            found = staffing.add_organisation(session=session, by=Actor.system(), name=name, parent=parent, kind=kind)
            label = KIND_LABELS.get(found.kind, found.kind)
    except DomainError as exc:
        typer.echo(f"未添加：{exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()
    typer.echo(f"已添加组织 {name}（{label}）" + (f"，上级：{parent}" if parent else "，顶级组织"))


@app.command("list")
def listing() -> None:
    """列出全部组织（按上下级缩进）。"""
    from engine.people import organisations

    bind = make_engine()
    try:
        with Session(bind) as session:
            found = organisations.listing(session)
            lines = [f"{'  ' * (o.path.count('/') - 1)}{o.name}（{organisations.KIND_LABELS.get(o.kind, o.kind)}，"
                     f"编号 {o.id}）" for o in found]
    finally:
        bind.dispose()
    typer.echo("\n".join(lines) if lines else "尚无组织（导入计划或 kaoping org add 时建立）")
