"""The monthly circular (通报) pages: list and draft, review and publish, PDF, xlsx and the public page."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import Id, SessionDep
from api.web.auth import WebViewer, check_csrf
from api.web.pages import _error, _page
from api.web.render import render
from engine.scoring import circulars
from engine.store.errors import DomainError, Forbidden

router = APIRouter(include_in_schema=False)
READERS = {"office", "auditor", "admin"}


def _readable(viewer, circular) -> None:
    """Drafts are the office's (and the auditor's); a published circular is every signed-in person's."""
    if circular.status != "published" and not viewer.actor.roles & READERS:
        raise Forbidden("通报尚未发布", code="out_of_scope")


def _view(session, viewer, circular_id: int):
    found = circulars.get(session=session, circular_id=circular_id, actor=viewer.actor)
    _readable(viewer, found)
    return found


@router.get("/plans/{plan_id}/circulars", response_class=HTMLResponse)
def circular_list(request: Request, session: SessionDep, viewer: WebViewer, plan_id: Id):
    if not viewer.actor.roles & READERS:
        return render(request, "error.html", status_code=403, viewer=viewer, message="只有绩效办和审计人员可以查看通报草稿")
    try:
        found = circulars.of_plan(session=session, plan_id=plan_id, actor=viewer.actor)
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    return _page(request, viewer, session, "circulars.html", plan_id=plan_id, circulars=found)


@router.post("/plans/{plan_id}/circulars")
async def draft(request: Request, session: SessionDep, viewer: WebViewer, plan_id: Id):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    try:
        made = circulars.draft(session=session, plan_id=plan_id, actor=viewer.actor)
    except DomainError as exc:
        session.rollback()
        return _error(request, session, viewer, exc)
    return RedirectResponse(f"/circulars/{made.id}", status_code=303)


@router.get("/circulars/{circular_id}", response_class=HTMLResponse)
def circular_page(request: Request, session: SessionDep, viewer: WebViewer, circular_id: Id):
    try:
        found = _view(session, viewer, circular_id)
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    return _page(request, viewer, session, "circular.html", x=found, c=found.content)


@router.post("/circulars/{circular_id}/publish")
async def publish(request: Request, session: SessionDep, viewer: WebViewer, circular_id: Id):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    try:
        circulars.publish(session=session, circular_id=circular_id, actor=viewer.actor,
                          comment=str(form.get("comment", "")))
    except DomainError as exc:
        session.rollback()
        return _error(request, session, viewer, exc)
    return RedirectResponse(f"/circulars/{circular_id}?done=publish", status_code=303)


def _printed(request, found, *, public: bool) -> str:
    content = circulars.public(found.content) if public else found.content
    return render(request, "circular_print.html", c=content, period=found.period, public=public,
                  comment="" if public else found.comment).body.decode("utf-8")


def _file(data: bytes, media: str, name: str) -> Response:
    return Response(data, media_type=media, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/circulars/{circular_id}/circular.pdf")
def circular_pdf(request: Request, session: SessionDep, viewer: WebViewer, circular_id: Id):
    from weasyprint import HTML

    try:
        found = _view(session, viewer, circular_id)
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    return _file(HTML(string=_printed(request, found, public=False)).write_pdf(), "application/pdf",
                 f"通报-{found.period}.pdf")


@router.get("/circulars/{circular_id}/circular.xlsx")
def circular_xlsx(request: Request, session: SessionDep, viewer: WebViewer, circular_id: Id):
    try:
        found = _view(session, viewer, circular_id)
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    return _file(circulars.xlsx(found.content, period=found.period),
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"通报-{found.period}.xlsx")


@router.get("/circulars/{circular_id}/public.html")
def circular_public(request: Request, session: SessionDep, viewer: WebViewer, circular_id: Id):
    """The public version as one static page (no script, no asset): for the bureau's portal."""
    try:
        found = _view(session, viewer, circular_id)
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    return _file(_printed(request, found, public=True).encode("utf-8"), "text/html; charset=utf-8",
                 f"通报-{found.period}-公开版.html")
