"""Every export is BPMN another engine can run: it passes the OMG XSD, names its incoming and outgoing
flows on every node, reads with bpmn-moddle without a warning, passes bpmnlint's recommended rules
without an error, and SpiffWorkflow runs its happy path to an end event. Checked on the shipped
definitions and on the three public samples as imported."""
from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from collections import deque
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn.reader import import_bpmn
from engine.bpmn.writer import BPMN, export_bpmn
from engine.workflow import definitions
from tests.engine.bpmn.test_bpmn import NS, REMINDED, SHARED, bpmn, sample
from tests.engine.bpmn.test_parallel import CONTRACT

#: The samples as imported in strict mode, their automatic tasks mapped to nothing to run.
IMPORTED = {
    "flowable-vacation-request.bpmn": {"sendApprovalMail": "none"},
    "camunda-invoice.v2.bpmn": {"assignApprover": "none", "ServiceTask_1": "none", "reviewInvoice": "none"},
    "camunda-job-announcement.bpmn": {"mail": "none", "publication": "none"},
}
#: Parallel states (并行): our own definition, and a file with parallel gateways around user tasks, imported.
PARALLEL = {"joint_review": lambda: definitions.load(Path(__file__).parents[2] / "workflows" / "fixtures" / "joint_review.yaml"),
            "contract": lambda: definitions.parse(import_bpmn(bpmn(CONTRACT), "contract.bpmn").yaml_text, "contract.yaml")}
NAMES = sorted(definitions.shipped()) + sorted(IMPORTED) + [REMINDED.id] + sorted(PARALLEL)
FLOW_NODES = ("startEvent", "endEvent", "userTask", "exclusiveGateway", "parallelGateway", "boundaryEvent")


def definition_of(name: str) -> definitions.Definition:
    if name == REMINDED.id:  # reminders of its states' own: non-interrupting timers, cycles among them
        return REMINDED
    if name in PARALLEL:
        return PARALLEL[name]()
    if name in IMPORTED:
        return definitions.parse(import_bpmn(sample(name), name, effect_map=IMPORTED[name]).yaml_text, name)
    return definitions.get(name)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """Each export written to a file of its own."""
    folder = tmp_path_factory.mktemp("exports")
    files = {}
    for name in NAMES:
        files[name] = folder / f"{Path(name).stem}.bpmn"
        files[name].write_bytes(export_bpmn(definition_of(name)))
    return files


@pytest.mark.parametrize("name", NAMES)
def test_export_passes_the_xsd_and_lists_every_node_s_flows(name, exported):
    if not (SHARED / "bpmn-xsd").is_dir():
        pytest.skip(f"共享目录 {SHARED / 'bpmn-xsd'} 不存在")
    schema = etree.XMLSchema(etree.parse(str(SHARED / "bpmn-xsd" / "BPMN20.xsd")))
    document = etree.parse(str(exported[name]))
    assert schema.validate(document), schema.error_log
    process = document.getroot().find("bpmn:process", NS)
    flows = process.findall("bpmn:sequenceFlow", NS)
    for node in (n for tag in FLOW_NODES for n in process.findall(f"bpmn:{tag}", NS)):
        ident = node.get("id")
        assert [e.text for e in node.findall("bpmn:incoming", NS)] == [f.get("id") for f in flows if f.get("targetRef") == ident]
        assert [e.text for e in node.findall("bpmn:outgoing", NS)] == [f.get("id") for f in flows if f.get("sourceRef") == ident]
    final = [s for s in definition_of(name).states.values() if s.final]
    assert {e.get("id") for e in process.findall("bpmn:endEvent", NS)} >= {s.name for s in final}
    assert not {t.get("id") for t in process.findall("bpmn:userTask", NS)} & {s.name for s in final}


MODDLE = """
import * as moddle from 'bpmn-moddle';
import { readFileSync } from 'fs';
const BpmnModdle = moddle.BpmnModdle || moddle.default;
const out = {};
for (const file of process.argv.slice(2)) {
  const { warnings } = await new BpmnModdle().fromXML(readFileSync(file, 'utf8'));
  out[file] = warnings.map(w => w.message);
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def node_tools(tmp_path_factory) -> Path:
    """bpmn-moddle and bpmnlint, installed with npm into a folder of their own."""
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js 与 npm 是 CI 的必需品：无法用 bpmn-moddle 和 bpmnlint 检查导出")
        pytest.skip("本机没有 Node.js（node、npm）：跳过 bpmn-moddle 与 bpmnlint 的检查")
    folder = tmp_path_factory.mktemp("node-tools")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "bpmn-moddle@10", "bpmnlint@11"],
                   cwd=folder, check=True, capture_output=True, timeout=900)
    (folder / ".bpmnlintrc").write_text('{"extends": "bpmnlint:recommended"}', encoding="utf-8")
    (folder / "moddle.mjs").write_text(MODDLE, encoding="utf-8")
    return folder


def test_every_export_reads_in_bpmn_moddle_without_a_warning(node_tools, exported):
    files = [str(p) for p in exported.values()]
    done = subprocess.run(["node", "moddle.mjs", *files], cwd=node_tools, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {f: [] for f in files}


def test_every_export_passes_bpmnlint_recommended_without_an_error(node_tools, exported):
    files = [str(p) for p in exported.values()]
    done = subprocess.run([str(node_tools / "node_modules" / ".bin" / "bpmnlint"), *files], cwd=node_tools,
                          capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stdout.splitlines() if re.search(r"\berror\b", line)]
    assert errors == [], done.stdout
    assert done.returncode == 0 or "0 errors" in done.stdout, done.stdout + done.stderr


def happy_path(definition: definitions.Definition) -> dict[str, str]:
    """State → the trigger that takes it on, along a shortest way from the initial state to an end."""
    before: dict[str, tuple[str, str] | None] = {definition.initial: None}
    queue = deque([definition.initial])
    while queue:
        state = queue.popleft()
        if definition.states[state].final or definition.is_done(state):
            break
        for spec in definition.triggers_from(state):
            if spec.dest not in before and not spec.comment_required:
                before[spec.dest] = (state, spec.trigger)
                queue.append(spec.dest)
    path, at = {}, state
    while before[at] is not None:
        source, trigger = before[at]
        path[source], at = trigger, source
    return path | ({state: "close"} if definition.is_done(state) else {})  # a completed state: its gateway's default


def juel_as_python(text: str) -> str:
    """A JUEL condition of an export as the Python SpiffWorkflow evaluates: ``&&`` → ``and`` and so on."""
    words = {"&&": " and ", "||": " or ", "!": " not ", "true": "True", "false": "False"}
    return re.sub(r"'[^']*'|\"[^\"]*\"|&&|\|\||!(?!=)|\btrue\b|\bfalse\b", lambda m: words.get(m[0], m[0]), text)


def submitted(spec) -> dict[str, object]:
    """Payload values under which the transition's ``when`` holds (the person's answers on the happy path),
    found by trying each field's likely values with the engine's own evaluator; none where no transition
    is fired (the default flow after a completed state)."""
    if spec is None or not spec.when:
        return {}
    from engine.workflow import expressions

    names = [f.name for f in spec.fields if re.search(rf"\bpayload\.{f.name}\b", spec.when)]
    literals = [float(n) for n in re.findall(r"\b\d+(?:\.\d+)?\b", spec.when)]
    strings = re.findall(r"\"([^\"]*)\"|'([^']*)'", spec.when)
    kinds = {f.name: f.type for f in spec.fields}
    def candidates(name: str) -> list[object]:
        if kinds[name] == "boolean":
            return [True, False]
        if kinds[name] in ("number", "integer"):
            return [v + d for v in literals or [0.0] for d in (0, 1, -1)]
        return [a or b for a, b in strings] or [""]
    for values in itertools.product(*(candidates(n) for n in names)):
        payload = dict(zip(names, values))
        if expressions.refusal(spec.when, payload, None) is None:
            return payload
    raise AssertionError(f"no payload satisfies {spec.when}")


@pytest.mark.parametrize("name", NAMES)
def test_spiffworkflow_runs_the_happy_path_to_an_end_event(name, exported):
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    class Expressions(PythonScriptEngine):
        """Expressions as Camunda and Flowable write them: ``${…}`` in JUEL (its operators and literals
        spelt as Python here), and a timer's ISO-8601 duration as a literal."""

        def evaluate(self, task, expression, external_context=None):
            if re.fullmatch(r"(?:R\d*/)?P(?:\d+[YMWD])+(?:T(?:\d+[HMS])+)?", (expression or "").strip()):
                return expression.strip()
            m = re.fullmatch(r"\s*[$#]\{(.*)\}\s*", expression or "")
            return super().evaluate(task, juel_as_python(m[1]) if m else expression, external_context)

    definition = definition_of(name)
    parser = BpmnParser(validator=BpmnValidator())
    parser.add_bpmn_file(str(exported[name]))
    process = etree.parse(str(exported[name])).getroot().find(f"{{{BPMN}}}process").get("id")
    workflow = BpmnWorkflow(parser.get_spec(process), script_engine=Expressions())
    path, leaders, done = happy_path(definition), 2, 0
    due = {"dueDate": "2099-12-31T00:00:00"}  # what the deadline timers of dated states wait for
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(due)
    workflow.do_engine_steps()
    while not workflow.is_completed():
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        assert ready, "the workflow waits for nothing it can be given"
        task = ready[0]
        state = task.task_spec.name.removesuffix(" [child]")
        done = done + 1 if task.task_spec.name.endswith("[child]") else 0
        # The engine's variables of a multi-instance task, as an engine that runs it would set them.
        # What the person submits: the action chosen, and the fields its condition tests.
        # A branch's step (a task of its own, ``state__step``) has one way on: nothing to decide.
        task.data.update(due, decision=path.get(state, ""), **submitted(definition.transition(state, path.get(state, ""))),
                         nrOfLeaders=leaders, nrOfInstances=leaders, nrOfCompletedInstances=done)
        task.run()
        workflow.do_engine_steps()
    ends = [t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED) if type(t.task_spec).__name__ == "EndEvent"]
    assert len(ends) == 1
