"""Pages of the performance office and the auditor: audit search, export and verify; workflows; dynamic targets."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlmodel import Session
from starlette.datastructures import UploadFile

from api.deps import MAX_ID, Id, SessionDep
from api.routers.audit import export_response
from api.web.auth import Viewer, WebViewer, check_csrf
from api.web.diagram import svg
from api.web.pages import STATUS, _page
from api.web.render import render
from engine.audit import chain as audit, chain_check, checkpoints
from engine.calendar import clock
from engine.people import scope
from engine.scoring import dashboard
from engine.workflow import definitions, targets
from engine.plans import importer, names as plan_names, service as plans, table as planfile
from engine.plans.importer import split_names
from engine.store.config import settings
from engine.store.errors import DomainError

router = APIRouter(include_in_schema=False)
PAGE = 50
Text = Annotated[str | None, Query(max_length=100)]


class NotAllowed(Exception):
    pass


def _office_or_auditor(viewer: Viewer) -> None:
    if not viewer.actor.roles & {"office", "auditor"}:
        raise NotAllowed


def _when(text: str | None, end: bool = False) -> datetime | None:
    """A date or date-time typed in a filter, as local time; an end date means the whole day."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if not 1900 <= moment.year <= 9999:
        return None
    if end and len(text) <= 10:
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment.replace(tzinfo=clock.ZONE) if moment.tzinfo is None else moment


def _filters(actor, section, trigger, target, since, until, code=None, state=None, *,
             within=None) -> audit.AuditFilter:
    return audit.AuditFilter(within=within, actor=actor or None, section=section or None, trigger=trigger or None,
                             target_id=int(target) if target and re.fullmatch(r"[0-9]{1,9}", target) else None,
                             since=_when(since), until=_when(until, end=True), code=code or None, state=state or None)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, viewer: WebViewer, actor: Text = None, section: Text = None,
               trigger: Text = None, target: Text = None, since: Text = None, until: Text = None,
               code: Text = None, state: Text = None,
               page: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None, check: bool = False,
               after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
               before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None):
    """The records page by page by keyset (after or before a record id): the same cost at any depth, and
    no count of the matching records (only the whole chain's, which its head keeps)."""
    _office_or_auditor(viewer)
    filters = _filters(actor, section, trigger, target, since, until, code, state,
                       within=scope.audit_within(session, viewer.actor))
    keep = ("page", "check", "after", "before")
    query = "&".join(f"{k}={quote(v)}" for k, v in request.query_params.items() if k not in keep)
    if before is not None:
        records, previous = audit.page_before(session=session, filters=filters, before=before, limit=PAGE)
        next_after = records[-1].id if records else None
    else:
        records, next_after = audit.page_after(session=session, filters=filters, after=after or 0, limit=PAGE)
        previous = records[0].id if records and after else None
    if page is None and after is None and before is None:
        page = 1
    return _page(request, viewer, session, "audit.html", records=records, page=page, query=query,
                 next_after=next_after, previous=previous, after=after if before is None else None,
                 count=_whole_count(session, viewer, filters) if page == 1 else None,
                 values={"actor": actor or "", "section": section or "", "trigger": trigger or "",
                         "target": target or "", "since": since or "", "until": until or "", "code": code or "",
                         "state": state or ""},
                 check=chain_check.status(session) if check and scope.reads_everything(session, viewer.actor) else None,
                 codes=audit.target_codes(session, records), labels=definitions.audit_labels(),
                 key=checkpoints.public_key_info(), checkpoint=checkpoints.latest(session))


def _whole_count(session, viewer, filters: audit.AuditFilter) -> int | None:
    """How many records the first page of the whole chain leads: the chains' heads keep it (no count of
    the records). Only for a reader of every organisation with nothing but their scope narrowing; else none."""
    if not _only_scoped(filters) or not scope.reads_everything(session, viewer.actor):
        return None
    return audit.count(session=session, filters=replace(filters, within=None))  # their scope is everything


def _only_scoped(filters: audit.AuditFilter) -> bool:
    """Whether nothing but the caller's organisation scope narrows ``filters``."""
    return not any(v for k, v in vars(filters).items() if k != "within")


@router.post("/audit/verify")
async def verify(request: Request, viewer: WebViewer):
    """Start the chain check in the background (or join the one running); the page shows its progress."""
    _office_or_auditor(viewer)
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    await run_in_threadpool(_start_check, request.app.state.engine, viewer)
    return RedirectResponse("/audit?check=true", status_code=303)


def _start_check(bind, viewer: Viewer) -> None:
    with Session(bind, expire_on_commit=False) as session:
        if not scope.reads_everything(session, viewer.actor):  # the whole chain holds every organisation's records
            raise HTTPException(403, "只有部署顶级单位的绩效办或审计员可以校验整条审计链")
        job, new = chain_check.start(session=session, by=viewer.user.name)
    if new:
        chain_check.launch(bind, job)


@router.get("/audit/export")
def export(session: SessionDep, viewer: WebViewer, format: Annotated[str, Query(pattern="^(csv|xlsx|json)$")] = "csv",
           actor: Text = None, section: Text = None, trigger: Text = None, target: Text = None, since: Text = None,
           until: Text = None, code: Text = None, state: Text = None):
    _office_or_auditor(viewer)
    return export_response(session, format, _filters(actor, section, trigger, target, since, until, code, state,
                                                     within=scope.audit_within(session, viewer.actor)))


@router.get("/workflows", response_class=HTMLResponse)
def workflows(request: Request, session: SessionDep, viewer: WebViewer):
    found = list(definitions.shipped().values())
    return _page(request, viewer, session, "workflows.html", definitions=found,
                 diagrams={d.id: svg(d) for d in found})


@router.get("/workflows/{workflow_id}.{fmt}")
def workflow_file(viewer: WebViewer, workflow_id: str, fmt: str):
    """A shipped definition as its YAML file or as BPMN 2.0 (with a diagram) for modelling tools."""
    from engine.bpmn.writer import export_bpmn

    if workflow_id not in definitions.shipped() or fmt not in ("yaml", "bpmn"):
        return Response("没有这个文件", status_code=404, media_type="text/plain; charset=utf-8")
    if fmt == "yaml":
        data = definitions.source_text(workflow_id).encode("utf-8")
        media = "application/yaml; charset=utf-8"
    else:
        data, media = export_bpmn(definitions.get(workflow_id)), "application/xml"
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{workflow_id}.{fmt}"'})


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
def workflow(request: Request, session: SessionDep, viewer: WebViewer, workflow_id: str):
    if workflow_id not in definitions.shipped():
        return render(request, "error.html", status_code=404, viewer=viewer, message="没有这个工作流",
                      unread=dashboard.unread(session, viewer.user.id))
    d = definitions.get(workflow_id)
    return _page(request, viewer, session, "workflow.html", d=d, diagram=svg(d))


@router.post("/targets/new", response_class=HTMLResponse)
async def new_target(request: Request, session: SessionDep, viewer: WebViewer):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    return await run_in_threadpool(_new_target, request, session, viewer, form)


def _plan_id(raw) -> int:
    """The plan a form names; 0 (no such plan) for anything but a plain id a database integer holds."""
    text = str(raw or "")
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else 0


def _new_target(request, session, viewer, form):
    names = lambda key: split_names(str(form.get(key, "")))  # noqa: E731 - 各县(市、区)教育局 stays one
    try:
        added = plans.add_dynamic(
            session=session, plan_id=_plan_id(form.get("plan_id")), actor=viewer.actor,
            code=str(form.get("code", "")).strip()[:40], text=str(form.get("text", "")).strip()[:4000],
            weight=str(form.get("weight", "")).strip()[:20], reason=str(form.get("reason", "")).strip()[:2000],
            deadline_phrase=str(form.get("deadline", "")).strip()[:60], sections=names("sections"),
            leaders=names("leaders"), persons=names("persons"))
    except (DomainError, ValueError) as exc:
        session.rollback()
        message = exc.message if isinstance(exc, DomainError) else "填写有误"
        return _page(request, viewer, session, "home.html", status_code=STATUS.get(getattr(exc, "code", ""), 422),
                     parts={"office": dashboard.office_home(session, viewer.actor)}, messages=[], error=message,
                     new_form={k: v for k, v in form.items() if isinstance(v, str)},
                     narrowed={"q": "", "section": ""}, section_names=targets.section_names(session, viewer.actor))
    # The warnings are kept in the creation record; the target's page shows them from there.
    return RedirectResponse(f"/targets/{added.target.id}?done=create", status_code=303)


@router.post("/plans/import/table", response_class=HTMLResponse)
async def import_plan(request: Request, session: SessionDep, viewer: WebViewer):
    """The office imports an assessment table at once (the home page's form; /plans/import reviews a draft
    first); the page shows what to check (warnings) and every row error."""
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    if not viewer.actor.roles & {"office", "admin"}:
        raise NotAllowed
    upload = form.get("file")
    data = await upload.read(settings().max_upload_bytes + 1) if isinstance(upload, UploadFile) else b""
    return await run_in_threadpool(_import_plan, request, session, viewer, form, data,
                                   getattr(upload, "filename", "") or "plan")


def _import_plan(request, session, viewer, form, data: bytes, name: str):
    outcome: dict = {"name": name, "dry_run": bool(form.get("dry_run")), "errors": [], "warnings": [], "result": None}
    try:
        if len(data) > settings().max_upload_bytes:
            raise planfile.PlanFileError(f"文件超过 {settings().max_upload_bytes // 1_048_576} MiB")
        year = str(form.get("plan_year", "")).strip()
        draft = importer.parse(planfile.read(data, name), name, org=str(form.get("org", "")).strip()[:200] or None,
                               plan_year=int(year) if re.fullmatch(r"20[0-9]{2}", year) else None,
                               aliases=importer.parse_aliases([str(form.get("aliases", ""))[:4000]]))
        outcome["errors"] = [str(e) for e in draft.errors]
        if not draft.errors:
            outcome["warnings"] = plan_names.review(session=session, draft=draft)
            outcome["draft"] = draft
            if not outcome["dry_run"]:
                outcome["result"] = plans.apply(session=session, draft=draft, actor=viewer.actor,
                                                force=bool(form.get("force")))
    except planfile.PlanFileError as exc:
        outcome["errors"] = [str(exc)]
    except importer.ImportRefused as exc:
        session.rollback()
        outcome["errors"] = [str(e) for e in exc.errors]
    return _page(request, viewer, session, "import.html", outcome=outcome, aliases=str(form.get("aliases", ""))[:4000],
                 status_code=422 if outcome["errors"] else 200)


@router.get("/plans/{plan_id}/report", response_class=HTMLResponse)
def report_page(session: SessionDep, viewer: WebViewer, plan_id: Id):
    """The evaluation report as a page of its own (print-ready), for everyone who may see the plan."""
    from api import report_render
    from engine.scoring import report

    return HTMLResponse(report_render.html(report.build(session=session, plan_id=plan_id, actor=viewer.actor)))


@router.get("/plans/{plan_id}/report.{fmt}")
def report_file(session: SessionDep, viewer: WebViewer, plan_id: Id, fmt: str):
    from api import report_render
    from engine.scoring import report

    if fmt == "pdf":
        data, media = report_render.pdf(report.build(session=session, plan_id=plan_id, actor=viewer.actor)), "application/pdf"
    elif fmt == "xlsx":
        data = report.xlsx(session=session, plan_id=plan_id, actor=viewer.actor)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        return Response("不支持的格式", status_code=404, media_type="text/plain; charset=utf-8")
    name = f"report-{plan_id}.{fmt}"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
