"""BPMN 2.0 in: the subset of BPMN that maps onto our state machines, as a YAML definition.

kaoping's YAML stays the native format; BPMN is a door in and out. Start event → initial
state; user tasks → states; an end event reached from a task → a final state; sequence flows
through exclusive gateways → transitions, their conditions → named guards; candidate groups,
assignees, performers and lanes → roles (:func:`role_for`); boundary timers → deadlines and an
escalation level; multi-instance "all complete" tasks → countersign. Anything else is listed
element by element and the file is refused, unless ``lenient``: then it is dropped, with the
sequence flows that touch it. Our own extensions (see :mod:`engine.bpmn.writer`) override the
plain reading, so that importing an exported definition gives it back. The README has the
full table.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from lxml import etree

from engine.store import isolation
from engine.store.errors import InvalidPayload
from engine.workflow import definitions, deployments, rules
from engine.bpmn.conditions import decision_of, to_cel
from engine.bpmn.yamltext import _field, definition_data, yaml_text
from engine.bpmn.writer import (
    BPMN,
    CAMUNDA,
    KAOPING,
    extension,
    q,
    read_deadline,
    read_transition,
)
from engine.bpmn.subset import (
    ACTIVITI,
    FLOWABLE,
    NO_EFFECT,
    BpmnImportError,
    Unsupported,
    _days,
    _Flow,
    cycle_of,
    _Graph,
    _read,
    _scan,
    _text,
    _unwrap,
)
from engine.workflow.yamlsource import Problem

NAME = re.compile(r"[a-z][a-z0-9_]*")
#: Default role table: words in a group, user or lane name (ASCII words match as prefixes, "hr" whole).
LEADER_WORDS = ("manag", "approv", "leader", "director", "supervis", "chief", "领导", "审批", "审签", "局长")
OFFICE_WORDS = ("office", "account", "admin", "financ", "hr", "绩效办", "财务", "人事")
#: Ids a modeler made up (Activity_0x1l2aj, UUIDs, Task_1): the element's name says more.
GENERATED_ID = re.compile(r"(?i)sid-.*|_?[0-9a-f]{8}-[0-9a-f-]{20,}|[a-z]+_[0-9a-z]{7}|(?:user)?task_?\d+"
                          r"|(?:start|end)?event_?\d+")


@dataclass
class ImportResult:
    """A BPMN file translated into a YAML definition, and what the translation did."""

    yaml_text: str
    definition_id: str
    unsupported: list[Unsupported]
    warnings: list[str]
    guards_to_provide: dict[str, str]  # guard → the condition it stands for
    role_mappings: dict[str, str]  # group, user or lane name → role


@dataclass
class State:
    name: str
    label: str
    label_en: str = ""
    final: bool = False
    deadline: dict[str, Any] | None = None
    escalate_to: list[list[str]] = field(default_factory=list)
    note: str = ""  # where the deadline came from, written as a comment
    remind: dict[str, Any] | None = None
    remind_note: str = ""
    roles: list[str] = field(default_factory=list)
    countersign: bool = False
    branches: dict[str, dict[str, Any]] = field(default_factory=dict)  # a parallel state's, as YAML writes them
    join: str = ""


@dataclass
class Transition:
    trigger: str
    sources: list[str]
    dest: str
    roles: list[str]
    label: str = ""
    label_en: str = ""
    fields: list[dict[str, Any]] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)
    conditions: dict[str, str] = field(default_factory=dict)  # guard → condition text
    when: str = ""  # the conditions on the way, as one CEL expression
    when_sources: list[str] = field(default_factory=list)  # the conditions as the file writes them
    effects: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    comment_required: bool = False
    countersign: bool = False
    scope: str = "parties"
    index: int | None = None  # the order an exported definition had


def snake(text: str) -> str:
    """``approveInvoice`` → ``approve_invoice``, ``Request approved?`` → ``request_approved``; ``""`` if nothing is left."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text))
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return (f"n_{text}" if text and not text[0].isalpha() else text)[:48].strip("_")


def role_for(name: str, role_map: dict[str, str] | None = None) -> str:
    """Our role for a group, user or lane name: ``role_map`` first (case-insensitive); else names containing
    management/manager/approver/leader/director/supervisor/chief/领导/审批/审签/局长 → leader,
    office/accountant/accounting/admin/finance/HR/绩效办/财务/人事 → office, anything else → staff."""
    for key, role in (role_map or {}).items():
        if key.casefold() == name.casefold():
            return role
    tokens = re.findall(r"[a-z]+|[^\x00-\x7f]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower())
    for role, words in (("leader", LEADER_WORDS), ("office", OFFICE_WORDS)):
        if any(t == w if w == "hr" else t.startswith(w) if w.isascii() else w in t for t in tokens for w in words):
            return role
    return "staff"


def guard_name(condition: str) -> str:
    """A guard's name for a condition: ``${approved}`` → ``approved``, ``#{!approved}`` → ``not_approved``,
    ``${vacationApproved == 'false'}`` → ``not_vacation_approved``, ``${amount > 1000}`` → ``amount_gt_1000``."""
    text = _unwrap(condition)
    if m := re.fullmatch(r"(!|not\s+)?\s*([A-Za-z_][\w.]*)", text):
        return ("not_" if m[1] else "") + snake(m[2])
    if m := re.fullmatch(r"([A-Za-z_][\w.]*)\s*(==|!=)\s*(['\"]?)(true|false)\3", text, re.I):
        return ("" if (m[2] == "==") == (m[4].lower() == "true") else "not_") + snake(m[1])
    for op, word in (("==", "eq"), ("!=", "ne"), (">=", "ge"), ("<=", "le"), (">", "gt"), ("<", "lt"),
                     ("&&", "and"), ("||", "or"), ("!", "not")):
        text = text.replace(op, f" {word} ")
    return snake(text) or "condition"


def _names(task: etree._Element, lane: str) -> list[str]:
    """Who may act on a task, as the file names them (an expression names nobody)."""
    def plain(text: str) -> list[str]:
        parts = [re.sub(r"^(?:group|user)\((.*)\)$", r"\1", p.strip()) for p in text.split(",")]
        return [p for p in parts if p and "${" not in p and "#{" not in p]

    for attr in ("candidateGroups", "candidateUsers", "assignee"):
        for namespace in (CAMUNDA, FLOWABLE, ACTIVITI):
            if names := plain(task.get(q(namespace, attr), "")):
                return names
    for tag in ("potentialOwner", "humanPerformer", "performer"):
        for expression in (x for role in task.findall(q(BPMN, tag)) for x in role.iter(q(BPMN, "formalExpression"))):
            if names := plain(expression.text or ""):
                return names
    return [lane] if lane else []


class _Importer:
    """One import: the graph of one process read into states and transitions."""

    def __init__(self, filename: str, graph: _Graph, role_map: dict[str, str], lenient: bool, warnings: list[str]) -> None:
        self.filename, self.graph, self.role_map, self.lenient = filename, graph, role_map, lenient
        self.warnings = warnings
        self.problems: list[Problem] = []
        self.role_mappings: dict[str, str] = {}
        self.names: dict[str, str] = {}  # BPMN id → state name
        self.states: dict[str, State] = {}
        self.transitions: list[Transition] = []
        self.initial, self.timed = "", False
        self.branch_tasks: set[str] = set()  # user tasks that are steps of a parallel state's branches
        self.unsupported: list[Unsupported] = []  # parallel gateways outside the subset

    def name(self, element: etree._Element, fallback: str) -> str:
        ident = element.get("id", "")
        candidates = [element.get(q(KAOPING, "state"), ""), "" if GENERATED_ID.fullmatch(ident) else snake(ident),
                      snake(element.get("name", "")), fallback]
        base = next(c for c in candidates if NAME.fullmatch(c))
        name, n = base, 1
        while name in self.states:
            n += 1
            name = f"{base}_{n}"
        self.names[ident] = name
        return name

    def read_parallel(self) -> None:
        """Each parallel gateway that forks into sequences of user tasks joined by one parallel gateway: a parallel
        state. Anything else with parallel gateways (unbalanced, nested, a decision or an automatic task in a
        branch) is refused, element by element."""
        flows_out = lambda ident: [f for f in self.graph.flows if f.source == ident]  # noqa: E731
        flows_in = lambda ident: [f for f in self.graph.flows if f.target == ident]  # noqa: E731
        joins: set[str] = set()
        for fork in [i for i in self.graph.of_kind("parallel") if len(flows_out(i)) > 1]:
            branches, ends = [], set()
            for flow in flows_out(fork):
                tasks, at = [], flow.target
                while self.graph.kinds.get(at) == "task" and len(flows_out(at)) == 1 and len(flows_in(at)) == 1:
                    tasks.append(at)
                    at = flows_out(at)[0].target
                if self.graph.kinds.get(at) != "parallel" or len(flows_out(at)) != 1 or not tasks:
                    why = ("并行分支中没有用户任务" if not tasks and self.graph.kinds.get(at) == "parallel" else
                           "不支持嵌套的并行网关" if self.graph.kinds.get(at) == "parallel" else
                           "并行分支只能是依次办理的用户任务，并汇合到一个并行网关（不能有决策、自动任务、结束事件或其他入口）")
                    self.refuse(self.graph.nodes.get(at, self.graph.nodes[fork]), why)
                    break
                branches.append((flow, tasks))
                ends.add(at)
            else:
                if len(ends) != 1 or len(flows_in(next(iter(ends)))) != len(branches):
                    self.refuse(self.graph.nodes[fork], "并行网关的各分支应汇合到同一个并行网关，且汇合处只接这些分支")
                    continue
                joins |= ends
                self.parallel_state(fork, branches, next(iter(ends)))
        for ident in self.graph.of_kind("parallel"):
            if ident not in joins and ident not in self.names:
                self.refuse(self.graph.nodes[ident], "并行网关没有配对：应有一个分出多条分支的网关和一个汇合它们的网关")

    def refuse(self, element: etree._Element, why: str) -> None:
        if any(u.id == element.get("id", "") for u in self.unsupported):
            return  # said once, with the first reason found
        self.unsupported.append(Unsupported(etree.QName(element).localname, element.get("id", ""),
                                            element.sourceline or 0, _text(element.get("name")), why))

    def parallel_state(self, fork: str, branches: list[tuple[_Flow, list[str]]], join: str) -> None:
        element = self.graph.nodes[fork]
        state = State(self.name(element, "parallel"), _text(element.get("name")) or "并行办理",
                      element.get(q(KAOPING, "labelEn"), ""))
        state.join = join  # a BPMN id until read_flows names the state after the join
        for n, (flow, tasks) in enumerate(branches, 1):
            first = self.graph.nodes[tasks[0]]
            name = first.get(q(KAOPING, "branch"), "") or snake(flow.name) or snake(first.get("name", "")) or f"branch_{n}"
            steps = [self.step(state.name, ident) for ident in tasks]
            state.branches[name] = {"label": {"zh": flow.name or _text(first.get("name")) or name}, "steps": steps}
            self.branch_tasks.update(tasks)
        self.states[state.name] = state

    def step(self, state: str, ident: str) -> dict[str, Any]:
        """A user task of a branch as a step: its trigger, label, roles (and fields, from our own export)."""
        task = self.graph.nodes[ident]
        out = next(f for f in self.graph.flows if f.source == ident)
        ext = extension(out.element, "transition")
        ours = read_transition(ext) if ext is not None else {}
        trigger = ours.get("trigger") or ident.removeprefix(f"{state}__") if ext is not None else (
            "" if GENERATED_ID.fullmatch(ident) else snake(ident)) or snake(task.get("name", "")) or "step"
        step = {"trigger": trigger, "label": {"zh": _text(task.get("name")) or trigger} | (
            {"en": ours["label_en"]} if ours.get("label_en") else {}), "roles": ours.get("roles") or self.roles(ident, task)}
        if ours.get("fields"):
            step["fields"] = {f["name"]: _field(f) for f in ours["fields"]}
        return step

    def read_tasks(self) -> None:
        for ident, kind in self.graph.kinds.items():
            if kind == "end" and self.graph.nodes[ident].get(q(KAOPING, "state")):
                self.final_for(ident)  # an exported final state, in its place among the states
            if kind != "task" or ident in self.branch_tasks:
                continue
            task = self.graph.nodes[ident]
            state = State(self.name(task, "task"), _text(task.get("name")) or ident, task.get(q(KAOPING, "labelEn"), ""),
                          final=task.get(q(KAOPING, "final")) == "true")
            state.countersign = task.find(q(BPMN, "multiInstanceLoopCharacteristics")) is not None
            if (deadline := extension(task, "deadline")) is not None:
                state.deadline = read_deadline(deadline)
                state.escalate_to = [level.split() for level in deadline.get("escalateTo", "").split(";") if level.strip()]
            if not state.final:
                state.roles = self.roles(ident, task)
            self.states[state.name] = state

    def roles(self, ident: str, task: etree._Element) -> list[str]:
        names = _names(task, self.graph.lanes.get(ident, ""))
        if not names:
            self.warnings.append(f"用户任务 {ident} 没有指定办理人，角色按 staff")
            return ["staff"]
        for n in names:
            self.role_mappings[n] = role_for(n, self.role_map)
        return [r for r in rules.ACTING_ROLES if r in {self.role_mappings[n] for n in names}]

    def final_for(self, end_id: str) -> str:
        if end_id not in self.names:
            end = self.graph.nodes[end_id]
            name = self.name(end, "end")
            self.states[name] = State(name, _text(end.get("name")) or "已结束", end.get(q(KAOPING, "labelEn"), ""),
                                      final=True)
        return self.names[end_id]

    def read_flows(self) -> None:
        for state in (s for s in self.states.values() if s.join):  # after the join, one way on
            ways = self.graph.paths(state.join)
            if len({dest for _, dest in ways}) != 1 or any(f.condition for trail, _ in ways for f in trail):
                self.refuse(self.graph.nodes[state.join], "汇合之后应只通向一个用户任务或结束事件（不经决策）")
                continue
            dest = ways[0][1]
            state.join = self.final_for(dest) if self.graph.kinds[dest] == "end" else self.names.get(dest, "")
            if not state.join:
                self.refuse(self.graph.nodes[dest], "汇合之后不能直接进入另一个并行网关")
        for ident in [i for i in self.graph.of_kind("task") if i not in self.branch_tasks]:
            source, ways = self.states[self.names[ident]], self.graph.paths(ident)
            if source.final:
                continue  # exported final states: the flow to their end event is no transition
            if not ways and any(f.source == ident for f in self.graph.dropped_flows):
                self.warnings.append(f"状态 {source.name} 已没有出路（相连的元素已删除）")
            for trail, dest in ways:
                if dest in self.names or self.graph.kinds[dest] == "end":  # not a join outside the subset
                    self.add(source, trail, dest, single=len(ways) == 1)
        for ident in self.graph.of_kind("timer"):
            self.read_timer(self.graph.nodes[ident])

    def add(self, source: State, trail: list[_Flow], dest: str, single: bool, timer: etree._Element | None = None) -> None:
        dest_name = self.final_for(dest) if self.graph.kinds[dest] == "end" else self.names[dest]
        ext = next((e for f in reversed(trail) if (e := extension(f.element, "transition")) is not None), None)
        named = [f.name for f in trail if f.name]
        t = Transition("", [source.name], dest_name, list(source.roles), label=" / ".join(named))
        t.effects = [e for f in trail if (e := self.graph.effects.get(f.target)) and e != NO_EFFECT]
        if ext is not None:
            for key, value in read_transition(ext).items():
                setattr(t, key, value)
            t.label = t.label or t.trigger
            key = (t.index, t.trigger, t.dest)
            twin = next((o for o in self.transitions if t.index is not None and (o.index, o.trigger, o.dest) == key), None)
            if twin:  # one transition from several states: one flow per state
                twin.sources.append(source.name)
                return
        elif timer is not None:
            ident = timer.get("id", "")
            t.trigger = snake(timer.get("name", "")) or ("" if GENERATED_ID.fullmatch(ident) else snake(ident)) or "timeout"
            t.label, t.roles = _text(timer.get("name")) or "超时转交", ["office"]
        else:
            self.plain(t, trail, source, single)
        t.trigger = self.unique(source.name, t.trigger)
        self.transitions.append(t)

    def plain(self, t: Transition, trail: list[_Flow], source: State, single: bool) -> None:
        marker, decided, parts = "", [], []
        for flow in (f for f in trail if f.condition):
            condition = _unwrap(flow.condition)
            if chosen := decision_of(condition):  # our own export's conditions name the trigger chosen
                marker, condition = chosen
                if not condition:
                    continue
            if not self.condition_language_ok(flow):
                continue
            decided.append(guard_name(condition))
            if (translated := to_cel(condition, snake)) is not None:
                parts.append(translated.expression)
                t.when_sources.append(flow.condition)
                for name, kind in translated.fields.items():
                    if name not in {f["name"] for f in t.fields}:
                        t.fields.append({"name": name, "type": kind, "required": True, "label": name, "min": None,
                                         "max": None, "max_length": None})
            elif (guard := guard_name(condition)) not in t.guards:
                t.guards.append(guard)  # not a payload test: a named guard must say what it means
                t.conditions[guard] = flow.condition
        t.when = parts[0] if len(parts) == 1 else " && ".join(f"({p})" for p in parts)
        named = [snake(f.name) for f in trail if snake(f.name)]  # each decision on the way: no, then yes → no_yes
        t.trigger = marker or "_".join(named) or (
            f"complete_{source.name}" if single else decided[0] if len(decided) == 1 else f"go_{t.dest}")
        t.label = t.label or ("完成" if single else f"转至{self.states[t.dest].label}")
        if source.countersign:
            t.countersign, t.roles = True, ["leader"]

    def condition_language_ok(self, flow: _Flow) -> bool:
        """A condition in a script language (JavaScript, Groovy …) is refused by name: only expressions translate."""
        element = flow.element.find(q(BPMN, "conditionExpression"))
        language = (element.get("language") or "") if element is not None else ""
        if language and not re.fullmatch(r"(?i)juel|el|feel|https?://.*(juel|el|xpath)?.*", language):
            self.problems.append(Problem(self.filename, flow.line,
                                         f"顺序流 {flow.id} 的条件是 {language} 脚本：只能导入表达式条件（如 ${{approved}}）"))
            return False
        return True

    def unique(self, source: str, trigger: str) -> str:
        taken = {t.trigger for t in self.transitions if source in t.sources}
        name, n = trigger, 1
        while name in taken:
            n += 1
            name = f"{trigger}_{n}"
        if name != trigger:
            self.warnings.append(f"状态 {source} 已有触发器 {trigger}，这条改名为 {name}")
        return name

    def read_timer(self, timer: etree._Element) -> None:
        if timer.get("attachedToRef", "") in self.branch_tasks:
            self.refuse(timer, "并行分支中的任务不能有定时器：请把期限或提醒写在汇合之后的任务上")
            return
        ident, state = timer.get("id", ""), self.states[self.names[timer.get("attachedToRef", "")]]
        definition = timer.find(q(BPMN, "timerEventDefinition"))
        duration, date = definition.find(q(BPMN, "timeDuration")), definition.find(q(BPMN, "timeDate"))
        cycle = definition.find(q(BPMN, "timeCycle"))
        gentle = timer.get("cancelActivity", "true") == "false"
        if gentle and (cycle is not None or duration is not None):
            self.read_reminder(timer, state, cycle, duration)
            return
        self.timed = True
        if state.deadline:
            self.warnings.append(f"状态 {state.name} 已有期限，定时器 {ident} 只用于督办")
        elif duration is not None:
            days = _days(_text(duration.text)) or 1
            if days > 366:
                self.warnings.append(f"定时器 {ident} 超过 366 天，期限按 366 个工作日")
            state.deadline, state.note = {"working_days": min(days, 366)}, f"定时器 {ident}：{_text(duration.text)}"
        else:
            state.deadline = {"milestone": snake(ident) or "timer"}
            state.note = f"定时器 {ident}：{_text(date.text)}"
        ways = self.graph.paths(ident)
        if timer.get("cancelActivity", "true") == "false":
            if ways:
                self.warnings.append(f"非中断定时器 {ident} 之后的流程未导入：一个目标同一时刻只处于一个状态")
            return
        for trail, dest in ways:
            self.add(state, trail, dest, single=False, timer=timer)

    def read_reminder(self, timer: etree._Element, state: State, cycle, duration) -> None:
        """A non-interrupting timer: a reminder while the target stays (a cycle: repeated), never a deadline."""
        ident = timer.get("id", "")
        if state.remind:
            self.problems.append(Problem(self.filename, timer.sourceline or 1,
                                         f"状态 {state.name} 已有提醒定时器，非中断定时器 {ident} 无法再对应提醒"))
            return
        if cycle is not None:
            times, every = cycle_of(_text(cycle.text))
            state.remind_note = f"定时器 {ident}：{_text(cycle.text)}"
        else:
            times, every = 1, _days(_text(duration.text)) or 1
            state.remind_note = f"定时器 {ident}：{_text(duration.text)}"
        if every > 366:
            self.warnings.append(f"定时器 {ident} 的间隔超过 366 天，按 366 个工作日")
        notify = timer.get(q(KAOPING, "notify"), "").split() or ["responsible"]
        state.remind = {"every_working_days": min(every, 366)} | ({"times": times} if times else {}) | (
            {"notify": notify} if notify != ["responsible"] else {})
        if self.graph.paths(timer.get("id", "")):
            self.warnings.append(f"非中断定时器 {ident} 对应提醒，其后的流程未导入：一个目标同一时刻只处于一个状态")

    def find_initial(self) -> None:
        starts = self.graph.of_kind("start")
        if len(starts) != 1:
            self.problems.append(Problem(self.filename, 1, f"应有且只有一个开始事件，实际有 {len(starts)} 个"))
            return
        ways = self.graph.paths(starts[0])
        dests = sorted({dest for _, dest in ways})
        for flow in (f for trail, _ in ways for f in trail if self.graph.effects.get(f.target, NO_EFFECT) != NO_EFFECT):
            self.problems.append(Problem(self.filename, self.graph.nodes[flow.target].sourceline or 1,
                                         f"{flow.target} 在第一个用户任务之前，新目标创建时不执行效果：请用 --map {flow.target}={NO_EFFECT}"))
        if len(dests) == 1 and self.graph.kinds[dests[0]] in ("task", "parallel") and dests[0] in self.names:
            self.initial = self.names[dests[0]]
        elif not dests and self.lenient and (first := self.first_task_behind(starts[0])):
            self.initial = self.names[first]
            self.warnings.append(f"开始事件之后的元素已删除，初始状态取其后第一个用户任务 {self.initial}")
        else:
            line = self.graph.nodes[starts[0]].sourceline or 1
            why = "开始事件之后应只通向一个用户任务" if dests else "开始事件没有连到用户任务"
            self.problems.append(Problem(self.filename, line, why))

    def first_task_behind(self, start: str) -> str | None:
        """The first user task after the start event, counting the flows lenient dropped (breadth first)."""
        flows = sorted(self.graph.flows + self.graph.dropped_flows, key=lambda f: f.line)
        seen, queue = {start}, [start]
        while queue:
            at = queue.pop(0)
            for flow in (f for f in flows if f.source == at and f.target not in seen):
                if self.graph.kinds.get(flow.target) == "task":
                    return flow.target
                seen.add(flow.target)
                queue.append(flow.target)
        return None

    def prune(self) -> None:
        """Drop what the initial state cannot reach: a definition refuses unreachable states."""
        reached, queue = {self.initial}, [self.initial]
        while queue:
            at = queue.pop()
            ahead = [t.dest for t in self.transitions if at in t.sources] + [self.states[at].join] * bool(self.states[at].join)
            for dest in (d for d in ahead if d not in reached):
                reached.add(dest)
                queue.append(dest)
        for name in [n for n in self.states if n not in reached]:
            self.warnings.append(f"状态 {name} 从初始状态不可达，已略去")
            del self.states[name]
        for t in self.transitions:
            t.sources = [s for s in t.sources if s in reached]
        self.transitions = [t for t in self.transitions if t.sources]
        self.states = {n: self.states[n] for n in sorted(self.states, key=lambda n: n != self.initial)}
        at = {name: i for i, name in enumerate(self.states)}
        # An exported definition's own order; else by state, in file order.
        self.transitions.sort(key=lambda t: (t.index is None, t.index or 0, at[t.sources[0]]))


def import_bpmn(data: bytes, filename: str, *, lenient: bool = False, role_map: dict[str, str] | None = None,
                effect_map: dict[str, str] | None = None) -> ImportResult:
    """Translate a BPMN 2.0 file into a YAML definition; raises :class:`BpmnImportError` when it is refused."""
    role_map = role_map or {}
    bad_roles = [Problem(filename, 1, f"角色对应 {name}={role} 无效：角色只能是 {'、'.join(rules.ACTING_ROLES)}")
                 for name, role in role_map.items() if role not in rules.ACTING_ROLES]
    if bad_roles:
        raise BpmnImportError(filename, [], bad_roles)
    found: list[Unsupported] = []
    warnings: list[str] = []
    process = _read(data, filename, found, warnings)
    graph, dropped = _scan(process, found, warnings, effect_map)
    steps = set(graph.of_kind("step"))
    unknown = [Problem(filename, 1, f"--map {task}={effect}：流程中没有这样的自动任务（服务、脚本、发送、业务规则任务或调用活动）")
               for task, effect in (effect_map or {}).items() if task not in steps]
    if unknown:
        raise BpmnImportError(filename, [], unknown)
    warnings += [f"{task} 按 --map 对应效果 {effect}" if effect != NO_EFFECT else f"{task} 按 --map 在此无需执行"
                 for task, effect in (effect_map or {}).items()]
    found.sort(key=lambda u: u.line)
    if found and not lenient:
        raise BpmnImportError(filename, found, [])
    warnings[:0] = [f"已删除不支持的元素：{u}" for u in found]
    graph.flows, graph.dropped_flows = ([f for f in graph.flows if not {f.source, f.target} & dropped],
                                        [f for f in graph.flows if {f.source, f.target} & dropped])
    warnings += [f"第 {f.line} 行：已删除与之相连的顺序流 {f.id}（{f.source} → {f.target}）" for f in graph.dropped_flows]
    if lost := _lost_branches(graph, dropped, filename):  # lenient never changes what a decision means
        raise BpmnImportError(filename, found, lost, warnings)
    importer = _Importer(filename, graph, role_map, lenient, warnings)
    importer.read_parallel()
    importer.read_tasks()
    importer.read_flows()
    importer.find_initial()
    if importer.unsupported:  # what parallel gateways do outside the subset cannot be dropped, even leniently
        raise BpmnImportError(filename, sorted(found + importer.unsupported, key=lambda u: u.line), importer.problems,
                              warnings)
    if importer.problems:
        raise BpmnImportError(filename, found, importer.problems, warnings)
    importer.prune()
    if not importer.transitions:
        raise BpmnImportError(filename, found, [Problem(filename, 1, "导入后没有任何转换，无法构成工作流定义")], warnings)
    return _result(process, importer, found, filename)


def _lost_branches(graph: _Graph, dropped: set[str], filename: str) -> list[Problem]:
    """The decisions that would lose a branch if the dropped elements went: one problem per branch."""
    kept = graph.flows + graph.dropped_flows
    problems = []
    for flow in graph.dropped_flows:
        if flow.source in dropped or flow.target not in dropped:
            continue
        ways = [f for f in kept if f.source == flow.source]
        if len(ways) > 1:
            problems.append(Problem(filename, flow.line, f"决策 {flow.source} 的分支 {flow.id} 通向不支持的 {flow.target}："
                                                         "删除它会改变决策的含义，宽松导入也不能删除"))
    return problems


def _result(process: etree._Element, importer: _Importer, found: list[Unsupported], filename: str) -> ImportResult:
    ident = snake(process.get("id", "")) or snake(process.get("name", "")) or "imported"
    data = definition_data(process, importer, ident)
    conditions = {g: c for t in importer.transitions for g, c in t.conditions.items()}
    to_provide = {g: conditions.get(g, "") for t in importer.transitions for g in t.guards if g not in rules.GUARDS}
    header = [f"由 BPMN 导入：{_text(PurePath(filename).name)}（流程 {process.get('id', '')}）"]
    if importer.role_mappings:
        header.append(f"角色对应：{'，'.join(f'{n} → {r}' for n, r in importer.role_mappings.items())}")
    header += [f"需要在 engine/workflow/rules.py 注册的守卫：{'、'.join(to_provide)}"] if to_provide else []
    text = yaml_text(data, importer, header)
    try:  # the translation must give a definition we accept, but for guards not registered yet
        definitions.parse(text, filename)
    except definitions.DefinitionError as exc:
        problems = [p for p in exc.problems if not p.reason.startswith("未知守卫")]
        if problems:
            raise BpmnImportError(filename, found, problems, importer.warnings) from exc
    return ImportResult(text, data["id"], found, importer.warnings, to_provide, importer.role_mappings)


def deploy(*, session, data: bytes, filename: str, fmt: str, lenient: bool = False, role_map: dict[str, str] | None = None,
           effect_map: dict[str, str] | None = None, actor: str, role: str) -> deployments.Deployed:
    """A YAML definition, or a BPMN file translated (in a limited child process), deployed as the next version of
    its id; a refusal of either is :class:`~engine.store.errors.InvalidPayload` listing each problem."""
    try:
        text = data.decode("utf-8")
        fields: dict[str, Any] = {"definition_text": text}
        if fmt == "bpmn":
            result = isolation.run(import_bpmn, data, filename, lenient=lenient, role_map=role_map or {},
                                   effect_map=effect_map or {})
            fields = {"definition_text": result.yaml_text, "source": text}
        return deployments.deploy(session=session, fmt=fmt, filename=filename, actor=actor, role=role, **fields)
    except UnicodeDecodeError as exc:
        raise InvalidPayload("文件应为 UTF-8 文本", errors=[{"field": "source", "reason": "文件应为 UTF-8 文本"}]) from exc
    except BpmnImportError as exc:
        reasons = [str(u) for u in exc.unsupported] + [str(p) for p in exc.problems]
    except definitions.DefinitionError as exc:
        reasons = [str(p) for p in exc.problems]
    raise InvalidPayload("；".join(reasons), errors=[{"field": "source", "reason": r} for r in reasons])
