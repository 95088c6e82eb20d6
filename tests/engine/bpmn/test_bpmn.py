"""BPMN 2.0 in and out: five real public BPMN files, the XSD, SpiffWorkflow as an independent
reader, and import(export(x)) == x for every shipped definition."""
from __future__ import annotations

import dataclasses
import re
from importlib import resources
from pathlib import Path

import pytest
import typer
from lxml import etree
from typer.testing import CliRunner

from api.cli import bpmn as bpmn_cli
from engine.workflow import definitions
from engine.workflow.definitions import StateReminder
from engine.bpmn.writer import BPMN, BPMNDI, DC, DI, KAOPING, export_bpmn
from engine.bpmn.reader import BpmnImportError, guard_name, import_bpmn, role_for, snake

SHARED = Path(__file__).resolve().parents[4] / "shared"
SAMPLES = SHARED / "bpmn-samples"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI}


def sample(name: str) -> bytes:
    if not SAMPLES.is_dir():
        pytest.skip(f"共享目录 {SAMPLES} 不存在：这些测试读取 ../shared/bpmn-samples/ 中的真实 BPMN 文件")
    return (SAMPLES / name).read_bytes()


def checked(text: str, tmp_path: Path) -> list[str]:
    """What ``kaoping workflows check`` says about a YAML text."""
    path = tmp_path / "imported.yaml"
    path.write_text(text, encoding="utf-8")
    return [p.reason for p in definitions.check(path)]


def edges(definition: definitions.Definition) -> set[tuple[str, str, str]]:
    return {(t.trigger, source, t.dest) for t in definition.transitions for source in t.sources}


# -- the five real files ------------------------------------------------------------------

def test_camunda_escalation_timer_imports(tmp_path):
    result = import_bpmn(sample("camunda-escalation-timer.bpmn"), "camunda-escalation-timer.bpmn")
    assert checked(result.yaml_text, tmp_path) == []
    d = definitions.parse(result.yaml_text, "x.yaml")
    assert (d.id, d.label, d.initial) == ("escalation_example", "Helpdesk process", "first_line_support")
    assert {n: (s.label, s.final, s.deadline) for n, s in d.states.items()} == {
        "first_line_support": ("First line support", False, {"working_days": 1}),  # PT5M, rounded up to a day
        "handle_escalation": ("Handle escalated issue", False, None),
        "normal_end": ("已结束", True, None),
        "escalated_end": ("已结束", True, None),
    }
    assert edges(d) == {
        ("complete_first_line_support", "first_line_support", "normal_end"),
        ("escalation_timer", "first_line_support", "handle_escalation"),
        ("complete_handle_escalation", "handle_escalation", "escalated_end"),
    }
    roles = {t.trigger: t.roles for t in d.transitions}
    assert roles == {"complete_first_line_support": ("staff",), "escalation_timer": ("office",),
                     "complete_handle_escalation": ("leader",)}
    assert [(lv.level, lv.after_working_days, lv.notify) for lv in d.escalation] == [(1, 0, ("office",))]
    assert "deadline: {working_days: 1}  # 定时器 escalationTimer：PT5M" in result.yaml_text
    assert result.role_mappings == {"kermit": "staff", "management": "leader"}
    assert (result.unsupported, result.warnings, result.guards_to_provide) == ([], [], {})


REFUSED = {
    "camunda-invoice.v2.bpmn": [  # its data store and reference are ignored with a note
        ("businessRuleTask", "assignApprover", 66),
        ("serviceTask", "ServiceTask_1", 79),
        ("callActivity", "reviewInvoice", 83),
    ],
    "camunda-job-announcement.bpmn": [("serviceTask", "mail", 24), ("callActivity", "publication", 31)],
    "flowable-vacation-request.bpmn": [("task", "sendApprovalMail", 35)],
    "kogito-hiring-usertask-timer.bpmn": [
        ("scriptTask", "_C2F5CA7E-E57D-444D-A747-9E0060ACB6FC", 52),
        ("scriptTask", "_45AE4305-6334-4756-ADFB-8D1E3F67D482", 62),
        ("scriptTask", "_834B21EF-9229-44F8-A5DB-D96EBB39A347", 77),
        ("scriptTask", "_5BDBE48C-CC83-46A9-9D56-F846F8FC1045", 87),
    ],
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_every_unsupported_element(name):
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(sample(name), name)
    assert [(u.tag, u.id, u.line) for u in refused.value.unsupported] == REFUSED[name]
    assert refused.value.problems == []
    assert f"{name}:{REFUSED[name][0][2]}: 不支持的元素 <{REFUSED[name][0][0]} id=" in str(refused.value)


def dropped_flows(warnings: list[str]) -> list[str]:
    return [m[1] for w in warnings if (m := re.search(r"已删除与之相连的顺序流 (\S+)（", w))]


@pytest.mark.parametrize(("name", "branches"), [
    ("camunda-invoice.v2.bpmn", ["决策 invoice_approved 的分支 invoiceNotApproved 通向不支持的 reviewInvoice"]),
    ("flowable-vacation-request.bpmn", ["决策 requestApprovedDecision 的分支 flow3 通向不支持的 sendApprovalMail"]),
])
def test_lenient_never_drops_the_branch_of_a_decision(name, branches):
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(sample(name), name, lenient=True)
    assert [p.reason.split("：")[0] for p in refused.value.problems] == branches
    assert all(p.reason.endswith("删除它会改变决策的含义，宽松导入也不能删除") for p in refused.value.problems)


def test_lenient_never_leaves_a_state_without_an_end():
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(sample("camunda-job-announcement.bpmn"), "job.bpmn", lenient=True)
    # publish led, through the dropped call activity and service task, to the only end event
    assert [p.reason for p in refused.value.problems] == [
        f"状态 '{s}' 无法到达任何终止状态（没有出路，或只能在几个状态之间循环）" for s in ("edit", "review", "correct", "publish")]


def test_lenient_hiring_leaves_nothing_to_run():
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(sample("kogito-hiring-usertask-timer.bpmn"), "hiring.bpmn", lenient=True)
    assert len(refused.value.unsupported) == 4
    assert [p.reason for p in refused.value.problems] == ["导入后没有任何转换，无法构成工作流定义"]
    # Start → New Hiring (script) → HR Interview; every way on from there went through a script task.
    assert "开始事件之后的元素已删除，初始状态取其后第一个用户任务 hr_interview" in refused.value.warnings
    assert "状态 hr_interview 已没有出路（相连的元素已删除）" in refused.value.warnings
    assert "状态 it_interview 从初始状态不可达，已略去" in refused.value.warnings
    assert len(dropped_flows(refused.value.warnings)) == 8


# -- out: XSD, SpiffWorkflow, diagram -------------------------------------------------------

@pytest.mark.parametrize("workflow_id", ["target", "report"])
def test_export_validates_and_spiffworkflow_reads_it(workflow_id):
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator

    definition = definitions.get(workflow_id)
    data = export_bpmn(definition)
    parser = BpmnParser(validator=BpmnValidator())  # the OMG XSD SpiffWorkflow ships
    parser.add_bpmn_str(data, filename=f"{workflow_id}.bpmn")
    spec = parser.get_spec(workflow_id)
    assert set(definition.states) <= set(spec.task_specs)
    for name, state in definition.states.items():
        task = spec.task_specs[name]
        countersigned = any(t.countersign for t in definition.triggers_from(name))
        kind = "EndEvent" if state.final else "ParallelMultiInstanceTask" if countersigned else "UserTask"
        assert type(task).__name__ == kind
        if not countersigned:
            assert task.bpmn_name == state.label


@pytest.mark.parametrize("workflow_id", ["target", "report"])
def test_export_validates_against_the_shared_xsd(workflow_id):
    if not (SHARED / "bpmn-xsd").is_dir():
        pytest.skip(f"共享目录 {SHARED / 'bpmn-xsd'} 不存在")
    schema = etree.XMLSchema(etree.parse(str(SHARED / "bpmn-xsd" / "BPMN20.xsd")))
    document = etree.fromstring(export_bpmn(definitions.get(workflow_id)))
    assert schema.validate(document), schema.error_log
    broken = etree.fromstring(export_bpmn(definitions.get(workflow_id)))
    broken.find("bpmn:process", NS).append(etree.Element(f"{{{BPMN}}}userTask", nonsense="1"))
    assert not schema.validate(broken)  # the schema does refuse what is not BPMN


def test_export_shape_of_target():
    root = etree.fromstring(export_bpmn(definitions.get("target")))
    process = root.find("bpmn:process", NS)
    tasks = {t.get("id"): t for t in process.findall("bpmn:userTask", NS)}
    assert list(tasks) == list(definitions.get("target").states)
    assert tasks["self_assessed"].get("name") == "已自评"
    assert tasks["self_assessed"].get("{http://camunda.org/schema/1.0/bpmn}candidateGroups") == "leader"
    assert len(process.findall("bpmn:startEvent", NS)) == 1
    # in_progress, self_assessed, leader_signed, verified, and scored: reopened, or done (its end event)
    assert len(process.findall("bpmn:exclusiveGateway", NS)) == 5
    closing = process.find("bpmn:endEvent", NS)
    assert (closing.get(f"{{{KAOPING}}}closing"), process.find("bpmn:exclusiveGateway[@id='_gw_scored']", NS).get("default")) \
        == ("true", "_to_end_scored")
    loop = tasks["self_assessed"].find("bpmn:multiInstanceLoopCharacteristics", NS)  # 会签: every leader
    assert loop.find("bpmn:completionCondition", NS).text == "${nrOfCompletedInstances == nrOfInstances}"
    sign = process.find("bpmn:sequenceFlow[@name='审签']", NS)
    assert sign.get("sourceRef") == "_gw_self_assessed" and sign.get("targetRef") == "leader_signed"
    assert sign.find("bpmn:conditionExpression", NS).text == "${decision == 'sign'}"  # what the leader chose
    assert sign.find(f"bpmn:extensionElements/{{{KAOPING}}}transition", NS).get("countersign") == "true"
    report = etree.fromstring(export_bpmn(definitions.get("report"))).find("bpmn:process", NS)
    end = report.find("bpmn:endEvent", NS)  # the final state is an end event, not a user task
    assert (end.get("id"), end.get("name")) == ("accepted", "已采纳")
    assert [e.get("id") for e in report.findall("bpmn:userTask", NS)] == ["due", "submitted"]


@pytest.mark.parametrize("workflow_id", sorted(definitions.shipped()))
def test_export_diagram_covers_every_element_and_lines_meet_shapes(workflow_id):
    root = etree.fromstring(export_bpmn(definitions.get(workflow_id)))
    process = root.find("bpmn:process", NS)
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == process.get("id")
    bounds = {s.get("bpmnElement"): tuple(float(s.find("dc:Bounds", NS).get(k)) for k in ("x", "y", "width", "height"))
              for s in plane.findall("bpmndi:BPMNShape", NS)}
    nodes = [e.get("id") for e in process if e.tag != f"{{{BPMN}}}sequenceFlow" and e.get("id")]
    assert sorted(bounds) == sorted(nodes)

    def on_border(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
        (px, py), (x, y, w, h) = point, box
        inside = x - 0.1 <= px <= x + w + 0.1 and y - 0.1 <= py <= y + h + 0.1
        return inside and min(abs(px - x), abs(px - x - w), abs(py - y), abs(py - y - h)) < 0.1

    flows = process.findall("bpmn:sequenceFlow", NS)
    drawn = {e.get("bpmnElement"): e for e in plane.findall("bpmndi:BPMNEdge", NS)}
    assert sorted(drawn) == sorted(f.get("id") for f in flows)
    for flow in flows:
        points = [(float(p.get("x")), float(p.get("y"))) for p in drawn[flow.get("id")].findall("di:waypoint", NS)]
        assert len(points) >= 2
        assert on_border(points[0], bounds[flow.get("sourceRef")]), flow.get("id")
        assert on_border(points[-1], bounds[flow.get("targetRef")]), flow.get("id")
    hosts = {e.get("id"): e.get("attachedToRef") for e in process.findall("bpmn:boundaryEvent", NS)}
    for timer, host in hosts.items():  # a deadline timer sits on its task's border
        tx, ty, tw, th = bounds[timer]
        assert on_border((tx + tw / 2, ty + th / 2), bounds[host]), timer
    boxes = list(bounds.items())
    for i, (ka, a) in enumerate(boxes):  # nothing else drawn on top of anything else
        for kb, b in boxes[i + 1:]:
            if hosts.get(ka) == kb or hosts.get(kb) == ka:
                continue
            assert not (a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3])


# -- round trip ---------------------------------------------------------------------------

#: The target lifecycle with reminders of its states' own: three, every five working days, while in progress;
#: one after two working days once signed; every working day, as long as it stays, once verified.
REMINDED = definitions.parse(definitions.source_text("target").replace("id: target\n", "id: target_reminded\n", 1)
    .replace("  in_progress:\n    label: {zh: 推进中, en: In progress}\n    deadline: {target_deadline: true}\n",
             "  in_progress:\n    label: {zh: 推进中, en: In progress}\n    deadline: {target_deadline: true}\n"
             "    remind: {every_working_days: 5, times: 3, notify: [responsible, leaders]}\n")
    .replace("  leader_signed:\n    label: {zh: 领导已审签, en: Signed by the leader}\n",
             "  leader_signed:\n    label: {zh: 领导已审签, en: Signed by the leader}\n    remind: {every_working_days: 2, times: 1}\n")
    .replace("  verified:\n    label: {zh: 绩效办已核验, en: Verified}\n",
             "  verified:\n    label: {zh: 绩效办已核验, en: Verified}\n    remind: {every_working_days: 1}\n"), "target_reminded.yaml")


@pytest.mark.parametrize("workflow_id", [*sorted(definitions.shipped()), REMINDED.id])
def test_import_of_export_gives_back_the_definition(workflow_id, tmp_path):
    original = REMINDED if workflow_id == REMINDED.id else definitions.get(workflow_id)
    result = import_bpmn(export_bpmn(original), f"{workflow_id}.bpmn")
    assert checked(result.yaml_text, tmp_path) == []
    back = definitions.parse(result.yaml_text, "back.yaml")
    assert (back.id, back.version, back.label, back.label_en, back.initial) == \
        (original.id, original.version, original.label, original.label_en, original.initial)
    assert back.states == original.states
    assert list(back.states) == list(original.states)
    assert len(back.transitions) == len(original.transitions)
    for got, want in zip(back.transitions, original.transitions, strict=True):
        for f in dataclasses.fields(want):
            assert getattr(got, f.name) == getattr(want, f.name), (want.trigger, f.name)
    assert (back.reminder_days, back.reminder_notify) == (original.reminder_days, original.reminder_notify)
    assert back.escalation == original.escalation
    assert dataclasses.replace(back, source="") == dataclasses.replace(original, source="")
    assert (result.unsupported, result.warnings, result.guards_to_provide) == ([], [], {})


def strip_kaoping(data: bytes) -> bytes:
    root = etree.fromstring(data)
    for element in list(root.iter(f"{{{KAOPING}}}*")):
        element.getparent().remove(element)
    for element in root.iter():
        for key in [k for k in element.attrib if k.startswith(f"{{{KAOPING}}}")]:
            del element.attrib[key]
    etree.cleanup_namespaces(root)
    return etree.tostring(root)


def test_export_without_our_extensions_reads_as_plain_bpmn(tmp_path):
    result = import_bpmn(strip_kaoping(export_bpmn(definitions.get("report"))), "report.bpmn")
    assert checked(result.yaml_text, tmp_path) == []
    d = definitions.parse(result.yaml_text, "x.yaml")
    assert [(n, s.label, s.final) for n, s in d.states.items()] == [
        ("due", "待报送", False), ("submitted", "已报送", False), ("accepted", "已采纳", True)]
    assert edges(d) == {("complete_due", "due", "submitted"), ("accept", "submitted", "accepted"),  # conditions name the trigger
                        ("return", "submitted", "due")}
    assert {t.trigger: t.label for t in d.transitions}["return"] == "退回"
    assert {t.trigger: t.roles for t in d.transitions}["accept"] == ("office",)  # from candidateGroups


# -- the rest of the subset, on small files written here ---------------------------------------

def bpmn(body: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:flowable="http://flowable.org/bpmn" id="d" targetNamespace="https://example.invalid">
  <process id="countersignReview" name="会签审核" isExecutable="true">
{body}
  </process>
</definitions>
""".encode()


def line_of(data: bytes, needle: str) -> int:
    text = data.decode()
    return text[: text.index(needle)].count("\n") + 1


COUNTERSIGN = """
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="draft"/>
    <userTask id="draft" name="起草" flowable:candidateGroups="科室"/>
    <sequenceFlow id="f2" sourceRef="draft" targetRef="sign"/>
    <userTask id="sign" name="会签" camunda:candidateGroups="局领导">
      <multiInstanceLoopCharacteristics isSequential="false">
        <completionCondition>${nrOfCompletedInstances == nrOfInstances}</completionCondition>
      </multiInstanceLoopCharacteristics>
    </userTask>
    <boundaryEvent id="signDue" attachedToRef="sign" cancelActivity="false">
      <timerEventDefinition><timeDate>2024-12-30T00:00:00</timeDate></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f3" name="签署" sourceRef="sign" targetRef="done"/>
    <endEvent id="done" name="办结"/>
"""


def test_all_complete_multi_instance_is_a_countersign_and_a_time_date_a_milestone(tmp_path):
    result = import_bpmn(bpmn(COUNTERSIGN), "countersign.bpmn")
    assert checked(result.yaml_text, tmp_path) == []
    d = definitions.parse(result.yaml_text, "x.yaml")
    sign = d.transition("sign", "complete_sign")
    assert (sign.countersign, sign.roles, sign.label, sign.dest) == (True, ("leader",), "签署", "done")
    assert d.transition("draft", "complete_draft").roles == ("staff",)
    assert d.states["sign"].deadline == {"milestone": "sign_due"}
    assert "deadline: {milestone: sign_due}  # 定时器 signDue：2024-12-30T00:00:00" in result.yaml_text
    assert (d.states["done"].label, d.states["done"].final) == ("办结", True)
    assert result.role_mappings == {"科室": "staff", "局领导": "leader"}
    plain = COUNTERSIGN.replace("<completionCondition>${nrOfCompletedInstances == nrOfInstances}</completionCondition>", "")
    assert definitions.parse(import_bpmn(bpmn(plain), "x.bpmn").yaml_text, "x").transition("sign", "complete_sign").countersign


def test_multi_instance_that_does_not_wait_for_all_is_refused():
    data = bpmn(COUNTERSIGN.replace("nrOfCompletedInstances == nrOfInstances", "nrOfCompletedInstances &gt;= 1"))
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(data, "x.bpmn")
    assert [(u.tag, u.id, u.line) for u in refused.value.unsupported] == [
        ("userTask", "sign", line_of(data, '<userTask id="sign"')),
        ("boundaryEvent", "signDue", line_of(data, '<boundaryEvent id="signDue"')),  # its task goes, so does its timer
    ]


def test_outside_the_subset_each_element_is_listed(tmp_path):
    data = bpmn("""
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <inclusiveGateway id="fork"/>
    <sequenceFlow id="f2" sourceRef="fork" targetRef="check"/>
    <sequenceFlow id="f3" sourceRef="fork" targetRef="wait"/>
    <userTask id="check" name="核对"/>
    <intermediateCatchEvent id="wait"><messageEventDefinition/></intermediateCatchEvent>
    <sequenceFlow id="f4" sourceRef="check" targetRef="fail"/>
    <endEvent id="fail"><errorEventDefinition/></endEvent>
    <boundaryEvent id="cycle" attachedToRef="check">
      <timerEventDefinition><timeCycle>R3/PT1H</timeCycle></timerEventDefinition>
    </boundaryEvent>
    <subProcess id="sub"/>
    <dataObject id="memo"/>
""")
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(data, "x.bpmn")
    assert [(u.tag, u.id, u.line) for u in refused.value.unsupported] == [
        (tag, ident, line_of(data, f'<{tag} id="{ident}"')) for tag, ident in (
            ("inclusiveGateway", "fork"), ("intermediateCatchEvent", "wait"),
            ("boundaryEvent", "cycle"), ("subProcess", "sub"))]
    lenient = import_bpmn(data, "x.bpmn", lenient=True)  # no decision loses a branch, every state reaches an end
    assert f'第 {line_of(data, "<dataObject")} 行 <dataObject id="memo">：数据对象不影响流程，已忽略' in lenient.warnings
    assert any("结束事件的结果（errorEventDefinition）已记下，按终止状态导入" in w for w in lenient.warnings)
    d = definitions.parse(lenient.yaml_text, "x.yaml")
    assert (d.initial, edges(d), d.states["fail"].final) == ("check", {("complete_check", "check", "fail")}, True)


@pytest.mark.parametrize(("duration", "days"), [("PT40S", 1), ("P2DT1H", 3), ("P1W", 7), ("P2Y", 366)])
def test_interrupting_timer_duration_is_working_days_and_a_transition(duration, days, tmp_path):
    data = bpmn(f"""
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <userTask id="handle" name="办理" camunda:assignee="kermit"/>
    <boundaryEvent id="late" name="Escalate" attachedToRef="handle">
      <timerEventDefinition><timeDuration>{duration}</timeDuration></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f2" sourceRef="late" targetRef="supervise"/>
    <userTask id="supervise" name="督办" camunda:candidateGroups="绩效办"/>
    <sequenceFlow id="f3" sourceRef="handle" targetRef="supervise"/>
    <sequenceFlow id="f4" sourceRef="supervise" targetRef="end"/>
    <endEvent id="end"/>
""")
    result = import_bpmn(data, "x.bpmn")
    assert checked(result.yaml_text, tmp_path) == []
    d = definitions.parse(result.yaml_text, "x.yaml")
    assert d.states["handle"].deadline == {"working_days": days}
    assert f"# 定时器 late：{duration}" in result.yaml_text
    assert edges(d) == {("complete_handle", "handle", "supervise"), ("escalate", "handle", "supervise"),
                        ("complete_supervise", "supervise", "end")}
    assert d.transition("handle", "escalate").roles == ("office",)
    assert d.transition("handle", "complete_handle").roles == ("staff",)
    assert [(lv.level, lv.notify) for lv in d.escalation] == [(1, ("office",))]


GATEWAY = """
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <userTask id="review" name="审核" camunda:candidateUsers="Office Manager, 张三"/>
    <sequenceFlow id="f2" sourceRef="review" targetRef="gw"/>
    <exclusiveGateway id="gw" name="通过？" default="f5"/>
    <sequenceFlow id="f3" name="Approve" sourceRef="gw" targetRef="publish">
      <conditionExpression>${amount &gt; 1000 &amp;&amp; approved}</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="f4" name="Approve" sourceRef="gw" targetRef="archive">
      <conditionExpression>${approved}</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="f5" sourceRef="gw" targetRef="review"/>
    <userTask id="publish" name="发布"/>
    <userTask id="archive" name="归档"/>
    <sequenceFlow id="f6" sourceRef="publish" targetRef="end"/>
    <sequenceFlow id="f7" sourceRef="archive" targetRef="end"/>
    <endEvent id="end" name="办结"/>
"""


def test_gateway_conditions_become_expressions_on_the_payload_and_triggers_stay_unique_per_state():
    result = import_bpmn(bpmn(GATEWAY), "x.bpmn")
    d = definitions.parse(result.yaml_text, "x.yaml")
    assert edges(d) == {("approve", "review", "publish"), ("approve_2", "review", "archive"), ("go_review", "review", "review"),
                        ("complete_publish", "publish", "end"), ("complete_archive", "archive", "end")}
    assert "状态 review 已有触发器 approve，这条改名为 approve_2" in result.warnings
    assert result.guards_to_provide == {}
    approve = d.transition("review", "approve")
    assert approve.when == "payload.amount > 1000.0 && payload.approved"
    assert [(f.name, f.type) for f in approve.fields] == [("amount", "number"), ("approved", "boolean")]
    assert "    when: payload.amount > 1000.0 && payload.approved  # ${amount > 1000 && approved}" in result.yaml_text
    assert (d.transition("review", "approve_2").when, d.transition("review", "go_review").when) == ("payload.approved", "")
    assert result.role_mappings == {"Office Manager": "leader", "张三": "staff"}
    assert {t.trigger: t.roles for t in d.transitions}["approve"] == ("staff", "leader")
    assert {t.trigger: t.label for t in d.transitions}["go_review"] == "转至审核"


def test_role_map_overrides_the_table_and_must_name_our_roles():
    result = import_bpmn(bpmn(GATEWAY), "x.bpmn", role_map={"office manager": "office"})
    assert result.role_mappings == {"Office Manager": "office", "张三": "staff"}
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(bpmn(GATEWAY), "x.bpmn", role_map={"张三": "auditor"})
    assert [p.reason for p in refused.value.problems] == ["角色对应 张三=auditor 无效：角色只能是 staff、leader、office"]


def test_not_bpmn_or_not_xml_is_refused_with_a_line():
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(b"<definitions>\n<process>\n</definitions>", "broken.bpmn")
    assert refused.value.problems[0].line == 3 and refused.value.problems[0].reason.startswith("XML 语法错误")
    with pytest.raises(BpmnImportError) as refused:
        import_bpmn(b"<html/>", "page.bpmn")
    assert [p.reason for p in refused.value.problems] == ["不是含用户任务的 BPMN 2.0 流程文件"]


@pytest.mark.parametrize(("name", "role"), [
    ("management", "leader"), ("Approver", "leader"), ("分管领导", "leader"), ("审批组", "leader"), ("Office Manager", "leader"),
    ("accounting", "office"), ("Accountant", "office"), ("HR", "office"), ("hr-admins", "office"), ("绩效办", "office"),
    ("财务科", "office"), ("engineering", "staff"), ("Team Assistant", "staff"), ("three", "staff"), ("kermit", "staff"),
])
def test_default_role_table(name, role):
    assert role_for(name) == role


@pytest.mark.parametrize(("condition", "guard"), [
    ("${approved}", "approved"), ("#{!approved}", "not_approved"), ("${vacationApproved == 'true'}", "vacation_approved"),
    ("${resendRequest == 'false'}", "not_resend_request"), ("${ok != true}", "not_ok"), ("not approved", "not_approved"),
    ("${amount >= 1000}", "amount_ge_1000"), ("${}", "condition"),
])
def test_guard_names_from_conditions(condition, guard):
    assert guard_name(condition) == guard


def test_snake_case_names():
    assert [snake(s) for s in ("approveInvoice", "Request approved?", "HTTPServer", "Überprüfung", "2nd look", "审核")] == \
        ["approve_invoice", "request_approved", "http_server", "uberprufung", "n_2nd_look", ""]


# -- the command functions (wired into api/cli.py as `kaoping workflows import-bpmn/export-bpmn`) ------

def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("import-bpmn")(bpmn_cli.import_bpmn_command)
    app.command("export-bpmn")(bpmn_cli.export_bpmn_command)
    return app


def test_cli_import_refuses_then_lenient_writes(tmp_path):
    source = tmp_path / "job.bpmn"
    source.write_bytes(sample("camunda-job-announcement.bpmn"))
    refused = CliRunner().invoke(cli(), ["import-bpmn", str(source)])
    assert refused.exit_code == 1
    assert f'{source}:24: 不支持的元素 <serviceTask id="mail">' in refused.stderr
    assert f'{source}:31: 不支持的元素 <callActivity id="publication">' in refused.stderr
    assert "用 --map mail=效果 指定它执行的已注册效果" in refused.stderr
    out = tmp_path / "job.yaml"
    done = CliRunner().invoke(cli(), ["import-bpmn", str(source), "-o", str(out), "--role-map", "HR=staff",
                                      "--map", "mail=none", "--map", "publication=none"])
    assert done.exit_code == 0, done.output
    assert "角色对应：HR → staff" in done.stdout and "警告：mail 按 --map 在此无需执行" in done.stdout
    assert definitions.check(out) == []
    bad = CliRunner().invoke(cli(), ["import-bpmn", str(source), "--role-map", "HR"])
    assert bad.exit_code == 2 and "名称=角色" in bad.stderr
    bad = CliRunner().invoke(cli(), ["import-bpmn", str(source), "--map", "mail"])
    assert bad.exit_code == 2 and "任务id=效果" in bad.stderr
    unknown = CliRunner().invoke(cli(), ["import-bpmn", str(source), "--map", "edit=none"])
    assert unknown.exit_code == 1 and "--map edit=none：流程中没有这样的自动任务" in unknown.stderr


def test_cli_lenient_import_can_still_be_refused(tmp_path):
    source = tmp_path / "hiring.bpmn"
    source.write_bytes(sample("kogito-hiring-usertask-timer.bpmn"))
    refused = CliRunner().invoke(cli(), ["import-bpmn", str(source), "--lenient", "-o", str(tmp_path / "hiring.yaml")])
    assert refused.exit_code == 1 and not (tmp_path / "hiring.yaml").exists()
    assert "警告：状态 it_interview 从初始状态不可达，已略去" in refused.stderr
    assert refused.stderr.rstrip().endswith(f"{source}:1: 导入后没有任何转换，无法构成工作流定义")


def test_cli_import_to_stdout_keeps_the_report_apart(tmp_path):
    source = tmp_path / "helpdesk.bpmn"
    source.write_bytes(sample("camunda-escalation-timer.bpmn"))
    done = CliRunner().invoke(cli(), ["import-bpmn", str(source)])
    assert done.exit_code == 0
    assert definitions.parse(done.stdout, "stdout.yaml").id == "escalation_example"
    assert "角色对应：management → leader" in done.stderr


def test_cli_export(tmp_path):
    out = tmp_path / "target.bpmn"
    done = CliRunner().invoke(cli(), ["export-bpmn", "target", "-o", str(out)])
    assert done.exit_code == 0 and done.stdout == f"已导出 target 到 {out}\n"
    assert out.read_bytes() == export_bpmn(definitions.get("target"))
    yaml_path = tmp_path / "my-report.yaml"
    shipped = resources.files("workflows").joinpath("report.yaml").read_text("utf-8")
    yaml_path.write_text(shipped.replace("id: report", "id: my_report"), encoding="utf-8")
    by_path = CliRunner().invoke(cli(), ["export-bpmn", str(yaml_path)])
    assert by_path.exit_code == 0
    assert import_bpmn(by_path.stdout.encode(), "x.bpmn").definition_id == "my_report"
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: Broken\n", encoding="utf-8")
    refused = CliRunner().invoke(cli(), ["export-bpmn", str(broken)])
    assert refused.exit_code == 1 and f"{broken}:1:" in refused.stderr
    unknown = CliRunner().invoke(cli(), ["export-bpmn", "nothing"])
    assert unknown.exit_code == 1 and "没有内置的工作流定义 'nothing'" in unknown.stderr


SUB_PROCESS = """
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="draft"/>
    <userTask id="draft" name="起草"/>
    <sequenceFlow id="f2" sourceRef="draft" targetRef="approval"/>
    <subProcess id="approval" name="审批">
      <startEvent id="approvalStart"/>
      <sequenceFlow id="s1" sourceRef="approvalStart" targetRef="review"/>
      <userTask id="review" name="审核" camunda:candidateGroups="management"/>
      <sequenceFlow id="s2" sourceRef="review" targetRef="ok"/>
      <exclusiveGateway id="ok"/>
      <sequenceFlow id="s3" name="yes" sourceRef="ok" targetRef="approved"><conditionExpression>${approved}</conditionExpression></sequenceFlow>
      <sequenceFlow id="s4" name="no" sourceRef="ok" targetRef="rework"><conditionExpression>${!approved}</conditionExpression></sequenceFlow>
      <userTask id="rework" name="修改"/>
      <sequenceFlow id="s5" sourceRef="rework" targetRef="reworked"/>
      <endEvent id="approved"/>
      <endEvent id="reworked"/>
    </subProcess>
    <sequenceFlow id="f3" sourceRef="approval" targetRef="publish"/>
    <userTask id="publish" name="发布" camunda:candidateGroups="office"/>
    <sequenceFlow id="f4" sourceRef="publish" targetRef="end"/>
    <endEvent id="end" name="办结"/>
"""


def test_a_sub_process_is_flattened_into_its_parent(tmp_path):
    result = import_bpmn(bpmn(SUB_PROCESS), "sub.bpmn")
    assert checked(result.yaml_text, tmp_path) == []
    d = definitions.parse(result.yaml_text, "x.yaml")
    assert list(d.states) == ["draft", "review", "rework", "publish", "end"]
    assert edges(d) == {("complete_draft", "draft", "review"), ("yes", "review", "publish"), ("no", "review", "rework"),
                        ("complete_rework", "rework", "publish"), ("complete_publish", "publish", "end")}
    assert (d.transition("review", "yes").when, d.transition("review", "yes").roles) == ("payload.approved", ("leader",))
    assert f'第 {line_of(bpmn(SUB_PROCESS), "<subProcess")} 行 <subProcess id="approval">：子流程已展开到上层流程' in result.warnings


TIMERS = """
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <userTask id="handle" name="办理" camunda:assignee="kermit"/>
    <boundaryEvent id="nudge" attachedToRef="handle" cancelActivity="false">
      <timerEventDefinition><timeDuration>P3D</timeDuration></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f2" sourceRef="nudge" targetRef="mailed"/>
    <endEvent id="mailed"/>
    <boundaryEvent id="late" attachedToRef="handle">
      <timerEventDefinition><timeDuration>P10D</timeDuration></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f3" sourceRef="late" targetRef="approve"/>
    <sequenceFlow id="f4" sourceRef="handle" targetRef="approve"/>
    <userTask id="approve" name="审批" camunda:candidateGroups="management"/>
    <boundaryEvent id="again" attachedToRef="approve" cancelActivity="false">
      <timerEventDefinition><timeCycle>R3/PT48H</timeCycle></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f5" sourceRef="approve" targetRef="archive"/>
    <userTask id="archive" name="归档" camunda:candidateGroups="accounting"/>
    <boundaryEvent id="daily" attachedToRef="archive" cancelActivity="false">
      <timerEventDefinition><timeCycle>R/P1D</timeCycle></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f6" sourceRef="archive" targetRef="end"/>
    <endEvent id="end"/>
"""


def test_non_interrupting_timers_are_reminders_cycles_repeat_and_interrupting_ones_deadlines(tmp_path):
    result = import_bpmn(bpmn(TIMERS), "timers.bpmn")
    assert checked(result.yaml_text, tmp_path) == []
    d = definitions.parse(result.yaml_text, "x.yaml")
    handle, approve, archive = d.states["handle"], d.states["approve"], d.states["archive"]
    assert (handle.deadline, handle.remind) == ({"working_days": 10}, StateReminder(3, 1, ("responsible",)))
    assert (approve.deadline, approve.remind) == (None, StateReminder(2, 3, ("responsible",)))  # R3/PT48H
    assert (archive.deadline, archive.remind) == (None, StateReminder(1, None, ("responsible",)))  # as long as it stays
    assert "remind: {every_working_days: 2, times: 3}  # 定时器 again：R3/PT48H" in result.yaml_text
    assert any("非中断定时器 nudge 对应提醒，其后的流程未导入" in w for w in result.warnings)
    assert edges(d) >= {("complete_handle", "handle", "approve"), ("late", "handle", "approve")}
    assert f"{d.id}.remind" in d.notifications() and "target_reminded.remind" in REMINDED.notifications()


def test_a_cycle_that_interrupts_or_is_not_iso_is_refused():
    for cycle, attrs, why in (("R3/PT1H", "", "中断型循环定时器无法导入"),
                              ("every day", ' cancelActivity="false"', "不是 ISO-8601 重复间隔")):
        data = bpmn(TIMERS.replace('<boundaryEvent id="again" attachedToRef="approve" cancelActivity="false">',
                                   f'<boundaryEvent id="again" attachedToRef="approve"{attrs}>')
                    .replace("R3/PT48H", cycle))
        with pytest.raises(BpmnImportError) as refused:
            import_bpmn(data, "x.bpmn")
        assert [(u.tag, u.id, u.line) for u in refused.value.unsupported] == [
            ("boundaryEvent", "again", line_of(data, '<boundaryEvent id="again"'))]
        assert why in refused.value.unsupported[0].reason


def test_export_writes_reminders_as_non_interrupting_timers():
    process = etree.fromstring(export_bpmn(REMINDED)).find("bpmn:process", NS)
    timers = {e.get("id"): e for e in process.findall("bpmn:boundaryEvent", NS)}
    written = {ident: (e.get("attachedToRef"), e.get("cancelActivity"), etree.QName(e.find("bpmn:timerEventDefinition", NS)[0]).localname,
                       e.find("bpmn:timerEventDefinition", NS)[0].text)
               for ident, e in timers.items() if ident.startswith("_remind_")}
    assert written == {"_remind_in_progress": ("in_progress", "false", "timeCycle", "R3/P5D"),
                       "_remind_leader_signed": ("leader_signed", "false", "timeDuration", "P2D"),
                       "_remind_verified": ("verified", "false", "timeCycle", "R/P1D")}
    assert timers["_remind_in_progress"].get(f"{{{KAOPING}}}notify") == "responsible leaders"
