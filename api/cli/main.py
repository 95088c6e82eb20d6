"""The ``kaoping`` command line."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlmodel import Session

from api.cli import backup as backup_cli, bpmn as bpmn_cli, deployments as deployment_cli, drafts as draft_cli, holidays as holidays_cli, keys as key_cli, plans as plan_cli
from api.cli import simulate as simulate_cli
from api.cli.audit import audit_app
from api.cli.organisations import app as org_app
from engine.workflow import definitions
from engine.store import schema
from engine.store.config import settings
from engine.store.db import make_engine

app = typer.Typer(help="kaoping 考评：绩效目标工作流引擎", no_args_is_help=True, add_completion=False)
workflows_app = typer.Typer(help="工作流定义", no_args_is_help=True)
app.add_typer(workflows_app, name="workflows")
app.add_typer(audit_app, name="audit")
app.add_typer(holidays_cli.app, name="calendar")
app.add_typer(org_app, name="org")
console = Console()


def _database() -> str:
    return make_url(settings().database_url).render_as_string(hide_password=True)


@app.command()
def init() -> None:
    """创建或升级数据库（应用全部迁移），并把内置工作流定义部署为第 1 版（已部署的不再部署）。"""
    from engine.workflow import deployments

    schema.upgrade()
    bind = make_engine()
    try:
        with Session(bind) as session:
            for done in deployments.deploy_shipped(session=session):
                console.print(f"已部署内置工作流定义 {done.definition.id} 第 {done.definition.version} 版")
    finally:
        bind.dispose()
    console.print(f"数据库已就绪：{_database()}")


@workflows_app.command("check")
def workflows_check(files: Annotated[list[Path], typer.Argument(help="工作流定义文件（YAML）")]) -> None:
    """检查工作流定义；有问题时逐条列出文件、行号和原因。"""
    failed = False
    for path in files:
        problems = definitions.check(path)
        if problems:
            failed = True
            for problem in problems:
                typer.echo(str(problem))
        else:
            d = definitions.load(path)
            typer.echo(f"{path}: 通过（{d.id} 第 {d.version} 版，{len(d.states)} 个状态，{len(d.transitions)} 个转换）")
    if failed:
        raise typer.Exit(1)


app.command("import-plan")(plan_cli.import_plan)
app.command("backup")(backup_cli.backup_command)
app.command("restore")(backup_cli.restore_command)
app.command("draft-plan")(draft_cli.draft_plan)
app.command("rotate-key")(key_cli.rotate_key)
app.command("simulate")(simulate_cli.simulate_command)
workflows_app.command("import-bpmn")(bpmn_cli.import_bpmn_command)
workflows_app.command("export-bpmn")(bpmn_cli.export_bpmn_command)
workflows_app.command("deploy")(deployment_cli.deploy_command)
workflows_app.command("list")(deployment_cli.list_command)
workflows_app.command("migrate")(deployment_cli.migrate_command)
user_app = typer.Typer(help="用户", no_args_is_help=True)
app.add_typer(user_app, name="user")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    workers: Annotated[int, typer.Option(help="进程数")] = 1,
    access_log: Annotated[bool, typer.Option(help="每个请求记一行访问日志（关闭可省每个请求的日志开销）")] = True,
) -> None:
    """启动 API 服务（uvicorn）。"""
    import uvicorn

    from api.cli.ports import ensure_free

    ensure_free(host, port, "kaoping serve")
    schema.upgrade()
    uvicorn.run("api.app:served", factory=True, host=host, port=port, workers=workers, log_level="info",
                access_log=access_log)


jobs_app = typer.Typer(help="定时任务", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("run")
def jobs_run(at: Annotated[str | None, typer.Option("--at", help="按此时间运行（ISO 格式，如 2024-10-08T09:00；默认现在）")] = None) -> None:
    """把每个定时任务运行一次：生成定期报告、逾期升级、到期提醒、发送通知。"""
    from datetime import datetime

    from notifications.jobs import run_all

    moment = None
    if at:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError as exc:
            typer.echo(f"--at 应为 ISO 时间，如 2024-10-08T09:00，收到：{at}", err=True)
            raise typer.Exit(2) from exc
    bind = make_engine()
    try:
        holidays_cli.warn_for(bind, moment)
        for name, result in run_all(bind, moment).items():
            typer.echo(f"{name}: {result}")
    finally:
        bind.dispose()


@app.command()
def worker() -> None:
    """只运行定时任务（不提供网页与 API）。"""
    import logging

    from notifications.jobs import blocking

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    schema.upgrade()
    bind = make_engine()
    try:
        blocking(bind).start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        bind.dispose()


@app.command()
def outbox(
    retry: Annotated[list[int], typer.Option("--retry", help="重新发送这些投递（编号，可多次）")] = [],  # noqa: B006
) -> None:
    """列出发送失败（死信）和无法确认是否送达的通知；--retry 重新排队。"""
    from notifications import dispatch

    bind = make_engine()
    try:
        if retry:
            typer.echo(f"已重新排队 {dispatch.retry(bind, retry)} 条")
            return
        rows = dispatch.problems(bind)
        if not rows:
            typer.echo("没有失败或待确认的通知")
            return
        for delivery, event in rows:
            typer.echo(f"{delivery.id}\t{delivery.status}\t{delivery.channel}\t{event.event_type}\t"
                       f"尝试 {delivery.attempts} 次\t{delivery.last_error}")
    finally:
        bind.dispose()


@app.command()
def report(
    plan_id: Annotated[int, typer.Argument(help="计划编号")],
    fmt: Annotated[str, typer.Option("--format", help="pdf、xlsx 或 html")] = "pdf",
    output: Annotated[Path, typer.Option("-o", "--output", help="输出文件")] = Path("report.pdf"),
) -> None:
    """生成绩效评估报告（PDF、含得分列的考评表 xlsx，或 HTML）。"""
    from api import report_render
    from engine.scoring import report as report_data
    from engine.store.errors import DomainError

    if fmt not in ("pdf", "xlsx", "html"):
        typer.echo(f"--format 应为 pdf、xlsx 或 html，收到：{fmt}", err=True)
        raise typer.Exit(2)
    bind = make_engine()
    try:
        with Session(bind) as session:
            if fmt == "xlsx":
                data = report_data.xlsx(session=session, plan_id=plan_id)
            else:
                built = report_data.build(session=session, plan_id=plan_id)
                data = report_render.pdf(built) if fmt == "pdf" else report_render.html(built).encode("utf-8")
    except DomainError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()
    output.write_bytes(data)
    typer.echo(f"已生成：{output}（{len(data) // 1024} KB）")


@app.command("config")
def show_config() -> None:
    """显示生效的配置（密钥与密码已隐藏）。"""
    from engine.store.config import masked

    for name, value in masked().items():
        typer.echo(f"KAOPING_{name.upper()}={value}")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="姓名（与计划中的写法一致；默认也是登录名）")],
    role: Annotated[list[str], typer.Option("--role", help="角色：staff、leader、office、auditor、admin（可多次）")],
    section: Annotated[list[str], typer.Option("--section", help="所属科室（可多次）")] = [],  # noqa: B006
    password: Annotated[str | None, typer.Option(help="密码")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码")] = False,
    email: Annotated[str | None, typer.Option(help="电子邮箱")] = None,
    org: Annotated[str | None, typer.Option("--org", help="所属组织（只有一个顶级组织时可不填）")] = None,
    login: Annotated[str | None, typer.Option("--login", help="登录名（默认为姓名；他单位已有同名者时为 姓名@组织）")] = None,
) -> None:
    """添加用户。"""
    from engine.people.actors import Actor
    from engine.plans import staffing
    from engine.store.errors import DomainError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    bind = make_engine()
    try:
        with Session(bind) as session:
            user = staffing.register(session=session, by=Actor.system(), name=name, roles=role, sections=section,
                                     password=password, email=email, org=org, login=login)
            signs_in = user.login
    except DomainError as exc:
        typer.echo(f"未添加：{exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        bind.dispose()
    typer.echo(f"已添加用户 {name}（{'、'.join(role)}）" + (f"，登录名 {signs_in}" if signs_in != name else "")
               + ("" if password else "；未设密码，无法登录"))
app.command("export-plan")(plan_cli.export_plan)


@app.command()
def demo(
    serve_pages: Annotated[bool, typer.Option("--serve/--no-serve", help="准备好后启动网页服务")] = True,
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
) -> None:
    """建立演示数据库（内置 SQLite 文件）：2024 年计划与其人员，然后启动网页服务。"""
    from api.cli.demo import run
    from api.cli.ports import ensure_free

    if serve_pages:
        ensure_free(host, port, "kaoping demo")
    run(console)
    if serve_pages:
        console.print(f"请在浏览器中打开 http://{host}:{port}/ ，用上表中的用户名和密码 kaoping2024 登录。按 Ctrl+C 停止。")
        serve(host=host, port=port, workers=1)


def main() -> None:
    app(prog_name="kaoping")


if __name__ == "__main__":
    sys.exit(main())
