"""One ``transitions`` state machine per workflow definition, shared by every target.

A target is handed to the machine only for the duration of one transition
(``machine.events[trigger].trigger(target, ctx=…)``): the machine keeps nothing per
target, so memory does not grow with the number of targets. No ``auto_transitions`` (no
``to_<state>()`` that would bypass the rules), no timeouts and no threads: deadlines are
columns, swept by the scheduler.
"""
from __future__ import annotations

from transitions import EventData, Machine

from engine.workflow import rules
from engine.workflow.definitions import Definition

_machines: dict[tuple[str, int], Machine] = {}


def _countersign_complete(event: EventData) -> bool:
    ctx = event.kwargs["ctx"]
    return bool(ctx.leaders) and set(ctx.leaders) <= set(ctx.signers)


def _branches_complete(event: EventData) -> bool:
    return rules.branches_complete(event.kwargs["ctx"])


def build(definition: Definition) -> Machine:
    """A machine for ``definition``, with no model bound to it."""
    machine = Machine(
        model=None,
        states=list(definition.states),
        initial=definition.initial,
        auto_transitions=False,
        send_event=True,
        model_attribute="state",
    )
    for spec in definition.transitions:
        for source in spec.sources:
            if spec.branch:
                # 并行: a branch's step records itself; the step that completes every branch fires the join.
                machine.add_transition(spec.trigger, source, spec.dest, conditions=[_branches_complete])
                machine.add_transition(spec.trigger, source, None)
            elif spec.countersign:
                # 会签: the target moves on only with the last leader's signature; until
                # then the same trigger is an internal transition that only records it.
                machine.add_transition(spec.trigger, source, spec.dest, conditions=[_countersign_complete])
                machine.add_transition(spec.trigger, source, None)
            else:
                machine.add_transition(spec.trigger, source, spec.dest)
    return machine


def machine_for(definition: Definition) -> Machine:
    """The shared machine of ``definition`` (built once per id and version)."""
    key = (definition.id, definition.version)
    if key not in _machines:
        _machines[key] = build(definition)
    return _machines[key]


def forget() -> None:
    """Drop every machine built (their definitions were deployed in another database)."""
    _machines.clear()
