"""Plans: list, one plan with milestones and category totals, import of an assessment table."""
from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, File, Form, Response, UploadFile

from api import report_render
from api.deps import (
    CurrentActor,
    Id,
    Limit,
    Offset,
    SessionDep,
    require,
)
from api.problems import responses
from api.schemas.plans import (
    CategoryPublic,
    ImportOutcome,
    MilestonePublic,
    PlanPublic,
    PlansPublic,
    PlanSummary,
    PlanWorkflowUpdate,
    RowErrorPublic,
    plan_summary,
)
from api.schemas.scores import RankingPublic, ScoresPublic, ranking_public, scores_public
from engine.plans import importer, names
from engine.plans import service as plans
from engine.plans import table as planfile
from engine.scoring import ranking
from engine.scoring import report as report_data
from engine.scoring import sheet as scoring
from engine.store.config import settings
from engine.store import isolation
from engine.store.errors import InvalidPayload, TooLarge

router = APIRouter(prefix="/plans", tags=["plans"])


@router.get("", response_model=PlansPublic, responses=responses())
def list_plans(session: SessionDep, actor: CurrentActor, limit: Limit = 50,
               offset: Offset = 0) -> PlansPublic:
    """The plans of the organisations the caller reads, newest year first."""
    page, count = plans.listing(session=session, limit=limit, offset=offset, actor=actor)
    return PlansPublic(data=[plan_summary(p) for p in page], count=count)


@router.get("/{plan_id}", response_model=PlanPublic, responses=responses(404))
def get_plan(plan_id: Id, session: SessionDep, actor: CurrentActor) -> PlanPublic:
    """A plan with its milestones and its totals per category."""
    o = plans.overview(session=session, plan_id=plan_id, actor=actor)
    return PlanPublic(**plan_summary(o.plan).model_dump(), total_weight=float(o.total_weight), targets=o.targets,
                      milestones=[MilestonePublic(key=m.key, label=m.label, phrase=m.phrase, due_date=m.due_date)
                                  for m in o.milestones],
                      categories=[CategoryPublic(**c) for c in o.categories])


@router.post("/import", response_model=ImportOutcome, responses=responses(403, 409, 413),
             dependencies=[require("office", "admin")])
async def import_plan(
    session: SessionDep, actor: CurrentActor,
    file: Annotated[UploadFile, File(description="考评表：.xlsx、.xls、.docx、.csv 或 .yaml")],
    dry_run: Annotated[bool, Form()] = False, force: Annotated[bool, Form()] = False,
    plan_year: Annotated[int | None, Form(ge=2000, le=2100)] = None,
    org: Annotated[str | None, Form(max_length=200)] = None,
    aliases: Annotated[str | None, Form(max_length=4000, description="科室别名，每行或逗号分隔一条“简称=全称”")] = None,
    weights: Annotated[str | None, Form(max_length=200, description="三级指标表：equal 或 产出=50,效益=30,满意度=20")] = None,
    leader: Annotated[str | None, Form(max_length=100, description="三级指标表：审签的分管领导")] = None,
    section: Annotated[str | None, Form(max_length=100, description="三级指标表：责任科室")] = None,
    workflow: Annotated[str | None, Form(max_length=60, description="计划的目标所用的已部署工作流 id")] = None,
) -> ImportOutcome:
    """Import an assessment table; all or nothing. Row errors come back as a list (422)."""
    data = await file.read(settings().max_upload_bytes + 1)
    if len(data) > settings().max_upload_bytes:
        limit = f"{settings().max_upload_bytes // 1_048_576} MiB"
        raise TooLarge(f"文件超过 {limit}", limit=f"上传文件最多 {limit}")
    name = file.filename or "plan"
    try:  # read in a limited child process, off the event loop: a hostile file freezes nothing
        draft = await to_thread.run_sync(partial(isolation.run, importer.read_file, data, name,
                                                 plan_year=plan_year, org=org,
                                                 aliases=importer.parse_aliases([aliases or ""]),
                                                 weights=weights, leader=leader, section=section))
    except planfile.TableTooLarge as exc:
        raise TooLarge(str(exc), limit=exc.limit) from exc
    except planfile.PlanFileError as exc:
        raise InvalidPayload(str(exc), errors=[{"row": 0, "column": "文件", "reason": str(exc)}]) from exc
    if draft.errors:
        raise importer.ImportRefused(draft.errors)
    draft.workflow = workflow or None
    warnings = names.review(session=session, draft=draft)
    if dry_run:
        return ImportOutcome(ok=True, dry_run=True, targets=len(draft.targets), warnings=warnings)
    result = await to_thread.run_sync(partial(plans.apply, session=session, draft=draft, actor=actor, force=force))
    return ImportOutcome(ok=True, dry_run=False, plan_id=result.plan_id, targets=len(draft.targets),
                         created=result.created, updated=result.updated, unchanged=result.unchanged,
                         errors=[RowErrorPublic(**e.__dict__) for e in draft.errors], warnings=warnings)


@router.put("/{plan_id}/workflow", response_model=PlanSummary, responses=responses(403, 404),
            dependencies=[require("office", "admin")])
def set_workflow(plan_id: Id, body: PlanWorkflowUpdate, session: SessionDep, actor: CurrentActor) -> PlanSummary:
    """Name the deployed workflow the plan's new targets run on (404 for an id not deployed); audited."""
    return plan_summary(plans.set_workflow(session=session, plan_id=plan_id, workflow=body.workflow, actor=actor))


@router.get("/{plan_id}/scores", response_model=ScoresPublic, responses=responses(404))
def scores(plan_id: Id, session: SessionDep, actor: CurrentActor) -> ScoresPublic:
    """The score sheet: every target with its scores, totals per category, indicator, section and plan, grades."""
    return scores_public(scoring.sheet(session=session, plan_id=plan_id, actor=actor))


@router.get("/{plan_id}/ranking", response_model=RankingPublic, responses=responses(404))
def plan_ranking(plan_id: Id, session: SessionDep, actor: CurrentActor,
                 by: Literal["score_rate", "on_time_rate", "overdue"] = "score_rate") -> RankingPublic:
    """The ranking (排名) of the plan's organisation's children for the plan's year, as the evaluation report
    shows it: score rate, on-time rate and overdue count, each child with the organisations below it."""
    plan = plans.get(session=session, plan_id=plan_id, actor=actor)
    return ranking_public(plan.id, by, ranking.of(session=session, org_id=plan.org_id, year=plan.year, by=by))


REPORT_MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/{plan_id}/report", response_class=Response, responses={**responses(404), 200: {
    "content": {media.split(";")[0]: {} for media in REPORT_MEDIA.values()}}})
def report(plan_id: Id, session: SessionDep, actor: CurrentActor,
           format: Literal["html", "pdf", "xlsx"] = "html") -> Response:  # noqa: A002
    """The evaluation report (绩效评估报告) as HTML, PDF or xlsx (the assessment table with the score columns)."""
    if format == "xlsx":
        data = report_data.xlsx(session=session, plan_id=plan_id, actor=actor)
    else:
        built = report_data.build(session=session, plan_id=plan_id, actor=actor)
        data = report_render.pdf(built) if format == "pdf" else report_render.html(built).encode("utf-8")
    headers = {} if format == "html" else {"Content-Disposition": f'attachment; filename="report-{plan_id}.{format}"'}
    return Response(data, media_type=REPORT_MEDIA[format], headers=headers)
