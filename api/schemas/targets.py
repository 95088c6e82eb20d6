"""Request and response shapes of the API: targets."""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.schemas.common import TEXT_MAX
from engine.people.actors import Parties
from engine.store.models import Target
from engine.workflow import definitions
from engine.workflow.commands import Action
from engine.workflow.targets import is_overdue


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
    #: How many match in all; not counted on keyset pages (``after`` given).
    count: int | None
    #: The ``after`` of the next page (an opaque place in the list), ``None`` on the last.
    next_after: str | None = None


class ChildPublic(BaseModel):
    """A target handed down to a child organisation, as its parent shows it (汇总)."""

    target_id: int
    org_id: int
    organisation: str
    state: str
    state_label: str
    progress: int
    finished: bool
    weight: float
    rollup_weight: float
    score: float | None
    indicators: dict[str, str | None]


class RollupPublic(BaseModel):
    rule: str
    rule_label: str
    progress: int
    finished: int
    scored: int
    indicators: dict[str, float | None]
    suggested_score: float | None
    children: list[ChildPublic]


class TargetPublic(TargetSummary):
    indicator: str
    indicator_points: float | None
    basis: str
    #: Columns of the imported table the engine does not read (考评依据, 备注 …), as written.
    extra_columns: dict[str, str] = {}
    #: Earlier dates of a deadline naming several (3月25日、9月25日前 → 3月25日).
    checkpoints: list[date] = []
    self_score: float | None
    score: float | None
    signatures: list[SignaturePublic]
    indicators: list[IndicatorPublic]
    available_triggers: list[ActionPublic]
    #: The target of the parent organisation this one was handed down from (下达).
    parent_id: int | None = None
    #: The roll-up of the targets handed down from this one (汇总); none if it handed none down.
    rollup: RollupPublic | None = None


class HandDownIn(BaseModel):
    #: Child organisations (names) or group phrases (各县(市、区)教育局); empty: those its responsible units name.
    to: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=200)


class AssignmentIn(BaseModel):
    sections: list[Annotated[str, Field(max_length=100)]] = Field(max_length=50)
    leaders: list[Annotated[str, Field(max_length=100)]] = Field(max_length=50)
    persons: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)


class TransitionIn(BaseModel):
    trigger: str = Field(min_length=1, max_length=60)
    payload: dict[str, Any] = Field(default_factory=dict)
    comment: str = Field(default="", max_length=TEXT_MAX)
    #: An admin goes past the separation of duties (职责分离); recorded in the transition.
    override_separation: bool = False
    #: Ids of the target's evidence files this submission leaves out (移除; recorded, the bytes are kept).
    remove_evidence: list[int] = Field(default_factory=list, max_length=50)


@lru_cache(maxsize=1024)
def field_public(spec: definitions.FieldSpec) -> FieldPublic:
    """The API's shape of a payload field, made once per field of a definition (shared: never changed after)."""
    return FieldPublic(name=spec.name, type=spec.type, required=spec.required, label=spec.label or spec.name,
                       min=spec.min, max=spec.max, max_length=spec.max_length)


def summary(target: Target, parties: Parties) -> dict[str, Any]:
    d = definitions.get(target.workflow, target.workflow_version)
    return dict(id=target.id, plan_id=target.plan_id, code=target.code, category=target.category, text=target.text,
                weight=float(target.weight), deadline_phrase=target.deadline_phrase, due_date=target.due_date,
                state=target.state, state_label=d.state_label(target.state), state_due=target.state_due,
                overdue=is_overdue(target), supervised=target.supervised, progress=target.progress,
                version=target.version, sections=list(parties.sections), leaders=list(parties.leaders),
                persons=list(parties.persons))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def rollup_public(found: Any) -> RollupPublic | None:
    """The API's shape of an :class:`engine.scoring.rollup.Rollup` (or ``None``)."""
    if found is None:
        return None
    return RollupPublic(
        rule=found.rule, rule_label=found.rule_label, progress=found.progress, finished=found.finished,
        scored=found.scored, indicators={k: _number(v) for k, v in found.indicators.items()},
        suggested_score=_number(found.suggested_score),
        children=[ChildPublic(**{**line.__dict__, "weight": float(line.weight), "rollup_weight": float(line.rollup_weight),
                                 "score": _number(line.score)}) for line in found.children])


def action_public(action: Action) -> ActionPublic:
    spec = action.spec
    return ActionPublic(trigger=spec.trigger, label=spec.label, to=spec.dest, to_label=action.dest_label,
                        role=action.role, comment_required=spec.comment_required,
                        fields=[field_public(f) for f in spec.fields])
