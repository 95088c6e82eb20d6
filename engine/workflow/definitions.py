"""Declarative workflow definitions: loading, validation, and the shipped set.

A definition is YAML (see ``workflows/target.yaml``). It is checked first against a JSON
schema (``workflow.schema.json``), then for meaning: every state named exists, every state
is reachable from the initial one and can reach an end (a final state, or a completed state
whose only ways out are returns with a comment), final states have no way out, a trigger
leaves a state at most once, every ``when`` expression parses, and every guard, effect, role
and recipient is known. Each problem is
reported with the file, the line and the reason.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from engine.calendar.workdays import add_workdays

from engine.workflow import expressions, rules, yamlsource
from engine.workflow.yamlsource import Problem


class DefinitionError(Exception):
    """A definition file was refused; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = True
    label: str = ""
    min: float | None = None
    max: float | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class StateReminder:
    """Reminders while a target stays in a state (BPMN: a non-interrupting boundary timer, a cycle when
    repeated): the first ``every`` working days after entering it, then every ``every`` again, ``times``
    in all (``None``: as long as it stays); ``notify``: whom they tell."""

    every: int
    times: int | None = None
    notify: tuple[str, ...] = ("responsible",)

    def due_on(self, entered_on: date, n: int) -> date:
        """The day of the ``n``-th reminder of a stay entered on ``entered_on``."""
        return add_workdays(entered_on, n * self.every)


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: str
    label_en: str = ""
    final: bool = False
    deadline: dict[str, Any] | None = None
    #: Who each escalation level tells while the target is late in this state (level 1 first);
    #: levels not named follow who must act here (see :mod:`engine.schedule.escalation`).
    escalate_to: tuple[tuple[str, ...], ...] = ()
    remind: StateReminder | None = None
    #: A parallel state (并行): its branches by name, each with its label; their steps are transitions
    #: (``TransitionSpec.branch``), and the last step that completes every branch moves the target to ``join``.
    branches: tuple[tuple[str, str], ...] = ()
    join: str = ""


@dataclass(frozen=True)
class TransitionSpec:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    label: str = ""
    label_en: str = ""
    fields: tuple[FieldSpec, ...] = ()
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    comment_required: bool = False
    countersign: bool = False
    notify: tuple[str, ...] = ()
    #: ``lead_section``: of a target's sections only the first (牵头科室) fires it; the others cooperate.
    scope: str = "parties"
    #: A CEL expression over ``payload`` and ``target`` that must hold (see :mod:`engine.workflow.expressions`).
    when: str = ""
    #: A step of a parallel state's branch (its name; ``""``: an ordinary transition). Its ``dest`` is the join's.
    branch: str = ""


@dataclass(frozen=True)
class EscalationLevel:
    level: int
    after_working_days: int
    notify: tuple[str, ...]
    supervise: bool = False


@dataclass(frozen=True)
class Definition:
    """A parsed, validated workflow definition."""

    id: str
    version: int
    label: str
    label_en: str
    initial: str
    states: dict[str, StateSpec]
    transitions: tuple[TransitionSpec, ...]
    reminder_days: tuple[int, ...] = ()
    reminder_notify: tuple[str, ...] = ()
    escalation: tuple[EscalationLevel, ...] = ()
    #: Pairs of triggers one person may not both fire on the same target (职责分离).
    separated: tuple[tuple[str, str], ...] = ()
    source: str = ""
    _index: dict[tuple[str, str], TransitionSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for spec in self.transitions:
            for source in spec.sources:
                self._index[(source, spec.trigger)] = spec

    def transition(self, state: str, trigger: str) -> TransitionSpec | None:
        """The transition fired by ``trigger`` from ``state``, if there is one."""
        return self._index.get((state, trigger))

    def triggers_from(self, state: str) -> list[TransitionSpec]:
        """The transitions that leave (or stay in) ``state``, in definition order."""
        return [spec for spec in self.transitions if state in spec.sources]

    def is_done(self, state: str) -> bool:
        """Whether ``state`` ends the work while it may be reopened: not final, and every way out to another
        state is a return that needs a comment (``scored``, which the office may reopen)."""
        ways = [t for t in self.triggers_from(state) if t.dest != state]
        return not self.states[state].final and bool(ways) and all(t.comment_required for t in ways)

    def state_label(self, state: str | None) -> str:
        return self.states[state].label if state in self.states else (state or "")

    def notifications(self) -> list[str]:
        """Every event type this definition can emit, e.g. ``target.sign``, ``target.escalated``."""
        events = [f"{self.id}.{spec.trigger}" for spec in self.transitions if spec.notify]
        if self.reminder_notify:
            events.append(f"{self.id}.reminder")
        if any(s.remind for s in self.states.values()):
            events.append(f"{self.id}.remind")
        if self.escalation:
            events.append(f"{self.id}.escalated")
        return events


_SCHEMA = json.loads(resources.files("engine.workflow").joinpath("workflow.schema.json").read_text("utf-8"))
_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _schema_problems(data: Any, where: yamlsource.SourceMap, filename: str) -> list[Problem]:
    problems = []
    for error in sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        at = "/".join(str(p) for p in path) or "（顶层）"
        problems.append(Problem(filename, where.line(path), f"{at}: 不符合定义格式：{error.message}"))
    return problems


def _meaning_problems(data: dict[str, Any], where: yamlsource.SourceMap, filename: str) -> list[Problem]:
    problems: list[Problem] = []

    def refuse(path: list[Any], reason: str) -> None:
        problems.append(Problem(filename, where.line(path), reason))

    states = data["states"]
    if data["initial"] not in states:
        refuse(["initial"], f"初始状态 '{data['initial']}' 未定义")
    seen: dict[tuple[str, str], int] = {}
    edges: dict[str, set[str]] = {name: set() for name in states}
    for name, state in states.items():
        problems.extend(_branch_problems(name, state, states, where, filename))
        if state.get("join") in states:
            edges[name].add(state["join"])
            seen.update({(name, step["trigger"]): -1 for branch in state.get("branches", {}).values()
                         for step in branch["steps"]})
    for i, spec in enumerate(data["transitions"]):
        trigger = spec["trigger"]
        for source in _as_list(spec["from"]):
            if source not in states:
                refuse(["transitions", i, "from"], f"转换 '{trigger}' 的起始状态 '{source}' 未定义")
                continue
            if states[source].get("final"):
                refuse(["transitions", i, "from"], f"终止状态 '{source}' 不能有转出的转换（'{trigger}'）")
            if states[source].get("branches"):
                refuse(["transitions", i, "from"], f"并行状态 '{source}' 只能在各分支完成后经汇合离开，不能有转换（'{trigger}'）")
            if seen.get((source, trigger)) == -1:
                refuse(["transitions", i, "trigger"], f"触发器 '{trigger}' 已是状态 '{source}' 的分支步骤")
            elif (source, trigger) in seen:
                refuse(["transitions", i, "trigger"],
                       f"状态 '{source}' 已有触发器 '{trigger}' 的转换（第 {seen[(source, trigger)] + 1} 个转换），同一状态同一触发器只能有一个")
            seen[(source, trigger)] = i
            if spec["to"] in states:
                edges[source].add(spec["to"])
        if spec["to"] not in states:
            refuse(["transitions", i, "to"], f"转换 '{trigger}' 的目标状态 '{spec['to']}' 未定义")
        for role in spec["roles"]:
            if role not in rules.ROLES:
                refuse(["transitions", i, "roles"], f"未知角色 '{role}'（可用：{', '.join(rules.ACTING_ROLES)}）")
            elif role not in rules.ACTING_ROLES:
                refuse(["transitions", i, "roles"], f"角色 '{role}' 只读，不能触发转换")
        for name in spec.get("guards", []):
            if name not in rules.GUARDS:
                refuse(["transitions", i, "guards"], f"未知守卫 '{name}'（已注册：{', '.join(sorted(rules.GUARDS))}）")
        for name in spec.get("effects", []):
            if name not in rules.EFFECTS:
                refuse(["transitions", i, "effects"], f"未知效果 '{name}'（已注册：{', '.join(sorted(rules.EFFECTS))}）")
        if spec.get("when"):
            try:
                expressions.compiled(spec["when"])
            except expressions.ExpressionError as exc:
                refuse(["transitions", i, "when"], f"转换 '{trigger}' 的{exc}")
        problems.extend(_recipient_problems(spec.get("notify", []), ["transitions", i, "notify"], where, filename))
    for name, state in states.items():
        deadline = state.get("deadline") or {}
        if state.get("final") and deadline:
            refuse(["states", name, "deadline"], f"终止状态 '{name}' 不应有期限")
        if state.get("final") and state.get("remind"):
            refuse(["states", name, "remind"], f"终止状态 '{name}' 不应有提醒")
        if "remind" in state:
            problems.extend(_recipient_problems(state["remind"].get("notify", []), ["states", name, "remind", "notify"],
                                                where, filename))
        for i, names in enumerate(state.get("escalate_to", [])):
            problems.extend(_recipient_problems(names, ["states", name, "escalate_to", i], where, filename))
        if len(state.get("escalate_to", [])) > len(data.get("escalation", [])):
            refuse(["states", name, "escalate_to"], f"状态 '{name}' 的 escalate_to 多于督办级别数")
    reached: set[str] = set(states)
    if data["initial"] in states:
        reached = {data["initial"]}
        queue = deque(reached)
        while queue:
            for nxt in edges[queue.popleft()] - reached:
                reached.add(nxt)
                queue.append(nxt)
        for name in states:
            if name not in reached:
                refuse(["states", name], f"状态 '{name}' 从初始状态 '{data['initial']}' 不可达")
    for name in (n for n in _without_end(data, edges) if n in reached):  # an unreachable state is said already
        refuse(["states", name], f"状态 '{name}' 无法到达任何终止状态（没有出路，或只能在几个状态之间循环）")
    if "reminders" in data:
        problems.extend(_recipient_problems(data["reminders"]["notify"], ["reminders", "notify"], where, filename))
    triggers = {t["trigger"] for t in data["transitions"]}
    for i, pair in enumerate(data.get("separation_of_duties", [])):
        for name in pair:
            if name not in triggers:
                refuse(["separation_of_duties", i], f"职责分离中的操作 '{name}' 不存在")
        if len(set(pair)) < 2:
            refuse(["separation_of_duties", i], "职责分离应是两个不同的操作")
    levels = data.get("escalation", [])
    for i, level in enumerate(levels):
        problems.extend(_recipient_problems(level["notify"], ["escalation", i, "notify"], where, filename))
        if level["level"] != i + 1:
            refuse(["escalation", i, "level"], f"督办级别应从 1 起连续编号，这里应为 {i + 1}")
        if i and level["after_working_days"] <= levels[i - 1]["after_working_days"]:
            refuse(["escalation", i, "after_working_days"], "各级的逾期工作日数应逐级递增")
    return problems


def _branch_problems(name: str, state: dict[str, Any], states: dict[str, Any], where: yamlsource.SourceMap,
                     filename: str) -> list[Problem]:
    """What is wrong with a parallel state: its join, its branches (two at least), their steps' triggers and roles."""
    found = []

    def refuse(path: list[Any], reason: str) -> None:
        found.append(Problem(filename, where.line(["states", name, *path]), reason))

    branches = state.get("branches") or {}
    if bool(branches) != bool(state.get("join")):
        refuse([], f"并行状态 '{name}' 应同时写明 branches（各分支）和 join（汇合后进入的状态）")
    if not branches or not state.get("join"):
        return found
    if state.get("final"):
        refuse(["branches"], f"终止状态 '{name}' 不能有分支")
    for key in ("deadline", "remind"):
        if state.get(key):
            refuse([key], f"并行状态 '{name}' 不能有{'期限' if key == 'deadline' else '提醒'}：请写在汇合之后的状态上")
    if len(branches) < 2:
        refuse(["branches"], f"并行状态 '{name}' 至少应有两个分支")
    if state["join"] not in states or state["join"] == name:
        refuse(["join"], f"并行状态 '{name}' 的汇合状态 '{state['join']}' 未定义（或就是它自己）")
    triggers: dict[str, str] = {}
    for branch, spec in branches.items():
        for i, step in enumerate(spec["steps"]):
            if step["trigger"] in triggers:
                refuse(["branches", branch, "steps", i, "trigger"],
                       f"分支步骤 '{step['trigger']}' 在分支 '{triggers[step['trigger']]}' 中已有，同一并行状态的步骤不能重名")
            triggers.setdefault(step["trigger"], branch)
            for role in step["roles"]:
                if role not in rules.ACTING_ROLES:
                    refuse(["branches", branch, "steps", i, "roles"],
                           f"分支步骤 '{step['trigger']}' 的角色 '{role}' 未知或只读（可用：{', '.join(rules.ACTING_ROLES)}）")
    return found


def _without_end(data: dict[str, Any], edges: dict[str, set[str]]) -> list[str]:
    """The states from which no end can be reached. An end is a final state, or a completed state whose
    every way out is a return that needs a comment (``scored``, which the office may reopen)."""
    leaving: dict[str, list[dict[str, Any]]] = {name: [] for name in edges}
    for spec in data["transitions"]:
        for source in _as_list(spec["from"]):
            if source in leaving and spec["to"] != source:
                leaving[source].append(spec)
    ends = {name for name, state in data["states"].items() if state.get("final")} | {
        name for name, ways in leaving.items() if ways and all(w.get("comment") == "required" for w in ways)}
    arrives = set(ends)
    changed = True
    while changed:  # backwards from the ends, until nothing new arrives
        changed = False
        for name, nexts in edges.items():
            if name not in arrives and nexts & arrives:
                arrives.add(name)
                changed = True
    return [name for name in data["states"] if name not in arrives]


def _recipient_problems(names: list[str], path: list[Any], where: yamlsource.SourceMap, filename: str) -> list[Problem]:
    return [
        Problem(filename, where.line(path), f"未知通知对象 '{name}'（可用：{', '.join(rules.RECIPIENTS)}）")
        for name in names
        if name not in rules.RECIPIENTS
    ]


def _label(value: dict[str, str] | None) -> tuple[str, str]:
    value = value or {}
    return value.get("zh", ""), value.get("en", "")


def _fields(spec: dict[str, Any]) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(name, f["type"], f.get("required", True), _label(f.get("label"))[0],
                           f.get("min"), f.get("max"), f.get("max_length"))
                 for name, f in (spec.get("fields") or {}).items())


def _remind(spec: dict[str, Any] | None) -> StateReminder | None:
    if not spec:
        return None
    return StateReminder(spec["every_working_days"], spec.get("times"), tuple(spec.get("notify", ["responsible"])))


def _build(data: dict[str, Any], filename: str) -> Definition:
    states = {
        name: StateSpec(name, *_label(spec["label"]), final=spec.get("final", False), deadline=spec.get("deadline"),
                        escalate_to=tuple(tuple(names) for names in spec.get("escalate_to", [])),
                        remind=_remind(spec.get("remind")),
                        branches=tuple((b, _label(s.get("label"))[0] or b) for b, s in (spec.get("branches") or {}).items()),
                        join=spec.get("join", ""))
        for name, spec in data["states"].items()
    }
    transitions = []
    for spec in data["transitions"]:
        fields = _fields(spec)
        transitions.append(TransitionSpec(
            trigger=spec["trigger"], sources=tuple(_as_list(spec["from"])), dest=spec["to"],
            roles=tuple(spec["roles"]), label=_label(spec.get("label"))[0] or spec["trigger"],
            label_en=_label(spec.get("label"))[1], fields=fields, guards=tuple(spec.get("guards", [])),
            effects=tuple(spec.get("effects", [])), comment_required=spec.get("comment") == "required",
            countersign=spec.get("countersign", False), notify=tuple(spec.get("notify", [])),
            scope=spec.get("scope", "parties"), when=spec.get("when", ""),
        ))
    for name, spec in data["states"].items():  # each branch step: a transition that stays, but for the last
        for branch, steps in (spec.get("branches") or {}).items():
            transitions += [TransitionSpec(
                trigger=step["trigger"], sources=(name,), dest=spec["join"], roles=tuple(step["roles"]),
                label=_label(step.get("label"))[0] or step["trigger"], label_en=_label(step.get("label"))[1],
                fields=_fields(step), guards=(rules.BRANCH_STEP,), branch=branch) for step in steps["steps"]]
    reminders = data.get("reminders") or {}
    return Definition(
        id=data["id"], version=data["version"], label=_label(data["label"])[0], label_en=_label(data["label"])[1],
        initial=data["initial"], states=states, transitions=tuple(transitions),
        reminder_days=tuple(sorted(reminders.get("working_days_before", []), reverse=True)),
        reminder_notify=tuple(reminders.get("notify", [])),
        escalation=tuple(EscalationLevel(lv["level"], lv["after_working_days"], tuple(lv["notify"]),
                                         lv.get("supervise", False)) for lv in data.get("escalation", [])),
        separated=tuple((a, b) for a, b in data.get("separation_of_duties", [])),
        source=filename,
    )


def parse(text: str, filename: str) -> Definition:
    """Parse and validate a definition; raises :class:`DefinitionError` listing every problem."""
    try:
        data, where = yamlsource.load(text, filename)
    except yamlsource.YamlSyntaxError as exc:
        raise DefinitionError([exc.problem]) from exc
    problems = _schema_problems(data, where, filename)
    if not problems:
        problems = _meaning_problems(data, where, filename)
    if problems:
        raise DefinitionError(problems)
    return _build(data, filename)


def load(path: str | Path) -> Definition:
    """Load and validate the definition in the file at ``path``."""
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), str(path))


def check(path: str | Path) -> list[Problem]:
    """The problems of the definition at ``path`` (empty when it is valid)."""
    try:
        load(path)
    except DefinitionError as exc:
        return exc.problems
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), 1, f"无法读取文件：{exc}")]
    return []


@cache
def shipped() -> dict[str, Definition]:
    """The definitions shipped in the ``workflows`` package, by id."""
    found = {}
    for entry in sorted(resources.files("workflows").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            definition = parse(entry.read_text(encoding="utf-8"), f"workflows/{entry.name}")
            found[definition.id] = definition
    return found


def source_text(workflow_id: str) -> str:
    """The YAML text of a shipped definition, as written."""
    return resources.files("workflows").joinpath(Path(shipped()[workflow_id].source).name).read_text("utf-8")


#: Deployed definitions this process has read, by id and version (see :mod:`engine.workflow.deployments`).
_deployed: dict[tuple[str, int], Definition] = {}


def register(definition: Definition) -> None:
    """Make a deployed definition known to :func:`get` in this process."""
    _deployed[(definition.id, definition.version)] = definition


def forget() -> None:
    """Forget every deployed definition read (another database, or tests)."""
    _deployed.clear()


def get(workflow_id: str, version: int | None = None) -> Definition:
    """A definition by id: the deployed ``version`` if this process has read it, else the shipped one (the
    same in every process), else the newest deployed one this process has read; ``KeyError`` if there is
    none. Code with a session reads deployments through :func:`engine.workflow.deployments.resolve`, which
    loads what this process has not read yet."""
    if version is not None and (workflow_id, version) in _deployed:
        return _deployed[(workflow_id, version)]
    if workflow_id in shipped():
        return shipped()[workflow_id]
    known = [d for (wid, _), d in _deployed.items() if wid == workflow_id]
    if known:
        return max(known, key=lambda d: d.version)
    raise KeyError(workflow_id)


#: Records that no definition describes: the plan's own and the scheduler's.
OTHER_ACTIONS = {"create": "新增目标", "amend": "修改目标", "set_milestone": "设置节点", "escalate": "督办升级", "warn": "预警",
                 "issue_notice": "下发督办单", "open_rectification": "下达整改", "add_checkpoint": "增加节点",
                 "import": "导入计划", "assign": "分配责任", "hand_down": "下达目标",
                 "set_workflow": "指定工作流"}


def audit_labels():
    """Chinese words for every action, state and role the audit may show (the table, CSV and Excel)."""
    from engine.audit.chain import Labels
    from engine.people.roles import PEOPLE_ACTIONS, ROLES, SYSTEM_ROLE

    triggers, states = {**OTHER_ACTIONS, **PEOPLE_ACTIONS}, {}
    for d in shipped().values():
        for t in d.transitions:
            triggers.setdefault(t.trigger, t.label)
        for s in d.states.values():
            states.setdefault(s.name, s.label)
    return Labels(triggers, states, {**ROLES, SYSTEM_ROLE: "系统"})
