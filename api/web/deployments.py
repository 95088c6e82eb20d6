"""The admin's deployments page: every deployed version of every workflow, and a form to deploy a new one."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import SessionDep
from api.web.admin import _admin
from api.web.auth import WebViewer, checked_form
from api.web.pages import _page
from engine.bpmn import reader
from engine.store.config import settings
from engine.store.errors import DomainError, Forbidden, NotFound
from engine.plans import service as plans
from engine.workflow import definitions, deployments

router = APIRouter(include_in_schema=False)


def _pairs(text: str) -> dict[str, str]:
    """``a=b`` pairs, one a line or separated by commas, as written in the form's box."""
    found = {}
    for part in text.replace("，", ",").replace("\n", ",").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip() and value.strip():
            found[key.strip()] = value.strip()
    return found


PLANS_SHOWN = 200


def _deployments_page(request, session, viewer, *, status_code=200, errors=(), notice="", typed=None, plan_errors=()):
    rows = deployments.listing(session=session)
    shown, _ = plans.listing(session=session, limit=PLANS_SHOWN, offset=0, actor=viewer.actor)
    return _page(request, viewer, session, "admin_deployments.html", status_code=status_code,
                 rows=rows, counts=deployments.counts(session=session), plans=shown,
                 workflow_ids=sorted({r.workflow for r in rows} | set(definitions.shipped())),
                 errors=list(errors), notice=notice, typed=typed or {}, plan_errors=list(plan_errors))


@router.get("/admin/deployments", response_class=HTMLResponse)
def deployments_page(request: Request, session: SessionDep, viewer: WebViewer,
                     done: Annotated[str, Query(max_length=200)] = ""):
    _admin(viewer)
    return _deployments_page(request, session, viewer, notice=done)


@router.post("/admin/deployments", response_class=HTMLResponse)
async def deploy(request: Request, session: SessionDep, viewer: WebViewer):
    _admin(viewer)
    form = await checked_form(request, viewer)
    typed = {key: str(form.get(key) or "")[:2000] for key in ("effect_map", "role_map")}
    typed["lenient"] = bool(form.get("lenient"))
    file = form.get("file")
    if file is None or isinstance(file, str) or not file.filename:
        return _deployments_page(request, session, viewer, status_code=422, errors=["请选择要部署的 .yaml 或 .bpmn 文件"],
                                 typed=typed)
    data = await file.read(settings().max_upload_bytes + 1)
    if len(data) > settings().max_upload_bytes:
        return _deployments_page(request, session, viewer, status_code=413, typed=typed,
                                 errors=[f"文件超过 {settings().max_upload_bytes // 1_048_576} MiB"])
    fmt = "bpmn" if file.filename.lower().endswith((".bpmn", ".xml")) else "yaml"
    try:
        done = await run_in_threadpool(reader.deploy, session=session, data=data, filename=file.filename[:200], fmt=fmt,
                                       lenient=typed["lenient"], role_map=_pairs(typed["role_map"]),
                                       effect_map=_pairs(typed["effect_map"]), actor=viewer.actor.name, role="admin")
    except DomainError as exc:
        reasons = [e["reason"] for e in exc.details.get("errors") or []] or [exc.message]
        return _deployments_page(request, session, viewer, status_code=422, errors=reasons, typed=typed)
    row = done.deployment
    notice = f"已部署 {row.workflow} 第 {row.version} 版" if done.new else f"{row.workflow} 第 {row.version} 版与此文件相同，未部署新版本"
    return RedirectResponse(f"/admin/deployments?done={quote(notice)}", status_code=303)


@router.post("/admin/plans/{plan_id}/workflow", response_class=HTMLResponse)
async def plan_workflow(request: Request, session: SessionDep, viewer: WebViewer, plan_id: int):
    """Name the deployed workflow a plan's new targets run on."""
    _admin(viewer)
    form = await checked_form(request, viewer)
    workflow = str(form.get("workflow") or "").strip()[:60]
    try:
        plan = await run_in_threadpool(plans.set_workflow, session=session, plan_id=plan_id, workflow=workflow,
                                       actor=viewer.actor)
    except Forbidden:
        raise  # a parent's office reads the plan but may not change it: the error page
    except DomainError as exc:
        if isinstance(exc, NotFound) and "plan_id" in exc.details:
            raise  # another organisation's plan, or none: the error page, never the form
        return _deployments_page(request, session, viewer, status_code=422, plan_errors=[exc.message])
    notice = f"计划“{plan.title}”的新目标将按工作流 {plan.workflow} 的最新版本运行"
    return RedirectResponse(f"/admin/deployments?done={quote(notice)}", status_code=303)
