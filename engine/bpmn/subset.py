"""Which BPMN elements kaoping runs, and the process graph read from a file (for :mod:`engine.bpmn.reader`).

Reading keeps every element's line, so that what cannot be imported is reported element by
element with its tag, id and line.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn.writer import BPMN, KAOPING, q
from engine.workflow.yamlsource import Problem

FLOWABLE, ACTIVITI = "http://flowable.org/bpmn", "http://activiti.org/bpmn"

KINDS = {"startEvent": "start", "endEvent": "end", "userTask": "task", "exclusiveGateway": "gateway", "boundaryEvent": "timer",
         "parallelGateway": "parallel"}
QUIET = {"documentation", "extensionElements", "laneSet", "sequenceFlow", "auditing", "monitoring", "property",
         "ioSpecification", "resourceRole", "supports"}
#: Elements that carry no behaviour here: ignored, each with a note.
IGNORED = {"dataObject": "数据对象", "dataObjectReference": "数据对象引用", "dataStore": "数据存储",
           "dataStoreReference": "数据存储引用", "messageFlow": "消息流", "association": "关联",
           "textAnnotation": "文本注释", "group": "分组", "dataInput": "数据输入", "dataOutput": "数据输出"}
#: Automatic steps: run as the named effect that ``--map ID=effect`` gives (``none``: nothing to run here).
STEPS = {"serviceTask": "服务任务", "scriptTask": "脚本任务", "sendTask": "发送任务", "businessRuleTask": "业务规则任务",
         "task": "未指明类型的任务", "manualTask": "手工任务", "receiveTask": "接收任务", "callActivity": "调用活动"}
NO_EFFECT = "none"
WHY = {"Gateway": "只支持排他网关，和围住用户任务的并行网关（分支与汇合）",
       "Task": "只有用户任务对应状态，自动执行或无人办理的任务无法导入",
       "task": "未指明类型的任务：只有用户任务对应状态", "callActivity": "调用活动（另一个流程）无法导入",
       "rocess": "子流程无法导入", "transaction": "子流程无法导入", "Event": "中间事件无法导入",
       "data": "数据对象和数据存储不属于工作流定义"}
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
    effects: dict[str, str] = field(default_factory=dict)  # automatic step → the effect it runs

    def of_kind(self, kind: str) -> list[str]:
        return [ident for ident, k in self.kinds.items() if k == kind]

    def paths(self, node: str) -> list[tuple[list[_Flow], str]]:
        """Every way from ``node``, through exclusive gateways and automatic steps, to a user task, an end event or
        a parallel gateway (a parallel state's fork, or the join a branch ends in)."""
        found: list[tuple[list[_Flow], str]] = []

        def walk(at: str, trail: list[_Flow], seen: frozenset[str]) -> None:
            for flow in (f for f in self.flows if f.source == at):
                kind = self.kinds.get(flow.target)
                if kind in ("gateway", "step") and flow.target not in seen:
                    walk(flow.target, [*trail, flow], seen | {flow.target})
                elif kind in ("task", "end", "parallel"):
                    found.append(([*trail, flow], flow.target))

        walk(node, [], frozenset())
        return found


def local(element: etree._Element) -> str:
    """An element's tag without its namespace."""
    return etree.QName(element).localname


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _days(duration: str) -> int | None:
    """Days in an ISO-8601 duration, rounded up, at least 1 (a month counts 30 days, a year 365)."""
    m = DURATION.fullmatch(duration)
    if not m or not any(m.groups()):
        return None
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return max(1, math.ceil(((((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60 + s) / 86400))


def _event_kinds(element: etree._Element) -> list[str]:
    return [local(c) for c in element if isinstance(c.tag, str) and local(c).endswith(("EventDefinition", "eventDefinitionRef"))]


def _reason(element: etree._Element, effect_map: dict[str, str] | None = None) -> str | None:
    """Why an element of a process cannot be imported; ``None`` if it can."""
    tag = local(element)
    kinds = _event_kinds(element)
    if tag in ("startEvent", "endEvent") or tag in IGNORED:
        return None  # a trigger or a result is noted (see _scan)
    if tag == "subProcess":
        starts = [c for c in element if isinstance(c.tag, str) and local(c) == "startEvent"]
        if element.get("triggeredByEvent") == "true":
            return "事件子流程无法导入"
        return None if len(starts) == 1 else f"子流程应有且只有一个开始事件（此处 {len(starts)} 个）"
    if tag in STEPS:
        if element.get("id", "") in (effect_map or {}):
            return None
        return (f"{STEPS[tag]}不对应状态：用 --map {element.get('id', '')}=效果 指定它执行的已注册效果"
                f"（或 ={NO_EFFECT}，表示此处无需执行）")
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
    cycle = timer.find(q(BPMN, "timeCycle"))
    if duration is not None and _days(_text(duration.text)) is None:
        return f"定时器时长 '{_text(duration.text)}' 不是 ISO-8601 时长"
    if cycle is not None:
        if element.get("cancelActivity", "true") != "false":
            return "循环定时器只能是非中断的（对应重复提醒）：中断型循环定时器无法导入"
        if cycle_of(_text(cycle.text)) is None:
            return f"循环定时器 '{_text(cycle.text)}' 不是 ISO-8601 重复间隔（如 R3/P2D、R/P1D）"
        return None
    if duration is None and date is None:
        return "只支持 timeDuration、timeDate 或 timeCycle 定时器"
    return None


def cycle_of(text: str) -> tuple[int | None, int] | None:
    """``R3/P2D`` → ``(3, 2)``: how many times (``None``: unbounded) and every how many days (rounded up, at
    least 1); ``None`` if it is not an ISO-8601 repeating interval of a duration."""
    m = re.fullmatch(r"R(\d*)/(P[^/]+)", text)
    days = _days(m[2]) if m else None
    if days is None or (m[1] and int(m[1]) < 1):
        return None
    return (int(m[1]) if m[1] else None), days


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


def _read(data: bytes, filename: str, found: list[Unsupported], warnings: list[str]) -> etree._Element:
    """The one process to import; other processes go to ``found``, data stores and message flows to ``warnings``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BpmnImportError(filename, [], [Problem(filename, exc.lineno or 1, f"XML 语法错误：{exc.msg}")]) from exc
    processes = [p for p in root.iter(q(BPMN, "process")) if p.find(q(BPMN, "userTask")) is not None]
    if root.tag != q(BPMN, "definitions") or not processes:
        raise BpmnImportError(filename, [], [Problem(filename, 1, "不是含用户任务的 BPMN 2.0 流程文件")])
    found.extend(_unsupported(p, "一个定义只导入一个流程") for p in processes[1:])
    for e in [*root.findall(q(BPMN, "dataStore")), *root.iter(q(BPMN, "messageFlow"))]:
        warnings.append(_ignored(e))
    return processes[0]


def _ignored(element: etree._Element) -> str:
    return f"第 {element.sourceline} 行 <{local(element)} id=\"{element.get('id', '')}\">：{IGNORED[local(element)]}不影响流程，已忽略"


def _scan(process: etree._Element, found: list[Unsupported], warnings: list[str],
          effect_map: dict[str, str] | None = None) -> tuple[_Graph, set[str]]:
    """The importable nodes and flows of a process, its sub-processes flattened into it; the rest goes to
    ``found``, its ids to the set returned."""
    graph, dropped, subs = _Graph(), set(), []
    _scan_nodes(process, graph, dropped, found, warnings, effect_map or {}, subs)
    for timer_id in graph.of_kind("timer"):
        if graph.kinds.get(graph.nodes[timer_id].get("attachedToRef", "")) != "task":
            found.append(_unsupported(graph.nodes[timer_id], "只支持附着在用户任务上的定时器"))
            dropped.add(timer_id)
            del graph.nodes[timer_id], graph.kinds[timer_id]
    for container in (process, *subs):  # not the flows inside a dropped sub-process
        for e in container.findall(q(BPMN, "sequenceFlow")):
            condition = e.find(q(BPMN, "conditionExpression"))
            graph.flows.append(_Flow(e.get("id", ""), e.get("sourceRef", ""), e.get("targetRef", ""), _text(e.get("name")),
                                     _text(condition.text) if condition is not None else "", e.sourceline or 0, e))
    for sub in subs:
        _flatten(sub, graph, warnings)
    for lane in process.iter(q(BPMN, "lane")):  # nested lanes come later and win
        for ref in lane.findall(q(BPMN, "flowNodeRef")):
            graph.lanes[_text(ref.text)] = _text(lane.get("name") or lane.get("id"))
    for sub in subs:  # a sub-process's tasks act in its lane
        for inner in sub.iter(q(BPMN, "userTask")):
            graph.lanes.setdefault(inner.get("id", ""), graph.lanes.get(sub.get("id", ""), ""))
    return graph, dropped


def _scan_nodes(container: etree._Element, graph: _Graph, dropped: set[str], found: list[Unsupported],
                warnings: list[str], effect_map: dict[str, str], subs: list[etree._Element]) -> None:
    inner = container in subs
    for child in (c for c in container if isinstance(c.tag, str)):
        tag, ident = local(child), child.get("id", "")
        if "true" in (child.get(q(KAOPING, "closing")), child.get(q(KAOPING, "deadline"))):
            continue  # our export's end after a completed state, and its deadline timers: kaoping:deadline says it
        if reason := _reason(child, effect_map):
            found.append(_unsupported(child, reason))
            dropped.add(ident)
        elif tag in IGNORED:
            warnings.append(_ignored(child))
        elif tag in STEPS:
            graph.nodes[ident], graph.kinds[ident] = child, "step"
            graph.effects[ident] = effect_map[ident]
        elif tag == "subProcess":
            graph.nodes[ident], graph.kinds[ident] = child, "gateway"  # passed through, into its start event
            subs.append(child)
            _scan_nodes(child, graph, dropped, found, warnings, effect_map, subs)
        elif tag in ("startEvent", "endEvent") and inner:
            graph.nodes[ident], graph.kinds[ident] = child, "gateway"  # the way in and out of a flattened sub-process
        elif tag in KINDS:
            graph.nodes[ident], graph.kinds[ident] = child, KINDS[tag]
            if tag in ("startEvent", "endEvent") and (kinds := _event_kinds(child)) and kinds != ["terminateEventDefinition"]:
                what = "开始事件的触发" if tag == "startEvent" else "结束事件的结果"
                plain = "按普通开始事件导入" if tag == "startEvent" else "按终止状态导入"
                warnings.append(f"第 {child.sourceline} 行 <{tag} id=\"{ident}\">：{what}（{'、'.join(kinds)}）已记下，{plain}")
        elif local(child) in ("property", "ioSpecification"):
            warnings.append(f"第 {child.sourceline} 行 <{local(child)}>：流程变量和数据未导入")


def _flatten(sub: etree._Element, graph: _Graph, warnings: list[str]) -> None:
    """A sub-process's states into its parent's: the ways into it lead to its start event, and the ways out
    of it leave from each of its end events."""
    ident = sub.get("id", "")
    start = next(e.get("id", "") for e in sub if isinstance(e.tag, str) and local(e) == "startEvent")
    ends = [e.get("id", "") for e in sub if isinstance(e.tag, str) and local(e) == "endEvent"]
    leaving = [f for f in graph.flows if f.source == ident]
    graph.flows = [f for f in graph.flows if f.source != ident]
    graph.flows.append(_Flow(f"{ident}_start", ident, start, "", "", sub.sourceline or 0, sub))
    graph.flows += [_Flow(f.id, end, f.target, f.name, f.condition, f.line, f.element) for end in ends for f in leaving]
    warnings.append(f"第 {sub.sourceline} 行 <subProcess id=\"{ident}\">：子流程已展开到上层流程")


class BpmnImportError(Exception):
    """A BPMN file was refused: its ``unsupported`` elements, or other ``problems``."""

    def __init__(self, filename: str, unsupported: list[Unsupported], problems: list[Problem],
                 warnings: list[str] | None = None) -> None:
        lines = [f"{filename}:{u.line}: 不支持的元素 <{u.tag} id=\"{u.id}\">：{u.reason}" for u in unsupported]
        super().__init__("\n".join(lines + [str(p) for p in problems]))
        self.filename, self.unsupported, self.problems = filename, unsupported, problems
        self.warnings = warnings or []  # what lenient dropped before the rest was refused

    def __reduce__(self):  # crosses from the limited child process that reads the file
        return type(self), (self.filename, self.unsupported, self.problems, self.warnings)


def _unwrap(condition: str) -> str:
    m = re.fullmatch(r"[$#]\{(.*)\}", _text(condition))
    return m[1].strip() if m else _text(condition)
