"""The peer: SpiffWorkflow 3.2 running the same five-step lifecycle of ``target.yaml`` (exported
as BPMN), each instance
round-tripped through its JSON serialisation at every step (in memory, nothing durable).

    python bench/peer_spiff.py [--instances 1000]

Installed with the ``bench`` extra (``pip install -e '.[bench]'``), not a runtime dependency.
"""
from __future__ import annotations

import argparse
import re
import time

STEPS = ("start", "self_assess", "sign", "verify", "score")
DATA = {"start": {}, "self_assess": {"self_score": 1.5, "summary": "全年目标基本完成"}, "sign": {}, "verify": {},
        "score": {"score": 1.8, "deductions": [{"points": 0.2, "reason": "进度滞后"}]}}

#: The user task each step completes: kaoping's own definition, exported as BPMN (states are user tasks).
TASKS = ("assigned", "in_progress", "self_assessed", "leader_signed", "verified")


def _bpmn() -> bytes:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from engine.bpmn.writer import export_bpmn
    from engine.workflow import definitions

    # The export names runtime values (``${dueDate}``, ``${nrOfLeaders}``) that a BPMN runtime fills in.
    # The peer gets a due date far ahead (its timers are evaluated at each step and never fire) and,
    # as the benchmark's targets have one leader, a plain task where the countersign is a multi-instance.
    xml = export_bpmn(definitions.get("target")).replace(b"${dueDate}", b"'2099-12-31T00:00:00+08:00'")
    # A gateway's condition is an expression in ``${…}``; the peer's script engine evaluates plain Python.
    xml = re.sub(rb"(<bpmn:conditionExpression[^>]*>)\$\{(.*?)\}(</bpmn:conditionExpression>)", rb"\1\2\3", xml, flags=re.S)
    return re.sub(rb"<bpmn:multiInstanceLoopCharacteristics.*?</bpmn:multiInstanceLoopCharacteristics>", b"", xml,
                  flags=re.S)


def spiff_rate(instances: int) -> float:
    """Transitions per second: load the instance from JSON, complete its ready task, dump it to JSON."""
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_str(_bpmn(), filename="target.bpmn")
    spec = parser.get_spec("target")
    serializer = BpmnWorkflowSerializer()
    stored = []
    for _ in range(instances):
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        stored.append(serializer.serialize_json(workflow))
    started = time.perf_counter()
    for step, task_name in zip(STEPS, TASKS, strict=True):
        for number, blob in enumerate(stored):
            workflow = serializer.deserialize_json(blob)
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            assert task.task_spec.name == task_name, (task.task_spec.name, task_name)
            task.data.update(DATA[step], decision=step)  # the gateway after the task routes on the decision
            task.run()
            workflow.do_engine_steps()
            stored[number] = serializer.serialize_json(workflow)
    elapsed = time.perf_counter() - started
    last = serializer.deserialize_json(stored[0]).get_next_task(state=TaskState.READY, manual=True)
    assert last.task_spec.name == "scored", last.task_spec.name
    return instances * len(STEPS) / elapsed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=1000)
    args = parser.parse_args()
    print(f"SpiffWorkflow, JSON round trip per step: {spiff_rate(args.instances):,.0f} transitions/s")
