"""Supervision pages: issue a 督办单, give a 整改 item, add a checkpoint, print a notice, simulate a plan's year (office)."""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import Id, SessionDep
from api.web.auth import WebViewer, check_csrf
from api.web.pages import STATUS, _error, _page, _target_page
from api.web.render import render
from engine.plans import service as plans, target_checkpoints
from engine.schedule import simulation, supervision
from engine.scoring import rectification
from engine.store.config import settings
from engine.store.errors import DomainError, InvalidPayload
from engine.workflow import targets

router = APIRouter(include_in_schema=False)


def _date(text: object, field: str, label: str) -> date:
    try:
        return date.fromisoformat(str(text or ""))
    except ValueError as exc:
        raise InvalidPayload(f"{label}应为日期（YYYY-MM-DD）", errors=[{"field": field, "reason": "日期格式不对"}]) from exc


def _add(request, session, viewer, target_id: int, form, make) -> Response:
    try:
        targets.get(session=session, target_id=target_id, actor=viewer.actor)  # 404 before the form is read
        created = make()
    except DomainError as exc:
        session.rollback()
        try:
            return _target_page(request, session, viewer, target_id, status_code=STATUS.get(exc.code, 400),
                                error=exc.message)
        except DomainError:
            return _error(request, session, viewer, exc)
    done = "create" if created.id != target_id else "amend"
    return RedirectResponse(f"/targets/{created.id}?done={done}&code={quote(created.code)}", status_code=303)


@router.post("/targets/{target_id}/notices", response_class=HTMLResponse)
async def issue_notice(request: Request, session: SessionDep, viewer: WebViewer, target_id: Id):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    return await run_in_threadpool(_add, request, session, viewer, target_id, form, lambda: supervision.issue(
        session=session, target_id=target_id, actor=viewer.actor, requirement=str(form.get("requirement", "")),
        reply_due=_date(form.get("reply_due"), "reply_due", "回复期限")))


@router.post("/targets/{target_id}/rectifications", response_class=HTMLResponse)
async def open_rectification(request: Request, session: SessionDep, viewer: WebViewer, target_id: Id):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    return await run_in_threadpool(_add, request, session, viewer, target_id, form, lambda: rectification.open_item(
        session=session, target_id=target_id, actor=viewer.actor, requirement=str(form.get("requirement", "")),
        due=_date(form.get("due"), "due", "整改期限")))


@router.post("/targets/{target_id}/checkpoints", response_class=HTMLResponse)
async def add_checkpoint(request: Request, session: SessionDep, viewer: WebViewer, target_id: Id):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))

    def added():
        target_checkpoints.add(session=session, target_id=target_id, actor=viewer.actor, what=str(form.get("what", "")),
                               day=_date(form.get("date"), "date", "节点日期"))
        return targets.get(session=session, target_id=target_id)

    return await run_in_threadpool(_add, request, session, viewer, target_id, form, added)


@router.get("/targets/{target_id}/notice.pdf")
def notice_pdf(request: Request, session: SessionDep, viewer: WebViewer, target_id: Id):
    from weasyprint import HTML

    try:
        view = supervision.printable(session=session, target_id=target_id, actor=viewer.actor)
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    page = render(request, "notice_print.html", v=view).body.decode("utf-8")
    return Response(HTML(string=page).write_pdf(), media_type="application/pdf",
                    headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(view.notice.code)}.pdf"})


@router.get("/plans/{plan_id}/simulate", response_class=HTMLResponse)
def simulate_page(request: Request, session: SessionDep, viewer: WebViewer, plan_id: Id,
                  start: str = "", until: str = "", assume: str = "steady"):
    if not viewer.actor.roles & {"office", "admin"}:
        return render(request, "error.html", status_code=403, viewer=viewer, message="只有绩效办可以运行年度模拟")
    try:
        plans.get(session=session, plan_id=plan_id, actor=viewer.actor)  # another organisation's plan: 404
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    timeline, error = None, ""
    if request.query_params.get("run"):
        try:
            timeline = simulation.simulate(url=settings().database_url, plan_id=plan_id,
                                           start=_date(start, "start", "开始日期") if start else None,
                                           until=_date(until, "until", "结束日期") if until else None, assume=assume)
        except (simulation.SimulationError, DomainError) as exc:
            error = getattr(exc, "message", str(exc))
    return _page(request, viewer, session, "simulate.html", plan_id=plan_id, timeline=timeline, error=error,
                 query={"start": start, "until": until, "assume": assume}, sections=targets.section_names(session))
