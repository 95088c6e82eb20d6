"""Plans: list, one plan with milestones and category totals, import of an assessment table."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from api.deps import Id, IdQuery, Limit, Offset, CurrentActor, CurrentUser, SessionDep, require
from api.problems import responses
from api.schemas import (CategoryPublic, ImportOutcome, MilestonePublic, PlanPublic, PlansPublic, RowErrorPublic,
                         plan_summary)
from engine import plan_import, planfile, plans
from engine.config import settings
from engine.errors import InvalidPayload

router = APIRouter(prefix="/plans", tags=["plans"])


@router.get("", response_model=PlansPublic, responses=responses())
def list_plans(session: SessionDep, _user: CurrentUser, limit: Limit = 50,
               offset: Offset = 0) -> PlansPublic:
    """Plans, newest year first."""
    page, count = plans.listing(session=session, limit=limit, offset=offset)
    return PlansPublic(data=[plan_summary(p) for p in page], count=count)


@router.get("/{plan_id}", response_model=PlanPublic, responses=responses(404))
def get_plan(plan_id: Id, session: SessionDep, _user: CurrentUser) -> PlanPublic:
    """A plan with its milestones and its totals per category."""
    o = plans.overview(session=session, plan_id=plan_id)
    return PlanPublic(**plan_summary(o.plan).model_dump(), total_weight=float(o.total_weight), targets=o.targets,
                      milestones=[MilestonePublic(key=m.key, label=m.label, phrase=m.phrase, due_date=m.due_date)
                                  for m in o.milestones],
                      categories=[CategoryPublic(**c) for c in o.categories])


@router.post("/import", response_model=ImportOutcome, responses=responses(403, 409, 413),
             dependencies=[require("office", "admin")])
async def import_plan(
    session: SessionDep, actor: CurrentActor,
    file: Annotated[UploadFile, File(description="考评表：.xlsx、.csv 或 .yaml")],
    dry_run: Annotated[bool, Form()] = False, force: Annotated[bool, Form()] = False,
    plan_year: Annotated[int | None, Form(ge=2000, le=2100)] = None,
    org: Annotated[str | None, Form(max_length=200)] = None,
) -> ImportOutcome:
    """Import an assessment table; all or nothing. Row errors come back as a list (422)."""
    data = await file.read(settings().max_upload_bytes + 1)
    if len(data) > settings().max_upload_bytes:
        from fastapi import HTTPException

        raise HTTPException(413, f"文件超过 {settings().max_upload_bytes // 1_048_576} MiB")
    name = file.filename or "plan"
    try:
        table = planfile.read(data, name)
    except planfile.PlanFileError as exc:
        raise InvalidPayload(str(exc), errors=[{"row": 0, "column": "文件", "reason": str(exc)}]) from exc
    draft = plan_import.parse(table, name, plan_year=plan_year, org=org)
    if draft.errors:
        raise plan_import.ImportRefused(draft.errors)
    if dry_run:
        return ImportOutcome(ok=True, dry_run=True, targets=len(draft.targets))
    result = plans.apply(session=session, draft=draft, actor=actor, force=force)
    return ImportOutcome(ok=True, dry_run=False, plan_id=result.plan_id, targets=len(draft.targets),
                         created=result.created, updated=result.updated, unchanged=result.unchanged,
                         errors=[RowErrorPublic(**e.__dict__) for e in draft.errors])
