"""The API's request and response shapes, and how engine objects become them."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from engine import clock, definitions
from engine.actors import Parties
from engine.commands import Action
from engine.models import Plan, Target, TransitionRecord
from engine.targets import is_overdue

TEXT_MAX = 4000


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    id: int
    name: str
    roles: list[str]
    sections: list[str]


class FieldPublic(BaseModel):
    name: str
    type: str
    required: bool
    label: str
    min: float | None = None
    max: float | None = None
    max_length: int | None = None


class ActionPublic(BaseModel):
    trigger: str
    label: str
    to: str
    to_label: str
    role: str
    comment_required: bool
    fields: list[FieldPublic]


class SignaturePublic(BaseModel):
    signer: str
    signed_at: datetime


class IndicatorPublic(BaseModel):
    name: str
    raw: str
    label: str
    actual: str | None
    met: bool | None
    problem: str = ""


class TargetSummary(BaseModel):
    id: int
    plan_id: int
    code: str
    category: str
    text: str
    weight: float
    deadline_phrase: str
    due_date: date | None
    state: str
    state_label: str
    state_due: date | None
    overdue: bool
    supervised: bool
    progress: int
    version: int
    sections: list[str]
    leaders: list[str]
    persons: list[str]


class TargetsPublic(BaseModel):
    data: list[TargetSummary]
    count: int


class TargetPublic(TargetSummary):
    indicator: str
    indicator_points: float | None
    basis: str
    self_score: float | None
    score: float | None
    signatures: list[SignaturePublic]
    indicators: list[IndicatorPublic]
    available_triggers: list[ActionPublic]


class TransitionIn(BaseModel):
    trigger: str = Field(min_length=1, max_length=60)
    payload: dict[str, Any] = Field(default_factory=dict)
    comment: str = Field(default="", max_length=TEXT_MAX)


class RecordPublic(BaseModel):
    id: int
    target_id: int | None
    kind: str
    actor: str
    role: str
    trigger: str
    from_state: str | None
    to_state: str | None
    at: datetime
    comment: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class RecordsPublic(BaseModel):
    data: list[RecordPublic]
    count: int


class ChainCheckPublic(BaseModel):
    count: int
    ok: bool
    first_bad_id: int | None
    reason: str


class MilestonePublic(BaseModel):
    key: str
    label: str
    phrase: str
    due_date: date


class CategoryPublic(BaseModel):
    name: str
    points: float
    weight: float
    targets: int


class PlanSummary(BaseModel):
    id: int
    org: str
    year: int
    title: str


class PlansPublic(BaseModel):
    data: list[PlanSummary]
    count: int


class PlanPublic(PlanSummary):
    milestones: list[MilestonePublic]
    categories: list[CategoryPublic]
    total_weight: float
    targets: int


class RowErrorPublic(BaseModel):
    row: int
    column: str
    reason: str


class ImportOutcome(BaseModel):
    ok: bool
    dry_run: bool
    plan_id: int | None = None
    targets: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowErrorPublic] = []


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


class InboxItemPublic(BaseModel):
    id: int
    subject: str
    body: str
    target_id: int | None
    created_at: datetime
    read_at: datetime | None


class InboxPublic(BaseModel):
    data: list[InboxItemPublic]
    count: int
    unread: int


class UserPublic(BaseModel):
    id: int
    name: str
    roles: list[str]
    sections: list[str]
    email: str | None
    active: bool


class UsersPublic(BaseModel):
    data: list[UserPublic]
    count: int


Role = Literal["staff", "leader", "office", "auditor", "admin"]
#: A name: some visible text, no control characters.
NAME = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=NAME)
    roles: list[Role] = Field(min_length=1, max_length=5)
    sections: list[Annotated[str, Field(min_length=1, max_length=100, pattern=NAME)]] = Field(default_factory=list, max_length=50)
    password: str = Field(min_length=8, max_length=200)
    email: str | None = Field(default=None, max_length=300)


class UserUpdate(BaseModel):
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=5)
    sections: list[Annotated[str, Field(min_length=1, max_length=100, pattern=NAME)]] | None = Field(default=None, max_length=50)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    email: str | None = Field(default=None, max_length=300)
    active: bool | None = None


class SectionPublic(BaseModel):
    id: int
    name: str


class SectionsPublic(BaseModel):
    data: list[SectionPublic]
    count: int


class SectionCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=NAME)


def field_public(spec: definitions.FieldSpec) -> FieldPublic:
    return FieldPublic(name=spec.name, type=spec.type, required=spec.required, label=spec.label or spec.name,
                       min=spec.min, max=spec.max, max_length=spec.max_length)


def summary(target: Target, parties: Parties) -> dict[str, Any]:
    d = definitions.get(target.workflow)
    return dict(id=target.id, plan_id=target.plan_id, code=target.code, category=target.category, text=target.text,
                weight=float(target.weight), deadline_phrase=target.deadline_phrase, due_date=target.due_date,
                state=target.state, state_label=d.state_label(target.state), state_due=target.state_due,
                overdue=is_overdue(target), supervised=target.supervised, progress=target.progress,
                version=target.version, sections=list(parties.sections), leaders=list(parties.leaders),
                persons=list(parties.persons))


def action_public(action: Action) -> ActionPublic:
    spec = action.spec
    return ActionPublic(trigger=spec.trigger, label=spec.label, to=spec.dest, to_label=action.dest_label,
                        role=action.role, comment_required=spec.comment_required,
                        fields=[field_public(f) for f in spec.fields])


def record_public(record: TransitionRecord) -> RecordPublic:
    return RecordPublic(id=record.id, target_id=record.target_id, kind=record.kind, actor=record.actor,
                        role=record.role, trigger=record.trigger, from_state=record.from_state,
                        to_state=record.to_state, at=clock.local(record.at), comment=record.comment,
                        payload=record.payload, prev_hash=record.prev_hash, hash=record.hash)


def plan_summary(plan: Plan) -> PlanSummary:
    return PlanSummary(id=plan.id, org=plan.org, year=plan.year, title=plan.title)


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
