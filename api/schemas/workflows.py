"""Request and response shapes of the API: workflows."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.schemas.targets import FieldPublic, field_public
from engine.workflow import definitions


class WorkflowSummary(BaseModel):
    id: str
    version: int
    label: str
    label_en: str


class WorkflowsPublic(BaseModel):
    data: list[WorkflowSummary]
    count: int


class StatePublic(BaseModel):
    name: str
    label: str
    label_en: str
    final: bool
    deadline: dict[str, Any] | None


class TransitionPublic(BaseModel):
    trigger: str
    label: str
    label_en: str
    sources: list[str]
    dest: str
    roles: list[str]
    fields: list[FieldPublic]
    guards: list[str]
    effects: list[str]
    comment_required: bool
    countersign: bool
    notify: list[str]


class EscalationPublic(BaseModel):
    level: int
    after_working_days: int
    notify: list[str]
    supervise: bool


class WorkflowPublic(WorkflowSummary):
    initial: str
    states: list[StatePublic]
    transitions: list[TransitionPublic]
    reminder_days: list[int]
    reminder_notify: list[str]
    escalation: list[EscalationPublic]


def workflow_public(d: definitions.Definition) -> WorkflowPublic:
    return WorkflowPublic(
        id=d.id, version=d.version, label=d.label, label_en=d.label_en, initial=d.initial,
        states=[StatePublic(name=s.name, label=s.label, label_en=s.label_en, final=s.final, deadline=s.deadline)
                for s in d.states.values()],
        transitions=[TransitionPublic(trigger=t.trigger, label=t.label, label_en=t.label_en, sources=list(t.sources),
                                      dest=t.dest, roles=list(t.roles), fields=[field_public(f) for f in t.fields],
                                      guards=list(t.guards), effects=list(t.effects),
                                      comment_required=t.comment_required, countersign=t.countersign,
                                      notify=list(t.notify)) for t in d.transitions],
        reminder_days=list(d.reminder_days), reminder_notify=list(d.reminder_notify),
        escalation=[EscalationPublic(level=e.level, after_working_days=e.after_working_days, notify=list(e.notify),
                                     supervise=e.supervise) for e in d.escalation],
    )
