"""``kaoping import-plan`` and ``kaoping export-plan``."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from engine.plans import importer, indicator_table, names, table as planfile, service
from engine.people.actors import Actor
from engine.store.db import make_engine
from engine.store.errors import NotFound
from engine.store.models import Plan
from engine.plans.exporter import write_xlsx

console = Console()
PROGRESS_FROM = 200  # rows; smaller files finish before a bar would be worth drawing
CLI_ACTOR = Actor("命令行导入", frozenset({"admin"}))


def summary(draft: importer.PlanDraft) -> list[Table]:
    """Targets and weight per category and per section, and the plan's total weight."""
    by_category: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    by_section: dict[str, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    for d in draft.targets:
        by_category[d.category][0] += 1
        by_category[d.category][1] += d.weight
        for position, section in enumerate(d.sections):
            by_section[section][0 if position == 0 else 1] += 1
            by_section[section][2] += d.weight
    categories = Table(title=f"{draft.title}：按类别")
    for column in ("类别", "目标数", "权重合计"):
        categories.add_column(column)
    for name, (count, weight) in by_category.items():
        categories.add_row(name or "（未分类）", str(count), f"{weight:g}")
    total = sum((d.weight for d in draft.targets), Decimal(0))
    categories.add_row("合计", str(len(draft.targets)), f"{total:g}", style="bold")
    sections = Table(title="按责任科室（共同负责的目标计入每个科室）")
    for column in ("责任科室", "牵头", "协同", "权重合计"):
        sections.add_column(column)
    for name, (lead, cooperate, weight) in sorted(by_section.items(), key=lambda kv: -kv[1][2]):
        sections.add_row(name, str(lead), str(cooperate), f"{weight:g}")
    return [categories, sections]


def import_plan(
    file: Annotated[Path, typer.Argument(help="考评表文件：.xlsx、.xls、.docx、.csv（UTF-8 或 GB18030）或 .yaml",
                                         exists=True, dir_okay=False)],
    plan_year: Annotated[int | None, typer.Option("--plan-year", help="计划年度（默认从文件中识别）")] = None,
    org: Annotated[str | None, typer.Option("--org", help="单位名称（默认从标题中识别）")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只校验，不写入")] = False,
    force: Annotated[bool, typer.Option("--force", help="允许修改已开始流转的目标（记入审计）")] = False,
    alias: Annotated[list[str] | None, typer.Option("--alias", help="科室别名“简称=全称”，可重复：--alias 民管=民管科")] = None,
    weights: Annotated[str | None, typer.Option("--weights", help="三级指标表的权重规则：equal，或 产出=50,效益=30,满意度=20")] = None,
    leader: Annotated[str | None, typer.Option("--leader", help="三级指标表：审签各职能目标的分管领导")] = None,
    section: Annotated[str | None, typer.Option("--section", help="三级指标表：责任科室（默认为表中的部门名称）")] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", help="计划的目标所用的已部署工作流 id（默认 target；"
                                                                     "新目标用其最新版本）")] = None,
) -> None:
    """导入绩效目标考评表：先逐行校验，全部通过才写入；重复导入按编号更新。"""
    try:
        table = indicator_table.complete(planfile.read(file.read_bytes(), file.name), weights=weights, leader=leader,
                                         section=section)
    except planfile.PlanFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    with Progress(console=console, transient=True, disable=len(table.rows) < PROGRESS_FROM) as bar:
        task = bar.add_task("校验", total=len(table.rows))
        draft = importer.parse(table, file.name, plan_year=plan_year, org=org,
                               aliases=importer.parse_aliases(alias or []), progress=lambda n: bar.advance(task, n))
    if draft.errors:
        _refused(draft.errors)
    draft.workflow = workflow
    for part in summary(draft):
        console.print(part)
    bind = make_engine()
    _warn(bind, draft)
    if dry_run:
        bind.dispose()
        console.print(f"校验通过（未写入）：{draft.org} {draft.year} 年，{len(draft.targets)} 个目标")
        return
    try:
        with Session(bind, expire_on_commit=False) as session, \
                Progress(console=console, transient=True, disable=len(table.rows) < PROGRESS_FROM) as bar:
            task = bar.add_task("写入", total=len(draft.targets))
            result = service.apply(session=session, draft=draft, actor=CLI_ACTOR, force=force,
                                 progress=lambda n: bar.advance(task, n))
    except importer.ImportRefused as exc:
        _refused(exc.errors)
    except NotFound as exc:  # --workflow names an id that is not deployed
        console.print(f"[red]计划未导入（未写入任何数据）：{exc.message}[/red]")
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()
    console.print(f"已导入计划 {result.plan_id}（{draft.org} {draft.year} 年）：新增 {result.created}，"
                  f"更新 {result.updated}，未变 {result.unchanged}"
                  + (f"，下达下级单位 {result.handed_down}" if result.handed_down else ""))


def _warn(bind, draft: importer.PlanDraft) -> None:
    """Print what the person importing should check, before anything is written."""
    try:
        with Session(bind) as session:
            warnings = names.review(session=session, draft=draft)
    except SQLAlchemyError:  # no database yet (a dry run before init): check the table alone
        warnings = names.review(session=None, draft=draft)
    if warnings:
        console.print(f"[yellow]请核对（{len(warnings)} 处）：[/yellow]")
        for warning in warnings:
            console.print(f"  ! {warning}", highlight=False)


def _refused(errors: list[importer.RowError]) -> None:
    console.print(f"[red]计划未导入（未写入任何数据），共 {len(errors)} 处错误：[/red]")
    for error in errors:
        console.print(f"  {error}", highlight=False)
    raise typer.Exit(1)


def export_plan(
    plan_id: Annotated[int, typer.Argument(help="计划编号")],
    output: Annotated[Path, typer.Option("-o", "--output", help="输出的 .xlsx 文件")],
) -> None:
    """把计划导出为考评表（.xlsx，合并单元格与原表一致）。"""
    bind = make_engine()
    with Session(bind) as session:
        if session.get(Plan, plan_id) is None:
            plans_known = ", ".join(f"{p.id}（{p.title}）" for p in session.exec(select(Plan)))
            console.print(f"[red]计划 {plan_id} 不存在。已有：{plans_known or '无'}[/red]")
            raise typer.Exit(1)
        output.write_bytes(write_xlsx(session, plan_id))
    bind.dispose()
    console.print(f"已导出：{output}")
