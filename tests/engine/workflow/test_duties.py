"""Separation of duties (职责分离), over every pair of steps of target.yaml."""
from __future__ import annotations

import dataclasses
from itertools import combinations

import pytest

from engine.people.actors import Actor
from engine.store.errors import Forbidden
from engine.workflow import definitions
from tests import factories as f
from tests.engine.lifecycle import step

#: One person who holds every acting role and belongs to the target's section and leads it.
EVERYONE = Actor(f.LEADER.name, frozenset({"staff", "leader", "office"}), frozenset({"规划科"}))
ADMIN_TOO = Actor(f.LEADER.name, EVERYONE.roles | {"admin"}, EVERYONE.sections)
#: The steps of the lifecycle, in order, and who fires each when the pair's person does not.
STEPS = ["start", "self_assess", "sign", "verify", "score"]
OTHERS = {"start": f.STAFF, "self_assess": f.STAFF, "sign": f.LEADER, "verify": f.OFFICE, "score": f.OFFICE}
PAIRS = list(combinations(STEPS, 2)) + [("report_progress", "self_assess"), ("self_assess", "return"),
                                        ("sign", "send_back"), ("score", "reopen")]


def test_target_yaml_separates_what_it_says():
    definition = definitions.get("target")
    assert definition.separated == (("self_assess", "sign"), ("sign", "verify"))


def _with_pairs(monkeypatch, pairs):
    shipped = definitions.shipped()
    monkeypatch.setitem(shipped, "target", dataclasses.replace(shipped["target"], separated=tuple(pairs)))


def _path_to(first: str, second: str) -> list[str]:
    """The triggers from a fresh target through ``first`` to just before ``second``."""
    if first == "report_progress":
        return ["start", "report_progress"]
    path = STEPS[:STEPS.index(first) + 1]
    if second in STEPS:
        path = STEPS[:STEPS.index(second)]
    elif second == "send_back":
        path = STEPS[:STEPS.index("verify")]
    elif second == "return":
        path = STEPS[:STEPS.index("sign")]
    elif second == "reopen":
        path = STEPS
    return path


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=lambda p: p)
@pytest.mark.parametrize("separated", [True, False], ids=["separated", "free"])
def test_one_person_and_every_pair_of_steps(session, monkeypatch, first, second, separated):
    _with_pairs(monkeypatch, [(first, second)] if separated else [])
    target = f.target(session)
    for trigger in _path_to(first, second):
        step(session, target.id, trigger, EVERYONE if trigger == first else OTHERS[trigger])
    if separated:
        with pytest.raises(Forbidden) as refused:
            step(session, target.id, second, EVERYONE)
        assert refused.value.code == "separation_of_duties" and "职责分离" in refused.value.message
        assert refused.value.details["done"] == first
        overridden = step(session, target.id, second, ADMIN_TOO, override_separation=True)
        assert overridden.record.payload["separation_override"] == {"overridden": [first, second], "by": ADMIN_TOO.name}
    else:
        assert "separation_override" not in step(session, target.id, second, EVERYONE).record.payload


def test_an_override_needs_an_admin(session, monkeypatch):
    _with_pairs(monkeypatch, [("self_assess", "sign")])
    target = f.target(session)
    step(session, target.id, "start", f.STAFF)
    step(session, target.id, "self_assess", EVERYONE)
    with pytest.raises(Forbidden, match="只有管理员可以越过"):
        step(session, target.id, "sign", EVERYONE, override_separation=True)


def test_a_pair_naming_an_unknown_trigger_is_refused():
    text = definitions.source_text("target").replace("  - [sign, verify]", "  - [sign, approve]")
    with pytest.raises(definitions.DefinitionError, match="approve"):
        definitions.parse(text, "target.yaml")
