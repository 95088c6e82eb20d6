"""``kaoping draft-plan``: a work-point document in prose → a draft assessment table to complete and import."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from engine.plans import draft as drafts
from engine.plans.table import PlanFileError

console = Console()


def draft_plan(
    file: Annotated[Path, typer.Argument(help="工作要点或工作方案：.docx 或 .txt", exists=True, dir_okay=False)],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="草稿考评表（.xlsx，默认与原文件同名加“-草稿”）")] = None,
    plan_year: Annotated[int | None, typer.Option("--plan-year", help="计划年度（默认从标题中识别）")] = None,
) -> None:
    """把文字版工作要点整理成考评表草稿：每项编号任务一个目标，并标明每格是读取、推测还是待填。"""
    try:
        draft = drafts.from_document(file.read_bytes(), file.name, plan_year=plan_year)
    except PlanFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    output = output or file.with_name(f"{file.stem}-草稿.xlsx")
    output.write_bytes(drafts.write_xlsx(draft))
    guessed = sum(1 for row in draft.rows for how in row.how.values() if how == drafts.GUESSED)
    to_fill = sum(1 for row in draft.rows for how in row.how.values() if how == drafts.TO_FILL)
    console.print(f"{draft.title}（{draft.org or '单位未识别'}，{draft.year} 年）：{len(draft.rows)} 个目标，"
                  f"{len(draft.groups())} 个类别；推测 {guessed} 格（黄色），待填 {to_fill} 格（橙色）", highlight=False)
    console.print(f"已写出草稿：{output}", highlight=False)
    org = f" --org {draft.org}" if draft.org else " --org 单位名称"
    console.print(f"补全权重分值、分管领导、责任科室等并核对推测的内容后导入：kaoping import-plan {output}{org}", highlight=False)
