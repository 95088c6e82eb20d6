"""The SVG state diagram: well-formed, complete, escaped, self-contained."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from api.web.diagram import SVG_NS, svg
from engine.workflow import definitions
from engine.workflow.definitions import Definition
from engine.workflow.layout import edge_label, layout

NS = {"s": SVG_NS}

HOSTILE = """
id: hostile
version: 1
label: {zh: "<script>alert(1)</script>"}
initial: due
states:
  due: {label: {zh: "<b>x</b>", en: "<i>y</i> & z"}}
  done: {label: {zh: "完成\\"'&"}, final: true}
transitions:
  - {trigger: finish, label: {zh: "<script>alert(2)</script>"}, from: due, to: done, roles: [staff]}
"""


def _texts(root: ET.Element) -> list[str]:
    return [el.text for el in root.iter(f"{{{SVG_NS}}}text") if el.text]


def _classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


@pytest.mark.parametrize("definition", definitions.shipped().values(), ids=lambda d: d.id)
def test_well_formed_with_every_state_and_transition(definition: Definition) -> None:
    markup = svg(definition)
    root = ET.fromstring(markup)
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert root.get("role") == "img" and root.get("aria-label") == definition.label
    assert root.get("viewBox", "").startswith("0 0 ")
    assert root.find("s:title", NS).text == definition.label
    texts = _texts(root)
    for state in definition.states.values():
        assert state.label in texts and state.name in texts
    for spec in definition.transitions:
        assert edge_label(spec) in texts
    edges = root.findall(".//s:g[@class]", NS)
    assert sum("edge" in _classes(g) for g in edges) == sum(len(t.sources) for t in definition.transitions)
    assert root.find(".//s:defs/s:marker", NS) is not None


def test_roles_and_countersign_in_the_edge_labels() -> None:
    texts = _texts(ET.fromstring(svg(definitions.get("target"))))
    assert "审签（分管领导，会签）" in texts
    assert "开始推进（科室）" in texts
    assert "核验（绩效办）" in texts


def test_current_state_is_highlighted() -> None:
    root = ET.fromstring(svg(definitions.get("target"), current="self_assessed"))
    states = [g for g in root.iter(f"{{{SVG_NS}}}g") if "state" in _classes(g)]
    current = [g for g in states if "current" in _classes(g)]
    assert [g.get("id") for g in current] == ["kp-target-state-self_assessed"]
    fills = {g.get("id"): g.find("s:rect", NS).get("fill") for g in states}
    others = {fill for key, fill in fills.items() if key != "kp-target-state-self_assessed"}
    assert fills["kp-target-state-self_assessed"] not in others  # visible without any CSS


def test_no_state_highlighted_by_default() -> None:
    assert "current" not in svg(definitions.get("target"))


def test_english_labels() -> None:
    definition = definitions.get("target")
    root = ET.fromstring(svg(definition, english=True))
    texts = _texts(root)
    assert root.get("aria-label") == "Performance target"
    for state in definition.states.values():
        assert state.label_en in texts and state.label not in texts
    assert "Sign (leader, countersign)" in texts


def test_initial_and_final_states_are_marked() -> None:
    root = ET.fromstring(svg(definitions.get("report")))
    assert root.find(".//s:g[@class='initial']/s:circle", NS) is not None
    final = root.find(".//s:g[@id='kp-report-state-accepted']", NS)
    assert "final" in _classes(final) and len(final.findall("s:rect", NS)) == 2
    due = root.find(".//s:g[@id='kp-report-state-due']", NS)
    assert len(due.findall("s:rect", NS)) == 1


def test_labels_are_escaped() -> None:
    definition = definitions.parse(HOSTILE, "t.yaml")
    for english in (False, True):
        markup = svg(definition, english=english, current="due")
        assert "<script" not in markup and "<b>" not in markup and "<i>" not in markup
        root = ET.fromstring(markup)
        assert root.find(".//s:script", NS) is None
        texts = _texts(root)
        assert ("<i>y</i> & z" if english else "<b>x</b>") in texts
        assert ("finish (staff)" if english else "<script>alert(2)</script>（科室）") in texts
    markup = svg(definition)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in markup
    assert "&lt;b&gt;x&lt;/b&gt;" in markup
    assert ET.fromstring(markup).get("aria-label") == "<script>alert(1)</script>"
    assert "完成\"'&" in _texts(ET.fromstring(markup))


@pytest.mark.parametrize("definition", definitions.shipped().values(), ids=lambda d: d.id)
def test_self_contained(definition: Definition) -> None:
    markup = svg(definition, current=definition.initial)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", markup)) == {SVG_NS}
    assert "<script" not in markup and "@import" not in markup and "href" not in markup
    assert "sans-serif" in markup


def test_a_given_layout_is_drawn() -> None:
    definition = definitions.get("report")
    drawn = layout(definition)
    assert svg(definition, layout=drawn) == svg(definition)
    root = ET.fromstring(svg(definition, layout=drawn))
    assert root.get("viewBox") == f"0 0 {drawn.width:g} {drawn.height:g}"
