"""``kaoping simulate PLAN``: the plan's year on a throw-away copy, nothing sent; prints the timeline."""
from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from engine.schedule.simulation import SimulationError, Timeline, simulate
from engine.store.config import settings


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"日期应为 ISO 格式，如 2024-03-01，收到：{text}") from exc


def print_timeline(timeline: Timeline, *, limit: int) -> None:
    typer.echo(f"{timeline.plan}：{timeline.start} 至 {timeline.until}，假设 {timeline.assume}（副本上运行，未发送任何通知）")
    for h in timeline.happenings[:limit]:
        typer.echo(f"{h.day}\t{h.kind}\t{h.code}\t{'、'.join(h.sections)}\t→ {'、'.join(h.to) or '—'}\t{h.detail}")
    if len(timeline.happenings) > limit:
        typer.echo(f"……另有 {len(timeline.happenings) - limit} 条（--limit 显示更多）")
    typer.echo("合计：" + ("，".join(f"{k} {n}" for k, n in sorted(timeline.counts().items())) or "无"))
    typer.echo("按科室：")
    for section, counts in timeline.by_section().items():
        typer.echo(f"  {section}：" + "，".join(f"{k} {n}" for k, n in sorted(counts.items())))
    typer.echo(f"用时 {timeline.seconds:.1f} 秒")


def simulate_command(
    plan_id: Annotated[int, typer.Argument(help="计划编号")],
    start: Annotated[str | None, typer.Option("--from", help="开始日期（默认今天；计划不在今年时为其 1 月 1 日）")] = None,
    until: Annotated[str | None, typer.Option("--until", help="结束日期（默认计划年度的 12 月 31 日）")] = None,
    assume: Annotated[str, typer.Option("--assume", help="steady、stall:科室 或 late:姓名")] = "steady",
    limit: Annotated[int, typer.Option("--limit", help="最多列出多少条")] = 200,
) -> None:
    """在数据库副本上逐日运行定时任务，列出将发生的预警、提醒、督办升级、督办单和报告事项（不发送任何通知）。"""
    try:
        timeline = simulate(url=settings().database_url, plan_id=plan_id, start=_day(start), until=_day(until),
                            assume=assume)
    except SimulationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    print_timeline(timeline, limit=limit)
