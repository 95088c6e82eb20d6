"""``kaoping calendar set|clear|import|list``: holidays and make-up working days from the official notice."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlmodel import Session

from engine.people.actors import Actor
from engine.schedule import holidays
from engine.store.db import make_engine
from engine.store.errors import DomainError

app = typer.Typer(help="节假日与调休（国务院办公厅放假通知）", no_args_is_help=True)
CLI_ACTOR = Actor("命令行", frozenset({"admin"}))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"日期应为 ISO 格式，如 2027-10-01，收到：{text}") from exc


def _apply(change) -> object:
    bind = make_engine()
    try:
        with Session(bind, expire_on_commit=False) as session:
            result = change(session)
            session.commit()
            return result
    except DomainError as exc:
        typer.echo(f"未更改：{exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()


@app.command("set")
def set_command(
    day: Annotated[str, typer.Argument(help="日期，如 2027-10-01")],
    kind: Annotated[str, typer.Argument(help="holiday（放假）或 workday（调休上班）")],
    name: Annotated[str, typer.Argument(help="节日名称，如 国庆节")] = "",
) -> None:
    """把一天定为放假或上班（覆盖日历库的答案），记入审计链。"""
    row = _apply(lambda s: holidays.set_day(session=s, day=_day(day), kind=kind, name=name, actor=CLI_ACTOR))
    typer.echo(f"已设定：{row.day} {holidays.LABELS[row.kind]} {row.name}".rstrip())


@app.command("clear")
def clear_command(day: Annotated[str, typer.Argument(help="日期，如 2027-10-01")]) -> None:
    """取消对一天的设定（回到日历库的答案），记入审计链。"""
    if _apply(lambda s: holidays.clear_day(session=s, day=_day(day), actor=CLI_ACTOR)):
        typer.echo(f"已取消 {day} 的设定")
    else:
        typer.echo(f"{day} 没有设定")


@app.command("import")
def import_command(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                       help="放假通知的日期文件（每行：日期[..日期] holiday|workday 名称）")]) -> None:
    """导入放假通知的全部日期（全部通过才写入），记入审计链。"""
    entries = _apply(lambda s: holidays.import_notice(session=s, text=file.read_text("utf-8-sig"), actor=CLI_ACTOR))
    off = sum(e.kind == "holiday" for e in entries)
    typer.echo(f"已导入 {len(entries)} 天：放假 {off} 天，调休上班 {len(entries) - off} 天"
               f"（{entries[0].day} 至 {entries[-1].day}）")


@app.command("list")
def list_command(year: Annotated[int | None, typer.Option(help="只列这一年")] = None) -> None:
    """列出已设定的日子，以及日历尚未覆盖的年份。"""
    bind = make_engine()
    try:
        with Session(bind) as session:
            for row in holidays.entered(session=session, year=year):
                typer.echo(f"{row.day}\t{holidays.LABELS[row.kind]}\t{row.name}\t{row.set_by}")
            warn(session)
    finally:
        bind.dispose()


def warn(session: Session, today: date | None = None) -> None:
    """Print a visible warning for every year that matters and that no calendar covers."""
    for message in holidays.warnings(session=session, today=today):
        typer.secho(f"警告：{message}", fg=typer.colors.RED, bold=True)


def warn_for(bind: Engine, at: datetime | None = None) -> None:
    with Session(bind) as session:
        warn(session, at.date() if at else None)
