"""Request and response shapes of the API: plans."""
from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from engine.store.models import Plan


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
    #: The workflow id the plan's new targets run on (its newest deployed version).
    workflow: str


class PlanWorkflowUpdate(BaseModel):
    workflow: str = Field(min_length=1, max_length=60, description="已部署的工作流 id")


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
    #: What the person importing should check (names matching no user, likely abbreviations), found before writing.
    warnings: list[str] = []


def plan_summary(plan: Plan) -> PlanSummary:
    return PlanSummary(id=plan.id, org=plan.org, year=plan.year, title=plan.title, workflow=plan.workflow)
