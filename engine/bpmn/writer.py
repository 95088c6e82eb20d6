"""BPMN 2.0 out: any workflow definition as one BPMN process with a diagram.

Each state is a ``userTask`` (its id is the state's name, its name the Chinese label,
``camunda:candidateGroups`` the roles acting from it), except a final state, which is an end
event of its own; the initial state follows a start event; a completed state that may be
reopened (``scored``) is followed by an end event (``kaoping:closing``) on its gateway's default
flow; a state with several ways out leads to an exclusive gateway whose outgoing flows carry
conditions over what the person submits: ``${decision == 'sign'}``, the action chosen on the task, and
the transition's ``when`` over the payload's fields (``${decision == 'sign' && (agree == true)}``). Every (trigger, source) is one sequence flow named by the
transition's Chinese label, and every node lists its ``incoming`` and ``outgoing`` flows.

What BPMN has no words for (trigger names, roles per transition, fields, guards, effects,
comments, countersign, notifications, deadlines, reminders, escalation, English labels) is
kept in our own namespace, in attributes and ``extensionElements`` that the BPMN XSD allows,
so that :func:`engine.bpmn.reader.import_bpmn` gives back an equivalent definition; the
readers of those extensions live here too, beside their writers.

The diagram (BPMNDI) comes from :func:`engine.workflow.layout.layout`, run over the BPMN graph itself
(events and gateways as nodes of their own), so it reads left to right like the web diagram.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from lxml import etree

from engine.bpmn.conditions import decided
from engine.workflow import rules
from engine.workflow.definitions import Definition, StateReminder, StateSpec, TransitionSpec
from engine.workflow.layout import Box, Point, layout, text_width

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
KAOPING = "https://kaoping.invalid/bpmn"
NSMAP = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "xsi": XSI, "camunda": CAMUNDA, "kaoping": KAOPING}

EVENT_SIZE, GATEWAY_SIZE = 36.0, 50.0
LABEL_LIFT = 10.0  # half a label's height and a little


def q(namespace: str, tag: str) -> str:
    """The Clark name ``{namespace}tag`` that lxml uses."""
    return f"{{{namespace}}}{tag}"


def words(values: tuple[str, ...] | list[str]) -> str:
    """A list as one attribute value, space separated (our names never contain spaces)."""
    return " ".join(values)


@dataclass
class _Node:
    id: str
    kind: str  # "start", "task", "gateway", "end"; "fork", "step", "join" for a parallel state
    label: str = ""


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    name: str = ""
    spec: TransitionSpec | None = None
    index: int = -1
    conditional: bool = False
    closing: bool = False  # to the end event after a completed state: the gateway's default


@dataclass
class _Graph:
    process_id: str
    nodes: list[_Node] = field(default_factory=list)
    flows: list[_Flow] = field(default_factory=list)


def export_bpmn(definition: Definition) -> bytes:
    """The definition as a BPMN 2.0 XML document (UTF-8), with diagram interchange."""
    graph = _graph(definition)
    root = etree.Element(q(BPMN, "definitions"), nsmap=NSMAP, id=f"_definitions_{definition.id}",
                         targetNamespace=KAOPING, exporter="kaoping", exporterVersion="1")
    process = etree.SubElement(root, q(BPMN, "process"), id=graph.process_id, name=definition.label,
                               isExecutable="true")
    _definition_extensions(etree.SubElement(process, q(BPMN, "extensionElements")), definition)
    for node in graph.nodes:
        _flow_node(process, node, definition, graph)
    for flow in graph.flows:
        _sequence_flow(process, flow)
    timers = [("due", name) for name, state in definition.states.items() if state.deadline and not state.final]
    for _, name in timers:
        _deadline_timer(process, name, definition.states[name].deadline)
    reminded = [("remind", name) for name, state in definition.states.items() if state.remind]
    for _, name in reminded:
        _reminder_timer(process, name, definition.states[name].remind)
    _diagram(root, definition, graph, timers + reminded)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _graph(definition: Definition) -> _Graph:
    """The BPMN nodes and flows of a definition, in a stable order."""
    taken = set(definition.states)
    graph = _Graph(definition.id if definition.id not in taken else f"{definition.id}_process")
    exits = {name: definition.triggers_from(name) for name in definition.states}
    graph.nodes.append(_Node("_start", "start", "开始"))
    graph.flows.append(_Flow("_start_flow", "_start", definition.initial))
    ways = {name: len(exits[name]) + definition.is_done(name) for name in definition.states}
    for name, state in definition.states.items():
        if state.final:
            graph.nodes.append(_Node(name, "end", state.label))
            continue
        if state.branches:
            _parallel(graph, definition, state)
            continue
        graph.nodes.append(_Node(name, "task", state.label))
        if ways[name] > 1:
            graph.nodes.append(_Node(f"_gw_{name}", "gateway", f"{state.label}之后"))
            graph.flows.append(_Flow(f"_to_gw_{name}", name, f"_gw_{name}"))
        if definition.is_done(name):
            graph.nodes.append(_Node(f"_end_{name}", "end", "办结"))
            graph.flows.append(_Flow(f"_to_end_{name}", f"_gw_{name}", f"_end_{name}", closing=True))
    for index, spec in enumerate(definition.transitions):
        if spec.branch:
            continue  # within its parallel state's branch (see _parallel)
        for source in spec.sources:
            via = ways[source] > 1
            graph.flows.append(_Flow(f"_t{index}_{source}", f"_gw_{source}" if via else source, spec.dest,
                                     spec.label, spec, index, conditional=via))
    return graph


def step_id(state: str, trigger: str) -> str:
    """The user task of a parallel state's branch step."""
    return f"{state}__{trigger}"


def _parallel(graph: _Graph, definition: Definition, state: StateSpec) -> None:
    """A parallel state as a parallel gateway (the state itself), a sequence of user tasks per branch, and a
    parallel gateway that joins them, then flows to the join's state. Each step's flow out carries the step."""
    join = f"_join_{state.name}"
    graph.nodes.append(_Node(state.name, "fork", state.label))
    for branch, label in state.branches:
        steps = [(i, t) for i, t in enumerate(definition.transitions) if t.branch == branch and state.name in t.sources]
        at = state.name
        graph.flows.append(_Flow(f"_b_{state.name}_{branch}", at, step_id(state.name, steps[0][1].trigger), label))
        for k, (index, spec) in enumerate(steps):
            node = step_id(state.name, spec.trigger)
            graph.nodes.append(_Node(node, "step", spec.label))
            after = step_id(state.name, steps[k + 1][1].trigger) if k + 1 < len(steps) else join
            graph.flows.append(_Flow(f"_t{index}_{state.name}", node, after, "", spec, index))
    graph.nodes.append(_Node(join, "join", f"{state.label}汇合"))
    graph.flows.append(_Flow(f"_to_{state.join}_{state.name}", join, state.join))


def _definition_extensions(ext: etree._Element, definition: Definition) -> None:
    etree.SubElement(ext, q(KAOPING, "definition"), id=definition.id, version=str(definition.version),
                     labelEn=definition.label_en)
    if definition.reminder_days or definition.reminder_notify:
        etree.SubElement(ext, q(KAOPING, "reminders"), workingDaysBefore=words([str(d) for d in definition.reminder_days]),
                         notify=words(definition.reminder_notify))
    for level in definition.escalation:
        etree.SubElement(ext, q(KAOPING, "escalation"), level=str(level.level),
                         afterWorkingDays=str(level.after_working_days), notify=words(level.notify),
                         supervise=str(level.supervise).lower())
    for first, second in definition.separated:  # separation of duties: one person may not do both
        etree.SubElement(ext, q(KAOPING, "separated"), first=first, second=second)


def _acting_roles(definition: Definition, state: str) -> list[str]:
    acting = {role for spec in definition.triggers_from(state) for role in spec.roles}
    return [role for role in rules.ACTING_ROLES if role in acting] + sorted(acting - set(rules.ACTING_ROLES))


def _flow_node(process: etree._Element, node: _Node, definition: Definition, graph: _Graph) -> None:
    tag = {"start": "startEvent", "task": "userTask", "gateway": "exclusiveGateway", "end": "endEvent",
           "fork": "parallelGateway", "step": "userTask", "join": "parallelGateway"}[node.kind]
    element = etree.SubElement(process, q(BPMN, tag), id=node.id, name=node.label)
    state = definition.states.get(node.id)
    if node.kind == "task":
        _task(element, state, definition)
    elif node.kind == "step":
        spec = next(f.spec for f in graph.flows if f.source == node.id)
        element.set(q(CAMUNDA, "candidateGroups"), ",".join(spec.roles))
        element.set(q(KAOPING, "branch"), spec.branch)
    elif node.kind == "fork":
        element.set(q(KAOPING, "state"), state.name)
        if state.label_en:
            element.set(q(KAOPING, "labelEn"), state.label_en)
    elif node.kind == "end" and state is not None:  # a final state is its end event
        element.set(q(KAOPING, "state"), state.name)
        if state.label_en:
            element.set(q(KAOPING, "labelEn"), state.label_en)
    elif node.kind == "end":
        element.set(q(KAOPING, "closing"), "true")
    for flow in graph.flows:
        if flow.closing and flow.source == node.id:
            element.set("default", flow.id)
    for tag, end in (("incoming", "target"), ("outgoing", "source")):
        for flow in (f for f in graph.flows if getattr(f, end) == node.id):
            etree.SubElement(element, q(BPMN, tag)).text = flow.id
    if node.kind == "task" and any(t.countersign for t in definition.triggers_from(node.id)):
        _countersign(element)


def _timer(process: etree._Element, state: str, kind: str, name: str, tag: str, text: str) -> etree._Element:
    """A non-interrupting boundary timer ``_{kind}_{state}`` on a state's task (``tag``: timeDuration, timeCycle or
    timeDate), whose flow ends in an end event of its own (``kaoping:closing``: no state of ours)."""
    timer, end, flow = f"_{kind}_{state}", f"_{kind}_end_{state}", f"_{kind}_flow_{state}"
    event = etree.SubElement(process, q(BPMN, "boundaryEvent"), id=timer, name=name, attachedToRef=state,
                             cancelActivity="false")
    etree.SubElement(event, q(BPMN, "outgoing")).text = flow
    when = etree.SubElement(etree.SubElement(event, q(BPMN, "timerEventDefinition")), q(BPMN, tag))
    when.set(q(XSI, "type"), "bpmn:tFormalExpression")
    when.text = text
    reminded = etree.SubElement(process, q(BPMN, "endEvent"), id=end, name="已提醒")
    reminded.set(q(KAOPING, "closing"), "true")
    etree.SubElement(reminded, q(BPMN, "incoming")).text = flow
    etree.SubElement(process, q(BPMN, "sequenceFlow"), id=flow, sourceRef=timer, targetRef=end)
    return event


def _deadline_timer(process: etree._Element, state: str, deadline: dict[str, Any]) -> None:
    """A state's deadline as a non-interrupting boundary timer that ends in a reminder: working days as a
    duration (calendar days; the exact rule stays in ``kaoping:deadline``), a date as ``${dueDate}``."""
    (kind, value), = deadline.items()
    event = _timer(process, state, "due", "到期", "timeDuration" if kind == "working_days" else "timeDate",
                   f"P{value}D" if kind == "working_days" else "${dueDate}")
    event.set(q(KAOPING, "deadline"), "true")


def _reminder_timer(process: etree._Element, state: str, remind: StateReminder) -> None:
    """A state's own reminders as a non-interrupting boundary timer: once, a duration; repeated, an ISO-8601
    cycle (``R3/P2D``; ``R/P2D`` as long as the target stays); working days written as days, as for deadlines."""
    period = f"P{remind.every}D"
    tag, text = ("timeDuration", period) if remind.times == 1 else ("timeCycle", f"R{remind.times or ''}/{period}")
    event = _timer(process, state, "remind", "提醒", tag, text)
    event.set(q(KAOPING, "notify"), words(remind.notify))


def _countersign(element: etree._Element) -> None:
    """会签 as BPMN says it: one instance of the task per leader in charge, complete when all are."""
    loop = etree.SubElement(element, q(BPMN, "multiInstanceLoopCharacteristics"), isSequential="false")
    cardinality = etree.SubElement(loop, q(BPMN, "loopCardinality"))
    cardinality.set(q(XSI, "type"), "bpmn:tFormalExpression")
    cardinality.text = "${nrOfLeaders}"
    done = etree.SubElement(loop, q(BPMN, "completionCondition"))
    done.set(q(XSI, "type"), "bpmn:tFormalExpression")
    done.text = "${nrOfCompletedInstances == nrOfInstances}"


def _task(element: etree._Element, state: StateSpec, definition: Definition) -> None:
    roles = _acting_roles(definition, state.name)
    if roles:
        element.set(q(CAMUNDA, "candidateGroups"), ",".join(roles))
    element.set(q(KAOPING, "state"), state.name)
    if state.label_en:
        element.set(q(KAOPING, "labelEn"), state.label_en)
    if state.deadline:
        ext = etree.SubElement(element, q(BPMN, "extensionElements"))
        (kind, value), = state.deadline.items()
        deadline = etree.SubElement(ext, q(KAOPING, "deadline"), kind=kind, value=str(value).lower())
        if state.escalate_to:  # levels separated by ";", recipients by spaces
            deadline.set("escalateTo", ";".join(words(names) for names in state.escalate_to))


def _sequence_flow(process: etree._Element, flow: _Flow) -> None:
    element = etree.SubElement(process, q(BPMN, "sequenceFlow"), id=flow.id, sourceRef=flow.source,
                               targetRef=flow.target)
    if flow.name:
        element.set("name", flow.name)
    if flow.spec is None:
        return
    _transition_extension(etree.SubElement(element, q(BPMN, "extensionElements")), flow.spec, flow.index)
    if flow.conditional:
        condition = etree.SubElement(element, q(BPMN, "conditionExpression"))
        condition.set(q(XSI, "type"), "bpmn:tFormalExpression")
        condition.text = decided(flow.spec.trigger, flow.spec.when)


def _transition_extension(ext: etree._Element, spec: TransitionSpec, index: int) -> None:
    attrs = {"trigger": spec.trigger, "index": str(index), "roles": words(spec.roles)}
    optional = {"labelEn": spec.label_en, "guards": words(spec.guards), "effects": words(spec.effects),
                "notify": words(spec.notify), "comment": "required" if spec.comment_required else "",
                "countersign": "true" if spec.countersign else "",
                "scope": spec.scope if spec.scope != "parties" else "", "when": spec.when}
    attrs.update({key: value for key, value in optional.items() if value})
    element = etree.SubElement(ext, q(KAOPING, "transition"), attrs)
    for f in spec.fields:
        child = etree.SubElement(element, q(KAOPING, "field"), name=f.name, type=f.type,
                                 required=str(f.required).lower())
        for key, value in (("label", f.label), ("min", f.min), ("max", f.max), ("maxLength", f.max_length)):
            if value not in (None, ""):
                child.set(key, str(value))


def extension(element: etree._Element, tag: str) -> etree._Element | None:
    """Our extension element ``tag`` inside ``element``'s ``extensionElements``, if it has one."""
    ext = element.find(q(BPMN, "extensionElements"))
    return ext.find(q(KAOPING, tag)) if ext is not None else None


def read_process(process: etree._Element) -> dict[str, Any]:
    """What our extensions on a process say: id, version, English label, reminders, escalation (YAML keys)."""
    ext, found = process.find(q(BPMN, "extensionElements")), {}
    if (head := extension(process, "definition")) is not None:
        found = {"id": head.get("id", ""), "version": int(head.get("version", "1")), "label_en": head.get("labelEn", "")}
    if (reminders := extension(process, "reminders")) is not None:
        found["reminders"] = {"working_days_before": [int(d) for d in reminders.get("workingDaysBefore", "").split()],
                              "notify": reminders.get("notify", "").split()}
    levels = ext.findall(q(KAOPING, "escalation")) if ext is not None else []
    if levels:
        found["escalation"] = [{"level": int(e.get("level", "1")), "after_working_days": int(e.get("afterWorkingDays", "0")),
                                "notify": e.get("notify", "").split()}
                               | ({"supervise": True} if e.get("supervise") == "true" else {}) for e in levels]
    pairs = ext.findall(q(KAOPING, "separated")) if ext is not None else []
    if pairs:
        found["separation_of_duties"] = [[e.get("first", ""), e.get("second", "")] for e in pairs]
    return found


def read_transition(element: etree._Element) -> dict[str, Any]:
    """What a ``kaoping:transition`` element says, as keyword arguments for the importer's transition."""
    fields = [{"name": f.get("name", ""), "type": f.get("type", "string"), "required": f.get("required") != "false",
               "label": f.get("label", ""), "min": _number(f.get("min")), "max": _number(f.get("max")),
               "max_length": _number(f.get("maxLength"))} for f in element.findall(q(KAOPING, "field"))]
    index = element.get("index", "")
    return {"trigger": element.get("trigger", ""), "roles": element.get("roles", "").split(),
            "label_en": element.get("labelEn", ""), "guards": element.get("guards", "").split(),
            "effects": element.get("effects", "").split(), "notify": element.get("notify", "").split(),
            "comment_required": element.get("comment") == "required", "countersign": element.get("countersign") == "true",
            "scope": element.get("scope", "parties"), "when": element.get("when", ""),
            "index": int(index) if index.isdigit() else None, "fields": fields}


def read_deadline(element: etree._Element) -> dict[str, Any]:
    """The state deadline a ``kaoping:deadline`` element says."""
    kind, value = element.get("kind", ""), element.get("value", "")
    return {kind: True if kind == "target_deadline" else int(value) if kind == "working_days" else value}


def _number(text: str | None) -> int | float | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(round(value, 1))


def _layout_definition(definition: Definition, graph: _Graph) -> tuple[Definition, dict[str, str]]:
    """The BPMN graph as a definition of its own, so that engine.workflow.layout places events and gateways too.
    Pseudo nodes get short keys: the layout sizes a box by its name as well as its label."""
    keys = {n.id: n.id if n.kind == "task" else f"_{i}" for i, n in enumerate(graph.nodes)}
    states = {keys[n.id]: StateSpec(keys[n.id], n.label) for n in graph.nodes}
    transitions = tuple(TransitionSpec(f.id, (keys[f.source],), keys[f.target], (), label=f.name) for f in graph.flows)
    return Definition(definition.id, definition.version, definition.label, definition.label_en, keys["_start"],
                      states, transitions), keys


def _shape(box: Box, kind: str) -> tuple[float, float, float, float]:
    size = {"start": EVENT_SIZE, "end": EVENT_SIZE, "gateway": GATEWAY_SIZE, "fork": GATEWAY_SIZE,
            "join": GATEWAY_SIZE}.get(kind)
    if size is None:
        return box.x, box.y, box.width, box.height
    cx, cy = box.center
    return cx - size / 2, cy - size / 2, size, size


def _port(point: Point, box: Box, shape: tuple[float, float, float, float]) -> Point:
    """Where a line that reaches ``box`` at ``point`` meets the smaller shape drawn inside it."""
    x, y = point
    sx, sy, sw, sh = shape
    if abs(x - box.x) < 0.01:
        return sx, sy + sh / 2
    if abs(x - box.right) < 0.01:
        return sx + sw, sy + sh / 2
    return sx + sw / 2, sy if abs(y - box.y) < 0.01 else sy + sh


def _diagram(root: etree._Element, definition: Definition, graph: _Graph, timers: list[tuple[str, str]]) -> None:
    synthetic, keys = _layout_definition(definition, graph)
    drawn = layout(synthetic)
    kinds = {n.id: n.kind for n in graph.nodes}
    shapes = {n.id: _shape(drawn.boxes[keys[n.id]], n.kind) for n in graph.nodes}
    diagram = etree.SubElement(root, q(BPMNDI, "BPMNDiagram"), id="_diagram", name=definition.label)
    plane = etree.SubElement(diagram, q(BPMNDI, "BPMNPlane"), id="_plane", bpmnElement=graph.process_id)
    for node in graph.nodes:
        shape = etree.SubElement(plane, q(BPMNDI, "BPMNShape"), id=f"{node.id}_di", bpmnElement=node.id)
        if node.kind == "gateway":
            shape.set("isMarkerVisible", "true")
        x, y, w, h = shapes[node.id]
        etree.SubElement(shape, q(DC, "Bounds"), x=_num(x), y=_num(y), width=_num(w), height=_num(h))
    edges = {edge.trigger: edge for edge in drawn.edges}
    for flow in graph.flows:
        edge = edges[flow.id]
        points = list(edge.points)
        if kinds[flow.source] not in ("task", "step"):
            points.insert(0, _port(points[0], drawn.boxes[keys[flow.source]], shapes[flow.source]))
        if kinds[flow.target] not in ("task", "step"):
            points.append(_port(points[-1], drawn.boxes[keys[flow.target]], shapes[flow.target]))
        element = etree.SubElement(plane, q(BPMNDI, "BPMNEdge"), id=f"{flow.id}_di", bpmnElement=flow.id)
        for x, y in points:
            etree.SubElement(element, q(DI, "waypoint"), x=_num(x), y=_num(y))
        if flow.name:
            _edge_label(element, flow.name, edge.label_x, _above_line(edge.label_x, edge.label_y, points))
    bottom = max(y + h for _, y, _, h in shapes.values())
    for row, (kind, state) in enumerate(timers):  # on the task's lower border; its end in a row of its own below
        tx, ty, tw, th = shapes[state]
        x, y = tx + tw - EVENT_SIZE - 8 - (EVENT_SIZE + 8) * (kind == "remind"), ty + th - EVENT_SIZE / 2
        end_y = bottom + 40 + row * (EVENT_SIZE + 24)
        for ident, top in ((f"_{kind}_{state}", y), (f"_{kind}_end_{state}", end_y)):
            shape = etree.SubElement(plane, q(BPMNDI, "BPMNShape"), id=f"{ident}_di", bpmnElement=ident)
            etree.SubElement(shape, q(DC, "Bounds"), x=_num(x), y=_num(top), width=_num(EVENT_SIZE),
                             height=_num(EVENT_SIZE))
        edge = etree.SubElement(plane, q(BPMNDI, "BPMNEdge"), id=f"_{kind}_flow_{state}_di",
                                bpmnElement=f"_{kind}_flow_{state}")
        for point_y in (y + EVENT_SIZE, end_y):
            etree.SubElement(edge, q(DI, "waypoint"), x=_num(x + EVENT_SIZE / 2), y=_num(point_y))


def _above_line(x: float, y: float, points: list[Point]) -> float:
    """The web diagram writes a label on its lane with a background; BPMN viewers draw none, so lift it off the line."""
    on_line = any(abs(a[1] - y) < 1 and abs(b[1] - y) < 1 and min(a[0], b[0]) <= x <= max(a[0], b[0])
                  for a, b in pairwise(points))
    return y - LABEL_LIFT if on_line else y


def _edge_label(edge: etree._Element, name: str, x: float, y: float) -> None:
    width = text_width(name, 12.0) + 6
    label = etree.SubElement(edge, q(BPMNDI, "BPMNLabel"))
    etree.SubElement(label, q(DC, "Bounds"), x=_num(x - width / 2), y=_num(y - 8), width=_num(width), height="16")
