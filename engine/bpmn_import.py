"""BPMN 2.0 in: the subset of BPMN that maps onto our state machines, as a YAML definition.

kaoping's YAML stays the native format; BPMN is a door in and out. Start event → initial
state; user tasks → states; an end event reached from a task → a final state; sequence flows
through exclusive gateways → transitions, their conditions → named guards; candidate groups,
assignees, performers and lanes → roles (:func:`role_for`); boundary timers → deadlines and an
escalation level; multi-instance "all complete" tasks → countersign. Anything else is listed
element by element and the file is refused, unless ``lenient``: then it is dropped, with the
sequence flows that touch it. Our own extensions (see :mod:`engine.bpmn_export`) override the
plain reading, so that importing an exported definition gives it back. The README has the
full table.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml
from lxml import etree

from engine import definitions, rules
from engine.bpmn_export import BPMN, CAMUNDA, KAOPING, extension, q, read_deadline, read_process, read_transition
from engine.yamlsource import Problem

FLOWABLE, ACTIVITI = "http://flowable.org/bpmn", "http://activiti.org/bpmn"
NAME = re.compile(r"[a-z][a-z0-9_]*")
#: Default role table: words in a group, user or lane name (ASCII words match as prefixes, "hr" whole).
LEADER_WORDS = ("manag", "approv", "leader", "director", "supervis", "chief", "领导", "审批", "审签", "局长")
OFFICE_WORDS = ("office", "account", "admin", "financ", "hr", "绩效办", "财务", "人事")
KINDS = {"startEvent": "start", "endEvent": "end", "userTask": "task", "exclusiveGateway": "gateway", "boundaryEvent": "timer"}
QUIET = {"documentation", "extensionElements", "laneSet", "sequenceFlow", "textAnnotation", "association", "group",
         "auditing", "monitoring", "property", "ioSpecification", "resourceRole", "supports"}
WHY = {"Gateway": "只支持排他网关：一个目标同一时刻只处于一个状态",
       "Task": "只有用户任务对应状态，自动执行或无人办理的任务无法导入",
       "task": "未指明类型的任务：只有用户任务对应状态", "callActivity": "调用活动（另一个流程）无法导入",
       "rocess": "子流程无法导入", "transaction": "子流程无法导入", "Event": "中间事件无法导入",
       "data": "数据对象和数据存储不属于工作流定义"}
#: Ids a modeler made up (Activity_0x1l2aj, UUIDs, Task_1): the element's name says more.
GENERATED_ID = re.compile(r"(?i)sid-.*|_?[0-9a-f]{8}-[0-9a-f-]{20,}|[a-z]+_[0-9a-z]{7}|(?:user)?task_?\d+"
                          r"|(?:start|end)?event_?\d+")
DURATION = re.compile(r"P(?:([\d.]+)Y)?(?:([\d.]+)M)?(?:([\d.]+)W)?(?:([\d.]+)D)?"
                      r"(?:T(?:([\d.]+)H)?(?:([\d.]+)M)?(?:([\d.]+)S)?)?")


@dataclass
class Unsupported:
    """One BPMN element outside the subset we import."""

    tag: str
    id: str
    line: int
    name: str
    reason: str = ""

    def __str__(self) -> str:
        return f"第 {self.line} 行 <{self.tag} id=\"{self.id}\">{f'（{self.name}）' if self.name else ''}：{self.reason}"


@dataclass
class ImportResult:
    """A BPMN file translated into a YAML definition, and what the translation did."""

    yaml_text: str
    definition_id: str
    unsupported: list[Unsupported]
    warnings: list[str]
    guards_to_provide: dict[str, str]  # guard → the condition it stands for
    role_mappings: dict[str, str]  # group, user or lane name → role


class BpmnImportError(Exception):
    """A BPMN file was refused: its ``unsupported`` elements, or other ``problems``."""

    def __init__(self, filename: str, unsupported: list[Unsupported], problems: list[Problem],
                 warnings: list[str] | None = None) -> None:
        lines = [f"{filename}:{u.line}: 不支持的元素 <{u.tag} id=\"{u.id}\">：{u.reason}" for u in unsupported]
        super().__init__("\n".join(lines + [str(p) for p in problems]))
        self.unsupported, self.problems = unsupported, problems
        self.warnings = warnings or []  # what lenient dropped before the rest was refused


@dataclass
class State:
    name: str
    label: str
    label_en: str = ""
    final: bool = False
    deadline: dict[str, Any] | None = None
    note: str = ""  # where the deadline came from, written as a comment
    roles: list[str] = field(default_factory=list)
    countersign: bool = False


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
    effects: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    comment_required: bool = False
    countersign: bool = False
    index: int | None = None  # the order an exported definition had


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    name: str
    condition: str
    line: int
    element: etree._Element


@dataclass
class _Graph:
    nodes: dict[str, etree._Element] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    flows: list[_Flow] = field(default_factory=list)
    dropped_flows: list[_Flow] = field(default_factory=list)
    lanes: dict[str, str] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[str]:
        return [ident for ident, k in self.kinds.items() if k == kind]

    def paths(self, node: str) -> list[tuple[list[_Flow], str]]:
        """Every way from ``node``, through exclusive gateways, to a user task or an end event."""
        found: list[tuple[list[_Flow], str]] = []

        def walk(at: str, trail: list[_Flow], seen: frozenset[str]) -> None:
            for flow in (f for f in self.flows if f.source == at):
                kind = self.kinds.get(flow.target)
                if kind == "gateway" and flow.target not in seen:
                    walk(flow.target, [*trail, flow], seen | {flow.target})
                elif kind in ("task", "end"):
                    found.append(([*trail, flow], flow.target))

        walk(node, [], frozenset())
        return found


def local(element: etree._Element) -> str:
    """An element's tag without its namespace."""
    return etree.QName(element).localname


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


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


def _unwrap(condition: str) -> str:
    m = re.fullmatch(r"[$#]\{(.*)\}", _text(condition))
    return m[1].strip() if m else _text(condition)


def _days(duration: str) -> int | None:
    """Days in an ISO-8601 duration, rounded up, at least 1 (a month counts 30 days, a year 365)."""
    m = DURATION.fullmatch(duration)
    if not m or not any(m.groups()):
        return None
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return max(1, math.ceil(((((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60 + s) / 86400))


def _reason(element: etree._Element) -> str | None:
    """Why an element of a process cannot be imported; ``None`` if it can."""
    tag = local(element)
    kinds = [local(c) for c in element if isinstance(c.tag, str) and local(c).endswith(("EventDefinition", "eventDefinitionRef"))]
    if tag == "startEvent" and kinds:
        return f"只支持无触发的开始事件（此处为 {'、'.join(kinds)}）"
    if tag == "endEvent" and set(kinds) - {"terminateEventDefinition"}:
        return f"只支持普通结束事件（此处为 {'、'.join(kinds)}）"
    if tag == "boundaryEvent":
        return _timer_reason(element, kinds)
    if tag == "userTask":
        return _loop_reason(element)
    if tag in KINDS or tag in QUIET:
        return None
    return next((why for key, why in WHY.items() if tag.endswith(key) or tag.startswith(key)), "不在可导入的子集内")


def _timer_reason(element: etree._Element, kinds: list[str]) -> str | None:
    if kinds != ["timerEventDefinition"]:
        return f"只支持定时边界事件（此处为 {'、'.join(kinds) or '无事件定义'}）"
    timer = element.find(q(BPMN, "timerEventDefinition"))
    duration, date = timer.find(q(BPMN, "timeDuration")), timer.find(q(BPMN, "timeDate"))
    if duration is not None and _days(_text(duration.text)) is None:
        return f"定时器时长 '{_text(duration.text)}' 不是 ISO-8601 时长"
    if duration is None and date is None:
        return "只支持 timeDuration 或 timeDate 定时器（循环定时器无法导入）"
    return None


def _loop_reason(task: etree._Element) -> str | None:
    if task.find(q(BPMN, "standardLoopCharacteristics")) is not None:
        return "循环任务无法导入"
    loop = task.find(q(BPMN, "multiInstanceLoopCharacteristics"))
    done = loop.find(q(BPMN, "completionCondition")) if loop is not None else None
    shapes = {"nrOfCompletedInstances==nrOfInstances", "nrOfInstances==nrOfCompletedInstances",
              "nrOfCompletedInstances>=nrOfInstances", "nrOfInstances<=nrOfCompletedInstances"}
    if done is not None and re.sub(r"\s+", "", _unwrap(done.text or "")) not in shapes:
        return f"多实例任务只支持“全部完成”（完成条件为 {_text(done.text)}）"
    return None


def _unsupported(element: etree._Element, reason: str) -> Unsupported:
    return Unsupported(local(element), element.get("id", ""), element.sourceline or 0, _text(element.get("name")), reason)


def _read(data: bytes, filename: str, found: list[Unsupported]) -> etree._Element:
    """The one process to import; other processes, data stores and message flows go to ``found``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BpmnImportError(filename, [], [Problem(filename, exc.lineno or 1, f"XML 语法错误：{exc.msg}")]) from exc
    processes = [p for p in root.iter(q(BPMN, "process")) if p.find(q(BPMN, "userTask")) is not None]
    if root.tag != q(BPMN, "definitions") or not processes:
        raise BpmnImportError(filename, [], [Problem(filename, 1, "不是含用户任务的 BPMN 2.0 流程文件")])
    found.extend(_unsupported(p, "一个定义只导入一个流程") for p in processes[1:])
    found.extend(_unsupported(e, WHY["data"]) for e in root.findall(q(BPMN, "dataStore")))
    found.extend(_unsupported(e, "消息流无法导入") for e in root.iter(q(BPMN, "messageFlow")))
    return processes[0]


def _scan(process: etree._Element, found: list[Unsupported], warnings: list[str]) -> tuple[_Graph, set[str]]:
    """The importable nodes and flows of a process; the rest goes to ``found``, its ids to the set returned."""
    graph, dropped = _Graph(), set()
    for child in (c for c in process if isinstance(c.tag, str)):
        if reason := _reason(child):
            found.append(_unsupported(child, reason))
            dropped.add(child.get("id", ""))
        elif local(child) in KINDS:
            graph.nodes[child.get("id", "")], graph.kinds[child.get("id", "")] = child, KINDS[local(child)]
        elif local(child) in ("property", "ioSpecification"):
            warnings.append(f"第 {child.sourceline} 行 <{local(child)}>：流程变量和数据未导入")
    for timer_id in graph.of_kind("timer"):
        if graph.kinds.get(graph.nodes[timer_id].get("attachedToRef", "")) != "task":
            found.append(_unsupported(graph.nodes[timer_id], "只支持附着在用户任务上的定时器"))
            dropped.add(timer_id)
            del graph.nodes[timer_id], graph.kinds[timer_id]
    for e in process.findall(q(BPMN, "sequenceFlow")):  # not those inside a (dropped) sub-process
        condition = e.find(q(BPMN, "conditionExpression"))
        graph.flows.append(_Flow(e.get("id", ""), e.get("sourceRef", ""), e.get("targetRef", ""), _text(e.get("name")),
                                 _text(condition.text) if condition is not None else "", e.sourceline or 0, e))
    for lane in process.iter(q(BPMN, "lane")):  # nested lanes come later and win
        for ref in lane.findall(q(BPMN, "flowNodeRef")):
            graph.lanes[_text(ref.text)] = _text(lane.get("name") or lane.get("id"))
    return graph, dropped


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

    def read_tasks(self) -> None:
        for ident in self.graph.of_kind("task"):
            task = self.graph.nodes[ident]
            state = State(self.name(task, "task"), _text(task.get("name")) or ident, task.get(q(KAOPING, "labelEn"), ""),
                          final=task.get(q(KAOPING, "final")) == "true")
            state.countersign = task.find(q(BPMN, "multiInstanceLoopCharacteristics")) is not None
            if (deadline := extension(task, "deadline")) is not None:
                state.deadline = read_deadline(deadline)
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
            self.states[name] = State(name, _text(end.get("name")) or "已结束", final=True)
        return self.names[end_id]

    def read_flows(self) -> None:
        for ident in self.graph.of_kind("task"):
            source, ways = self.states[self.names[ident]], self.graph.paths(ident)
            if source.final:
                continue  # exported final states: the flow to their end event is no transition
            if not ways and any(f.source == ident for f in self.graph.dropped_flows):
                self.warnings.append(f"状态 {source.name} 已没有出路（相连的元素已删除）")
            for trail, dest in ways:
                self.add(source, trail, dest, single=len(ways) == 1)
        for ident in self.graph.of_kind("timer"):
            self.read_timer(self.graph.nodes[ident])

    def add(self, source: State, trail: list[_Flow], dest: str, single: bool, timer: etree._Element | None = None) -> None:
        dest_name = self.final_for(dest) if self.graph.kinds[dest] == "end" else self.names[dest]
        ext = next((e for f in reversed(trail) if (e := extension(f.element, "transition")) is not None), None)
        named = [f.name for f in trail if f.name]
        t = Transition("", [source.name], dest_name, list(source.roles), label=named[-1] if named else "")
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
        marker = ""
        for flow in (f for f in trail if f.condition):
            if m := re.fullmatch(r"trigger\s*==\s*['\"]([a-z][a-z0-9_]*)['\"]", _unwrap(flow.condition)):
                marker = m[1]  # our own export's conditions name the trigger
            elif (guard := guard_name(flow.condition)) not in t.guards:
                t.guards.append(guard)
                t.conditions[guard] = flow.condition
        named = [snake(f.name) for f in trail if snake(f.name)]
        t.trigger = marker or (named[-1] if named else "") or (
            f"complete_{source.name}" if single else t.guards[0] if len(t.guards) == 1 else f"go_{t.dest}")
        t.label = t.label or ("完成" if single else f"转至{self.states[t.dest].label}")
        if source.countersign:
            t.countersign, t.roles = True, ["leader"]

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
        ident, state = timer.get("id", ""), self.states[self.names[timer.get("attachedToRef", "")]]
        definition = timer.find(q(BPMN, "timerEventDefinition"))
        duration, date = definition.find(q(BPMN, "timeDuration")), definition.find(q(BPMN, "timeDate"))
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

    def find_initial(self) -> None:
        starts = self.graph.of_kind("start")
        if len(starts) != 1:
            self.problems.append(Problem(self.filename, 1, f"应有且只有一个开始事件，实际有 {len(starts)} 个"))
            return
        dests = sorted({dest for _, dest in self.graph.paths(starts[0])})
        if len(dests) == 1 and self.graph.kinds[dests[0]] == "task":
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
            for t in (t for t in self.transitions if at in t.sources and t.dest not in reached):
                reached.add(t.dest)
                queue.append(t.dest)
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


def _data(process: etree._Element, importer: _Importer) -> dict[str, Any]:
    """The definition as plain data, in the order of our YAML files."""
    ours = read_process(process)
    ident = ours.get("id") or snake(process.get("id", "")) or snake(process.get("name", "")) or "imported"
    data: dict[str, Any] = {"id": ident, "version": ours.get("version", 1),
                            "label": _label(_text(process.get("name") or process.get("id")), ours.get("label_en", "")),
                            "initial": importer.initial, "states": {}, "transitions": []}
    for s in importer.states.values():
        data["states"][s.name] = {"label": _label(s.label, s.label_en)} | ({"final": True} if s.final else {}) | (
            {"deadline": s.deadline} if s.deadline else {})
    for t in importer.transitions:
        item = {"trigger": t.trigger, "label": _label(t.label, t.label_en),
                "from": t.sources[0] if len(t.sources) == 1 else t.sources, "to": t.dest, "roles": t.roles}
        extras = {"fields": {f["name"]: _field(f) for f in t.fields}, "comment": "required" if t.comment_required else None,
                  "countersign": t.countersign or None, "guards": t.guards, "effects": t.effects, "notify": t.notify}
        data["transitions"].append(item | {k: v for k, v in extras.items() if v})
    data |= {k: ours[k] for k in ("reminders", "escalation") if k in ours}
    if importer.timed and "escalation" not in data:  # a timer is a deadline someone must be told about
        data["escalation"] = [{"level": 1, "after_working_days": 0, "notify": ["office"]}]
    return data


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh} | ({"en": en} if en else {})


def _field(f: dict[str, Any]) -> _Inline:
    spec: dict[str, Any] = {"type": f["type"]} | ({} if f["required"] else {"required": False})
    spec |= {"label": {"zh": f["label"]}} if f["label"] else {}
    return _Inline(spec | {k: f[k] for k in ("min", "max", "max_length") if f[k] is not None})


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # lists indented, as we write them
        return super().increase_indent(flow, False)


class _Inline(dict):
    """A mapping written on one line, as our files write fields."""


_Dumper.add_representer(_Inline, lambda dumper, value: dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True))


def _yaml(data: dict[str, Any], importer: _Importer, header: list[str]) -> str:
    """YAML text in our house layout, with the conditions and timer durations as comments."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=None, width=4096)
    states, transitions = list(importer.states.values()), importer.transitions
    out, section, index = [f"# {line}" for line in header], "", -1
    for line in text.splitlines():
        if not line.startswith(" "):
            section, index = line.split(":")[0], -1
            out += [""] if section in ("states", "transitions", "reminders", "escalation") else []
        elif (section == "states" and re.match(r"  \S", line)) or (section == "transitions" and line.startswith("  - ")):
            index += 1
            out += [""] if section == "transitions" and index else []
        if section == "states" and line.startswith("    deadline:") and states[index].note:
            line += f"  # {states[index].note}"
        if section == "transitions" and line.startswith("    guards:") and transitions[index].conditions:
            notes = transitions[index].conditions
            line += "  # " + ("; ".join(f"{g}: {c}" for g, c in notes.items()) if len(notes) > 1 else next(iter(notes.values())))
        out.append(line)
    return "\n".join(out) + "\n"


def import_bpmn(data: bytes, filename: str, *, lenient: bool = False, role_map: dict[str, str] | None = None) -> ImportResult:
    """Translate a BPMN 2.0 file into a YAML definition; raises :class:`BpmnImportError` when it is refused."""
    role_map = role_map or {}
    bad_roles = [Problem(filename, 1, f"角色对应 {name}={role} 无效：角色只能是 {'、'.join(rules.ACTING_ROLES)}")
                 for name, role in role_map.items() if role not in rules.ACTING_ROLES]
    if bad_roles:
        raise BpmnImportError(filename, [], bad_roles)
    found: list[Unsupported] = []
    warnings: list[str] = []
    process = _read(data, filename, found)
    graph, dropped = _scan(process, found, warnings)
    found.sort(key=lambda u: u.line)
    if found and not lenient:
        raise BpmnImportError(filename, found, [])
    warnings[:0] = [f"已删除不支持的元素：{u}" for u in found]
    graph.flows, graph.dropped_flows = ([f for f in graph.flows if not {f.source, f.target} & dropped],
                                        [f for f in graph.flows if {f.source, f.target} & dropped])
    warnings += [f"第 {f.line} 行：已删除与之相连的顺序流 {f.id}（{f.source} → {f.target}）" for f in graph.dropped_flows]
    importer = _Importer(filename, graph, role_map, lenient, warnings)
    importer.read_tasks()
    importer.read_flows()
    importer.find_initial()
    if importer.problems:
        raise BpmnImportError(filename, found, importer.problems, warnings)
    importer.prune()
    if not importer.transitions:
        raise BpmnImportError(filename, found, [Problem(filename, 1, "导入后没有任何转换，无法构成工作流定义")], warnings)
    return _result(process, importer, found, filename)


def _result(process: etree._Element, importer: _Importer, found: list[Unsupported], filename: str) -> ImportResult:
    data = _data(process, importer)
    conditions = {g: c for t in importer.transitions for g, c in t.conditions.items()}
    to_provide = {g: conditions.get(g, "") for t in importer.transitions for g in t.guards if g not in rules.GUARDS}
    header = [f"由 BPMN 导入：{_text(PurePath(filename).name)}（流程 {process.get('id', '')}）"]
    if importer.role_mappings:
        header.append(f"角色对应：{'，'.join(f'{n} → {r}' for n, r in importer.role_mappings.items())}")
    header += [f"需要在 engine/rules.py 注册的守卫：{'、'.join(to_provide)}"] if to_provide else []
    text = _yaml(data, importer, header)
    try:  # the translation must give a definition we accept, but for guards not registered yet
        definitions.parse(text, filename)
    except definitions.DefinitionError as exc:
        problems = [p for p in exc.problems if not p.reason.startswith("未知守卫")]
        if problems:
            raise BpmnImportError(filename, found, problems, importer.warnings) from exc
    return ImportResult(text, data["id"], found, importer.warnings, to_provide, importer.role_mappings)
