"""Workflow definitions: the shipped ones load and work; broken ones are refused with file, line, reason."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from engine.workflow import definitions
from engine.workflow.machines import build
from tests.cli_runner import kaoping

SHIPPED = resources.files("workflows")
TARGET_YAML = SHIPPED.joinpath("target.yaml").read_text("utf-8")


@pytest.mark.parametrize("workflow_id", sorted(definitions.shipped()))
def test_shipped_definition_loads_builds_and_reaches_every_state(workflow_id):
    definition = definitions.get(workflow_id)
    machine = build(definition)
    assert set(machine.states) == set(definition.states)
    reached, frontier = {definition.initial}, [definition.initial]
    while frontier:
        state = frontier.pop()
        for trigger in machine.get_triggers(state):
            for spec in definition.triggers_from(state):
                if spec.trigger == trigger and spec.dest not in reached:
                    reached.add(spec.dest)
                    frontier.append(spec.dest)
    assert reached == set(definition.states)
    assert not [t for t in machine.get_triggers(*definition.states) if t.startswith("to_")]  # no auto transitions


def test_target_definition_labels_and_lifecycle():
    d = definitions.get("target")
    assert [d.states[s].label for s in d.states] == ["已下达", "推进中", "已自评", "领导已审签", "绩效办已核验", "已评分"]
    edges = {(spec.trigger, src, spec.dest) for spec in d.transitions for src in spec.sources}
    assert edges == {
        ("start", "assigned", "in_progress"), ("report_progress", "in_progress", "in_progress"),
        ("allow_self_assess", "in_progress", "in_progress"),
        ("self_assess", "in_progress", "self_assessed"), ("sign", "self_assessed", "leader_signed"),
        ("return", "self_assessed", "in_progress"), ("verify", "leader_signed", "verified"),
        ("send_back", "leader_signed", "in_progress"), ("send_back", "verified", "in_progress"),
        ("score", "verified", "scored"), ("reopen", "scored", "verified"),
    }
    assert [(lv.level, lv.after_working_days, lv.supervise) for lv in d.escalation] == [(1, 0, False), (2, 3, False), (3, 5, True)]
    assert d.reminder_days == (5, 1)


def _problems(text: str) -> list[str]:
    with pytest.raises(definitions.DefinitionError) as refused:
        definitions.parse(text, "bad.yaml")
    return [str(p) for p in refused.value.problems]


def _line_of(text: str, needle: str, start: int = 0) -> int:
    return text[: text.index(needle, start)].count("\n") + 1


def test_unknown_state():
    bad = TARGET_YAML.replace("    to: verified\n    roles: [office]\n\n  - trigger: send_back",
                              "    to: checked\n    roles: [office]\n\n  - trigger: send_back")
    line = _line_of(bad, "to: checked")
    assert f"bad.yaml:{line}: 转换 'verify' 的目标状态 'checked' 未定义" in _problems(bad)


def test_unreachable_state():
    bad = TARGET_YAML.replace("states:\n", "states:\n  archived:\n    label: {zh: 已归档}\n", 1)
    assert _problems(bad) == [f"bad.yaml:{_line_of(bad, 'archived:')}: 状态 'archived' 从初始状态 'assigned' 不可达"]


def test_final_state_with_outgoing_transition():
    bad = TARGET_YAML.replace("    label: {zh: 已评分, en: Scored}\n", "    label: {zh: 已评分, en: Scored}\n    final: true\n")
    line = _line_of(bad, "from: scored")
    assert _problems(bad) == [f"bad.yaml:{line}: 终止状态 'scored' 不能有转出的转换（'reopen'）"]


def test_two_transitions_of_one_trigger_from_one_state():
    bad = TARGET_YAML.replace("  - trigger: verify\n", "  - trigger: verify\n    from: leader_signed\n    to: scored\n"
                              "    roles: [office]\n  - trigger: verify\n", 1)
    second = bad.index("- trigger: verify", bad.index("- trigger: verify") + 1)
    line = _line_of(bad, "trigger: verify", second)
    assert any(p.startswith(f"bad.yaml:{line}: 状态 'leader_signed' 已有触发器 'verify' 的转换") for p in _problems(bad))


def test_unknown_guard_and_role():
    bad = TARGET_YAML.replace("guards: [not_signed_yet]", "guards: [not_signed_yet, leader_is_happy]")
    bad = bad.replace("    to: verified\n    roles: [office]\n\n", "    to: verified\n    roles: [office, chief]\n\n")
    problems = _problems(bad)
    assert any(p.startswith(f"bad.yaml:{_line_of(bad, 'leader_is_happy')}: 未知守卫 'leader_is_happy'") for p in problems)
    assert any(p.startswith(f"bad.yaml:{_line_of(bad, '[office, chief]')}: 未知角色 'chief'") for p in problems)


def test_schema_errors_and_yaml_syntax():
    bad = TARGET_YAML.replace("version: 1", "version: one")
    assert _problems(bad)[0].startswith(f"bad.yaml:{_line_of(bad, 'version: one')}: version: 不符合定义格式")
    assert _problems("id: [unclosed\n")[0].startswith("bad.yaml:")


def test_cli_check(tmp_path):
    good = Path(str(SHIPPED.joinpath("target.yaml")))
    bad = tmp_path / "bad.yaml"
    bad.write_text(TARGET_YAML.replace("guards: [not_signed_yet]", "guards: [nobody]"), encoding="utf-8")
    ok = kaoping("workflows", "check", str(good))
    assert ok.returncode == 0 and "通过（target 第 1 版，6 个状态，10 个转换）" in ok.stdout
    refused = kaoping("workflows", "check", str(bad))
    line = _line_of(bad.read_text(encoding="utf-8"), "[nobody]")
    assert refused.returncode == 1
    assert refused.stdout.startswith(f"{bad}:{line}: 未知守卫 'nobody'")
