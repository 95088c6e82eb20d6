"""``kaoping workflows import-bpmn`` and ``kaoping workflows export-bpmn``."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.store import isolation
from engine.store.errors import LimitExceeded
from engine.workflow import definitions
from engine.bpmn.writer import export_bpmn
from engine.bpmn.reader import BpmnImportError, ImportResult, import_bpmn

LENIENT_HELP = "删除不支持的元素及与之相连的顺序流（逐个警告），而不是拒绝整个文件"
ROLE_MAP_HELP = "名称=角色（staff、leader、office），覆盖默认的角色对应；可多次"
MAP_HELP = "任务id=效果：服务、脚本、发送、业务规则任务或调用活动作为已注册的效果执行；可多次"


def parse_role_map(pairs: list[str]) -> dict[str, str]:
    """``["Approver=leader", …]`` as ``{"Approver": "leader", …}`` (the name may itself contain ``=``)."""
    parsed = {}
    for pair in pairs:
        name, sep, role = pair.rpartition("=")
        if not sep or not name.strip() or not role.strip():
            raise typer.BadParameter(f"应写成 名称=角色，如 Approver=leader，收到：{pair}", param_hint="--role-map")
        parsed[name.strip()] = role.strip()
    return parsed


def _report(result: ImportResult, err: bool) -> None:
    for name, role in result.role_mappings.items():
        typer.echo(f"角色对应：{name} → {role}", err=err)
    for warning in result.warnings:
        typer.echo(f"警告：{warning}", err=err)
    if result.guards_to_provide:
        typer.echo("以下守卫需要在 engine/workflow/rules.py 中注册，否则 kaoping workflows check 会拒绝该定义：", err=err)
        for guard, condition in result.guards_to_provide.items():
            typer.echo(f"  {guard}" + (f"（条件：{condition}）" if condition else ""), err=err)


def parse_pairs(pairs: list[str], option: str, example: str) -> dict[str, str]:
    """``["A=B", …]`` as ``{"A": "B", …}``; a pair without both sides is refused naming ``option``."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(f"应写成 {example}，收到：{pair}", param_hint=option)
        parsed[key.strip()] = value.strip()
    return parsed


def translate(file: Path, *, lenient: bool, role_map: list[str], effect_map: list[str]) -> ImportResult:
    """The BPMN file read (in a limited child process) into a definition; a refusal is printed, then exit 1."""
    try:
        return isolation.run(import_bpmn, file.read_bytes(), str(file), lenient=lenient,
                             role_map=parse_role_map(role_map), effect_map=parse_pairs(effect_map, "--map", "任务id=效果"))
    except BpmnImportError as exc:
        typer.echo(f"未导入 {file}：", err=True)
        for warning in exc.warnings:  # lenient: what was dropped before the rest was refused
            typer.echo(f"警告：{warning}", err=True)
        for u in [] if lenient else exc.unsupported:
            typer.echo(f"{file}:{u.line}: 不支持的元素 <{u.tag} id=\"{u.id}\">：{u.reason}", err=True)
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        if exc.unsupported and not lenient:
            typer.echo("加 --lenient 可删除这些元素（及与之相连的顺序流）后导入，逐个警告。", err=True)
        raise typer.Exit(1) from exc
    except LimitExceeded as exc:
        typer.echo(f"未导入 {file}：{exc.message}", err=True)
        raise typer.Exit(1) from exc


def import_bpmn_command(
    file: Annotated[Path, typer.Argument(help="BPMN 2.0 文件", exists=True, dir_okay=False)],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="写入的 YAML 文件（默认写到标准输出）")] = None,
    lenient: Annotated[bool, typer.Option("--lenient", help=LENIENT_HELP)] = False,
    role_map: Annotated[list[str], typer.Option("--role-map", help=ROLE_MAP_HELP)] = [],  # noqa: B006
    effect_map: Annotated[list[str], typer.Option("--map", help=MAP_HELP)] = [],  # noqa: B006
) -> None:
    """把 BPMN 2.0 流程翻译成工作流定义（YAML）；不支持的元素逐个列出（元素、id、行号）并拒绝导入。"""
    result = translate(file, lenient=lenient, role_map=role_map, effect_map=effect_map)
    _report(result, err=output is None)  # with the YAML on stdout, the report goes to stderr
    if output is None:
        typer.echo(result.yaml_text, nl=False)
        return
    output.write_text(result.yaml_text, encoding="utf-8")
    typer.echo(f"已写入 {output}（{result.definition_id}）；请用 kaoping workflows check {output} 检查")


def _definition(name: str) -> definitions.Definition:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return definitions.load(path)
    return definitions.get(name)


def export_bpmn_command(
    name: Annotated[str, typer.Argument(help="内置工作流定义的 id（如 target）或 YAML 文件路径")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="写入的 .bpmn 文件（默认写到标准输出）")] = None,
) -> None:
    """把工作流定义导出为 BPMN 2.0（含图形信息，可用 bpmn.io 或 Camunda Modeler 打开）。"""
    try:
        definition = _definition(name)
    except KeyError as exc:
        typer.echo(f"没有内置的工作流定义 '{name}'（可用：{'、'.join(definitions.shipped())}）", err=True)
        raise typer.Exit(1) from exc
    except definitions.DefinitionError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1) from exc
    except OSError as exc:
        typer.echo(f"无法读取 {name}：{exc}", err=True)
        raise typer.Exit(1) from exc
    data = export_bpmn(definition)
    if output is None:
        typer.echo(data.decode("utf-8"), nl=False)
        return
    output.write_bytes(data)
    typer.echo(f"已导出 {definition.id} 到 {output}")
