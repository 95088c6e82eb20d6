"""The office's and the admin's calendar page: holidays and make-up working days of the official notice."""
from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import SessionDep
from api.web.auth import Viewer, WebViewer, checked_form
from api.web.pages import STATUS, _page
from engine.schedule import holidays
from engine.store import db
from engine.store.errors import DomainError, InvalidPayload

router = APIRouter(include_in_schema=False)


class CalendarNotAllowed(Exception):
    pass


def _office_or_admin(viewer: Viewer) -> None:
    if not viewer.actor.roles & {"office", "admin"}:
        raise CalendarNotAllowed


def _calendar_page(request, session, viewer, *, status_code=200, error="", typed=None, notice=""):
    return _page(request, viewer, session, "calendar.html", status_code=status_code, error=error,
                 days=holidays.entered(session=session), warnings=holidays.warnings(session=session),
                 labels=holidays.LABELS, typed=typed or {}, notice=notice)


@router.get("/admin/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, session: SessionDep, viewer: WebViewer,
                  done: Annotated[str, Query(max_length=200)] = ""):
    _office_or_admin(viewer)
    return _calendar_page(request, session, viewer, notice=done)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidPayload(f"日期“{text}”应写作 2027-10-01", errors=[{"field": "day", "reason": "日期格式不对"}]) from exc


def _apply(session, viewer: Viewer, what: str, form) -> str:
    """Carry out one form of the page through the audited engine commands, in one transaction; the notice."""
    db.begin_write(session)
    try:
        notice = _change(session, viewer, what, form)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return notice


def _change(session, viewer: Viewer, what: str, form) -> str:
    if what == "set":
        day, kind = _day(str(form.get("day", ""))), str(form.get("kind", ""))
        holidays.set_day(session=session, day=day, kind=kind, name=str(form.get("name", ""))[:60], actor=viewer.actor)
        return f"已将 {day} 设为{holidays.LABELS.get(kind, kind)}"
    if what == "clear":
        day = _day(str(form.get("day", "")))
        cleared = holidays.clear_day(session=session, day=day, actor=viewer.actor)
        return f"已清除 {day} 的设置" if cleared else f"{day} 没有设置，未作改动"
    if what == "import":
        entries = holidays.import_notice(session=session, text=str(form.get("notice", ""))[:100_000], actor=viewer.actor)
        return f"已导入 {len(entries)} 天"
    raise InvalidPayload("未知的操作", errors=[{"field": "what", "reason": "未知的操作"}])


@router.post("/admin/calendar", response_class=HTMLResponse)
async def change_calendar(request: Request, session: SessionDep, viewer: WebViewer):
    _office_or_admin(viewer)
    form = await checked_form(request, viewer)
    what = str(form.get("what", ""))
    try:
        notice = await run_in_threadpool(_apply, session, viewer, what, form)
    except DomainError as exc:
        typed = {k: str(form.get(k, ""))[:100_000] for k in ("day", "kind", "name", "notice")}
        return _calendar_page(request, session, viewer, status_code=STATUS.get(exc.code, 422), error=exc.message,
                              typed=typed)
    return RedirectResponse(f"/admin/calendar?done={quote(notice)}", status_code=303)
