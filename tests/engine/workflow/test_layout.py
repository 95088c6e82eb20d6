"""The state-diagram layout: every state and edge placed, nothing on top of anything, deterministic."""
from __future__ import annotations

from importlib import resources
from itertools import combinations

import pytest

from engine.workflow import definitions
from engine.workflow.definitions import Definition
from engine.workflow.layout import Box, Layout, columns, edge_label, layout

# Two states in one column (review, legal), edges both ways between them, a transition with
# two sources, parallel edges review → approved, two self-loops, back edges from a stacked box.
MEMO = """
id: memo
version: 1
label: {zh: 公文, en: Memo}
initial: draft
states:
  draft: {label: {zh: 草稿, en: Draft}}
  review: {label: {zh: 审核中, en: In review}}
  legal: {label: {zh: 法规审查, en: Legal review}}
  approved: {label: {zh: 已批准, en: Approved}}
  archived: {label: {zh: 已归档, en: Archived}, final: true}
transitions:
  - {trigger: submit, label: {zh: 提交}, from: draft, to: review, roles: [staff]}
  - {trigger: consult, label: {zh: 征求意见}, from: draft, to: legal, roles: [staff]}
  - {trigger: ask_legal, label: {zh: 转法规审查}, from: review, to: legal, roles: [leader]}
  - {trigger: approve, label: {zh: 批准}, from: [review, legal], to: approved, roles: [leader], countersign: true}
  - {trigger: fast_approve, label: {zh: 直接批准}, from: review, to: approved, roles: [office]}
  - {trigger: withdraw, label: {zh: 撤回}, from: [review, legal], to: draft, roles: [staff]}
  - {trigger: comment, label: {zh: 批注}, from: review, to: review, roles: [staff]}
  - {trigger: note, label: {zh: 备注}, from: review, to: review, roles: [office]}
  - {trigger: archive, label: {zh: 归档}, from: approved, to: archived, roles: [office]}
  - {trigger: reopen, label: {zh: 重新审核}, from: approved, to: review, roles: [office, leader]}
  - {trigger: back_to_review, label: {zh: 退回审核}, from: legal, to: review, roles: [leader]}
"""


def memo() -> Definition:
    return definitions.parse(MEMO, "t.yaml")


ALL = {**definitions.shipped(), "memo": memo()}
CASES = [pytest.param(d, english, id=f"{key}{'-en' if english else ''}")
         for key, d in ALL.items() for english in (False, True)]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _rect(box: Box) -> tuple[float, float, float, float]:
    return (box.x, box.y, box.right, box.bottom)


def _label_rects(drawn: Layout) -> list[tuple[float, float, float, float]]:
    return [(e.label_x - e.label_width / 2, e.label_y - e.label_height / 2,
             e.label_x + e.label_width / 2, e.label_y + e.label_height / 2) for e in drawn.edges]


@pytest.mark.parametrize(("definition", "english"), CASES)
def test_a_box_for_every_state_and_none_overlap(definition: Definition, english: bool) -> None:
    drawn = layout(definition, english=english)
    assert list(drawn.boxes) == list(definition.states)
    for name, box in drawn.boxes.items():
        assert box.width >= 110 and box.height >= 48
        assert box.final == definition.states[name].final
        assert box.initial == (name == definition.initial)
    for a, b in combinations(drawn.boxes.values(), 2):
        assert not _overlap(_rect(a), _rect(b)), (a.name, b.name)


@pytest.mark.parametrize(("definition", "english"), CASES)
def test_one_edge_per_trigger_and_source_ending_on_the_borders(definition: Definition, english: bool) -> None:
    drawn = layout(definition, english=english)
    expected = {(t.trigger, source): t for t in definition.transitions for source in t.sources}
    assert sorted((e.trigger, e.source) for e in drawn.edges) == sorted(expected)
    for edge in drawn.edges:
        spec = expected[(edge.trigger, edge.source)]
        assert edge.dest == spec.dest
        assert edge.label == edge_label(spec, english)
        assert len(edge.points) >= 2
        assert drawn.boxes[edge.source].on_border(edge.points[0]), edge
        assert drawn.boxes[edge.dest].on_border(edge.points[-1]), edge


@pytest.mark.parametrize(("definition", "english"), CASES)
def test_back_edges_have_lanes_of_their_own_below_the_boxes(definition: Definition, english: bool) -> None:
    drawn = layout(definition, english=english)
    column = columns(definition)
    floor = max(box.bottom for box in drawn.boxes.values())
    lanes = []
    for edge in drawn.edges:
        assert edge.back == (column[edge.dest] < column[edge.source]), edge
        assert edge.loop == (edge.source == edge.dest), edge
        if edge.back:
            lane = max(y for _, y in edge.points)
            assert lane > floor
            lanes.append(lane)
            # Orthogonal: every segment horizontal or vertical.
            for (x1, y1), (x2, y2) in zip(edge.points, edge.points[1:]):
                assert x1 == x2 or y1 == y2
    assert len(lanes) == len(set(lanes))


@pytest.mark.parametrize(("definition", "english"), CASES)
def test_loops_sit_above_their_box(definition: Definition, english: bool) -> None:
    drawn = layout(definition, english=english)
    for edge in (e for e in drawn.edges if e.loop):
        box = drawn.boxes[edge.source]
        assert edge.points[0][1] == edge.points[-1][1] == box.y
        assert all(y <= box.y for _, y in edge.points)
        assert edge.label_y < box.y


@pytest.mark.parametrize(("definition", "english"), CASES)
def test_labels_do_not_overlap_each_other_or_boxes(definition: Definition, english: bool) -> None:
    drawn = layout(definition, english=english)
    labels = _label_rects(drawn)
    for a, b in combinations(labels, 2):
        assert not _overlap(a, b)
    for label in labels:
        assert not any(_overlap(label, _rect(box)) for box in drawn.boxes.values())


@pytest.mark.parametrize(("definition", "english"), CASES)
def test_everything_fits_inside_with_a_margin(definition: Definition, english: bool) -> None:
    drawn = layout(definition, english=english)
    xs = [x for e in drawn.edges for x, _ in e.points] + [v for r in _label_rects(drawn) for v in r[0::2]]
    ys = [y for e in drawn.edges for _, y in e.points] + [v for r in _label_rects(drawn) for v in r[1::2]]
    for box in drawn.boxes.values():
        xs += [box.x, box.right]
        ys += [box.y, box.bottom]
    assert min(xs) > 0 and min(ys) > 0
    assert max(xs) < drawn.width and max(ys) < drawn.height
    initial = drawn.boxes[definition.initial]
    assert initial.x >= 40  # room for the start marker


def _source(definition: Definition) -> str:
    if definition.id == "memo":
        return MEMO
    return resources.files("workflows").joinpath(definition.source.removeprefix("workflows/")).read_text("utf-8")


@pytest.mark.parametrize(("definition", "english"), CASES)
def test_deterministic(definition: Definition, english: bool) -> None:
    again = definitions.parse(_source(definition), "again.yaml")  # equal, but new objects
    assert layout(definition, english=english) == layout(definition, english=english)
    assert layout(definition, english=english) == layout(again, english=english)


def test_columns_by_breadth_first_distance_and_stacked_in_definition_order() -> None:
    definition = memo()
    assert columns(definition) == {"draft": 0, "review": 1, "legal": 1, "approved": 2, "archived": 3}
    boxes = layout(definition).boxes
    assert boxes["draft"].right < boxes["review"].x
    assert boxes["review"].center[0] == boxes["legal"].center[0]
    assert boxes["review"].bottom < boxes["legal"].y
    assert boxes["legal"].right < boxes["approved"].x < boxes["approved"].right < boxes["archived"].x
    assert boxes["draft"].y == boxes["review"].y == boxes["approved"].y == boxes["archived"].y


def test_target_runs_left_to_right_in_one_row() -> None:
    drawn = layout(definitions.get("target"))
    order = ["assigned", "in_progress", "self_assessed", "leader_signed", "verified", "scored"]
    assert [drawn.boxes[n].x for n in order] == sorted(drawn.boxes[n].x for n in order)
    assert len({box.y for box in drawn.boxes.values()}) == 1
    forward = [e for e in drawn.edges if not e.back and not e.loop]
    assert all(len(e.points) == 2 and e.points[0][1] == e.points[1][1] for e in forward)  # straight
    assert {e.trigger for e in drawn.edges if e.back} == {"return", "send_back", "reopen"}
    assert [e.trigger for e in drawn.edges if e.loop] == ["report_progress", "allow_self_assess"]


def test_a_multi_source_transition_gives_an_edge_per_source() -> None:
    drawn = layout(memo())
    assert sorted(e.source for e in drawn.edges if e.trigger == "approve") == ["legal", "review"]
    assert sorted(e.source for e in drawn.edges if e.trigger == "withdraw") == ["legal", "review"]
    # Parallel edges review → approved keep apart.
    parallel = [e for e in drawn.edges if e.source == "review" and e.dest == "approved"]
    assert len(parallel) == 2 and parallel[0].points != parallel[1].points


def test_box_fits_its_label() -> None:
    drawn = layout(definitions.get("target"), english=True)
    assert drawn.boxes["leader_signed"].width > drawn.boxes["assigned"].width == 110
    assert layout(definitions.get("target")).boxes["leader_signed"].width >= 5 * 14
