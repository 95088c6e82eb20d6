"""The office's plan import page: upload a plan file or a work-point document, review the draft, fix, import."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.web.auth import WebViewer, check_csrf
from api.web.pages import _page
from api.deps import SessionDep
from engine.plans import draft as drafts, importer, service
from engine.plans.table import LABELS, PlanFileError
from engine.store.config import settings
from engine.store.errors import DomainError

router = APIRouter(include_in_schema=False)
MAX_ROWS = 2000
FIELDS_PER_ROW = len(drafts.COLUMNS) + 1  # the cells and the row's marks


def _allowed(viewer) -> bool:
    return bool(viewer.actor.roles & {"office", "admin"})


def _show(request, viewer, session, *, status_code=200, **context):
    if not _allowed(viewer):
        return _page(request, viewer, session, "error.html", status_code=403, message="只有绩效办和管理员可以导入计划")
    context.setdefault("draft", None)
    context.setdefault("errors", [])
    context.setdefault("done", None)
    context.setdefault("filename", "")
    return _page(request, viewer, session, "plan_import.html", status_code=status_code, columns=drafts.COLUMNS,
                 labels=LABELS, marks=(drafts.GUESSED, drafts.TO_FILL), **context)


@router.get("/plans/import", response_class=HTMLResponse)
def import_page(request: Request, session: SessionDep, viewer: WebViewer):
    return _show(request, viewer, session)


@router.post("/plans/import", response_class=HTMLResponse)
async def upload(request: Request, session: SessionDep, viewer: WebViewer):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    file = form.get("file")
    if not _allowed(viewer) or file is None or isinstance(file, str) or not file.filename:
        return _show(request, viewer, session, status_code=422 if _allowed(viewer) else 403, error="请选择要上传的文件")
    data = await file.read(settings().max_upload_bytes + 1)
    if len(data) > settings().max_upload_bytes:
        return _show(request, viewer, session, status_code=413, error=f"文件超过 {settings().max_upload_bytes // 1_048_576} MiB")
    options = {key: (str(form.get(key) or "").strip() or None) for key in ("weights", "leader", "section")}
    year = str(form.get("plan_year") or "").strip()
    try:
        found = await run_in_threadpool(drafts.from_upload, data, file.filename,
                                        plan_year=int(year) if year.isdigit() else None, **options)
    except PlanFileError as exc:
        return _show(request, viewer, session, status_code=422, error=str(exc), filename=file.filename)
    return _show(request, viewer, session, draft=found, filename=file.filename)


@router.post("/plans/import/apply", response_class=HTMLResponse)
async def apply(request: Request, session: SessionDep, viewer: WebViewer):
    form = await request.form(max_fields=MAX_ROWS * FIELDS_PER_ROW + 20)
    check_csrf(viewer, form.get("csrf"))
    if not _allowed(viewer):
        return _show(request, viewer, session)
    return await run_in_threadpool(_apply, request, session, viewer, form)


def _edited(form) -> drafts.Draft:
    count = min(int(form.get("rows") or 0) if str(form.get("rows") or "").isdigit() else 0, MAX_ROWS)
    rows = []
    for i in range(count):
        cells = {c: str(form.get(f"r{i}.{c}") or "")[:8000] for c in drafts.COLUMNS}
        how = dict(part.split("=", 1) for part in str(form.get(f"r{i}.how") or "").split(";") if "=" in part)
        rows.append(drafts.DraftRow(cells, how))
    year = str(form.get("plan_year") or "").strip()
    return drafts.Draft(str(form.get("title") or "")[:300], str(form.get("org") or "").strip()[:200],
                        int(year) if year.isdigit() else 0, rows)


def _apply(request, session, viewer, form):
    edited = _edited(form)
    filename = str(form.get("filename") or "plan")[:200]
    table = drafts.to_table([row.cells for row in edited.rows], edited.title)
    plan = importer.parse(table, filename, plan_year=edited.year or None, org=edited.org or None)
    if plan.errors:
        return _show(request, viewer, session, status_code=422, draft=edited, errors=plan.errors, filename=filename,
                     error=f"计划未导入（未写入任何数据），共 {len(plan.errors)} 处错误，请修改后重新导入")
    try:
        result = service.apply(session=session, draft=plan, actor=viewer.actor, force=form.get("force") == "on")
    except DomainError as exc:  # e.g. a change to a target already under way, without 强制
        session.rollback()
        errors = exc.errors if isinstance(exc, importer.ImportRefused) else []
        return _show(request, viewer, session, status_code=409, draft=edited, errors=errors, filename=filename,
                     error=exc.message)
    return _show(request, viewer, session, done={"plan_id": result.plan_id, "org": plan.org, "year": plan.year,
                                                 "title": plan.title, "created": result.created,
                                                 "updated": result.updated, "unchanged": result.unchanged})
