"""Admin pages (users, sections) and every user's own password: the audited engine commands the CLI uses."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import Id, SessionDep
from api.web.auth import Viewer, WebViewer, checked_form
from api.web.pages import STATUS, _page
from engine.plans import staffing
from engine.people import organisations, users
from engine.people.roles import ROLES
from engine.store.errors import DomainError

router = APIRouter(include_in_schema=False)
PAGE = 200


class AdminOnly(Exception):
    pass


def _admin(viewer: Viewer) -> None:
    if "admin" not in viewer.actor.roles:
        raise AdminOnly


def _problems(exc: DomainError) -> dict[str, str]:
    """Each error beside the field it concerns; the rest at the top of the form."""
    return {e.get("field", ""): e.get("reason", "") for e in exc.details.get("errors") or []}


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.replace("，", "、").replace(",", "、").split("、") if n.strip()]


def _users_page(request, session, viewer, *, status_code=200, error="", problems=None, typed=None, notice=""):
    found, count = users.listing(session=session, limit=PAGE, offset=0, actor=viewer.actor)
    return _page(request, viewer, session, "admin_users.html", status_code=status_code, error=error,
                 people=found, count=count, sections_of=users.sections_of(session, [u.id for u in found]),
                 sections=users.list_sections(session=session, actor=viewer.actor), roles=ROLES, problems=problems or {},
                 typed=typed or {}, notice=notice)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, viewer: WebViewer,
               done: Annotated[str, Query(max_length=200)] = ""):
    _admin(viewer)
    return _users_page(request, session, viewer, notice=done)


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user(request: Request, session: SessionDep, viewer: WebViewer):
    _admin(viewer)
    form = await checked_form(request, viewer)
    return await run_in_threadpool(_add_user, request, session, viewer, form)


def _add_user(request, session, viewer, form):
    name = str(form.get("name", ""))[:100]
    sections = [str(s) for s in form.getlist("sections")] + _names(str(form.get("new_sections", ""))[:500])
    try:
        staffing.register(session=session, by=viewer.actor, name=name, roles=[str(r) for r in form.getlist("roles")],
                        sections=sections, password=str(form.get("password", ""))[:200] or None,
                        email=str(form.get("email", "")).strip()[:300] or None)
    except DomainError as exc:
        return _users_page(request, session, viewer, status_code=STATUS.get(exc.code, 422), error=exc.message,
                           problems=_problems(exc), typed={"name": name, "email": form.get("email", ""),
                                                           "roles": form.getlist("roles"), "sections": sections})
    return RedirectResponse(f"/admin/users?done={quote(f'已新增用户 {name.strip()}')}", status_code=303)


def _user_page(request, session, viewer, user_id: int, *, status_code=200, error="", problems=None, notice=""):
    try:
        user = users.get(session=session, user_id=user_id, actor=viewer.actor)
    except DomainError as exc:
        return _page(request, viewer, session, "error.html", status_code=404, message=exc.message)
    return _page(request, viewer, session, "admin_user.html", status_code=status_code, error=error, person=user,
                 mine=users.sections_of(session, [user.id])[user.id], sections=users.list_sections(session=session, actor=viewer.actor),
                 roles=ROLES, problems=problems or {}, notice=notice)


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(request: Request, session: SessionDep, viewer: WebViewer, user_id: Id,
              done: Annotated[str, Query(max_length=200)] = ""):
    _admin(viewer)
    return _user_page(request, session, viewer, user_id, notice=done)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
async def edit_user(request: Request, session: SessionDep, viewer: WebViewer, user_id: Id):
    _admin(viewer)
    form = await checked_form(request, viewer)
    return await run_in_threadpool(_edit_user, request, session, viewer, user_id, form)


def _edit_user(request, session, viewer, user_id: int, form):
    what = str(form.get("what", "edit"))
    try:
        if what == "password":
            staffing.update(session=session, by=viewer.actor, user_id=user_id,
                               password=str(form.get("password", ""))[:200])
            notice = "已重置密码；该用户此前的登录已失效"
        elif what in ("disable", "enable"):
            if what == "disable" and user_id == viewer.user.id:
                return _user_page(request, session, viewer, user_id, status_code=422, error="不能停用自己的账号")
            staffing.update(session=session, by=viewer.actor, user_id=user_id, active=what == "enable")
            notice = "已启用该用户" if what == "enable" else "已停用该用户，其不能再登录"
        else:
            sections = [str(s) for s in form.getlist("sections")] + _names(str(form.get("new_sections", ""))[:500])
            staffing.update(session=session, by=viewer.actor, user_id=user_id,
                               roles=[str(r) for r in form.getlist("roles")], sections=sections,
                               email=str(form.get("email", "")).strip()[:300])
            notice = "已保存角色、科室和邮箱"
    except DomainError as exc:
        return _user_page(request, session, viewer, user_id, status_code=STATUS.get(exc.code, 422), error=exc.message,
                          problems=_problems(exc))
    return RedirectResponse(f"/admin/users/{user_id}?done={quote(notice)}", status_code=303)


@router.get("/admin/sections", response_class=HTMLResponse)
def sections_page(request: Request, session: SessionDep, viewer: WebViewer,
                  done: Annotated[str, Query(max_length=200)] = ""):
    _admin(viewer)
    return _page(request, viewer, session, "admin_sections.html", sections=users.list_sections(session=session, actor=viewer.actor),
                 notice=done, problems={}, typed="")


@router.post("/admin/sections", response_class=HTMLResponse)
async def add_section(request: Request, session: SessionDep, viewer: WebViewer):
    _admin(viewer)
    form = await checked_form(request, viewer)
    name = str(form.get("name", ""))[:200]
    try:
        await run_in_threadpool(staffing.add_section, session=session, by=viewer.actor, name=name)
    except DomainError as exc:
        return _page(request, viewer, session, "admin_sections.html", status_code=STATUS.get(exc.code, 422),
                     error=exc.message, sections=users.list_sections(session=session, actor=viewer.actor), notice="",
                     problems=_problems(exc) or {"name": exc.message}, typed=name)
    return RedirectResponse(f"/admin/sections?done={quote(f'已新增科室 {name.strip()}')}", status_code=303)


def _organisations_page(request, session, viewer, *, status_code=200, error="", problems=None, typed=None, notice=""):
    return _page(request, viewer, session, "admin_organisations.html", status_code=status_code, error=error,
                 found=organisations.listing(session, viewer.actor), kinds=organisations.KIND_LABELS,
                 problems=problems or {}, typed=typed or {}, notice=notice)


@router.get("/admin/organisations", response_class=HTMLResponse)
def organisations_page(request: Request, session: SessionDep, viewer: WebViewer,
                       done: Annotated[str, Query(max_length=200)] = ""):
    _admin(viewer)
    return _organisations_page(request, session, viewer, notice=done)


@router.post("/admin/organisations", response_class=HTMLResponse)
async def add_organisation(request: Request, session: SessionDep, viewer: WebViewer):
    _admin(viewer)
    form = await checked_form(request, viewer)
    typed = {key: str(form.get(key, "")).strip()[:200] for key in ("name", "parent", "kind")}
    try:
        await run_in_threadpool(staffing.add_organisation, session=session, by=viewer.actor, name=typed["name"],
                                parent=typed["parent"] or None, kind=typed["kind"] or "county")
    except DomainError as exc:
        return _organisations_page(request, session, viewer, status_code=STATUS.get(exc.code, 422), error=exc.message,
                                   problems=_problems(exc) or {"name": exc.message}, typed=typed)
    added = f"已新增组织 {typed['name']}"
    return RedirectResponse(f"/admin/organisations?done={quote(added)}", status_code=303)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, session: SessionDep, viewer: WebViewer,
                  done: Annotated[str, Query(max_length=200)] = ""):
    return _page(request, viewer, session, "password.html", notice=done, problems={})


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, session: SessionDep, viewer: WebViewer):
    form = await checked_form(request, viewer)
    new, again = str(form.get("new", ""))[:200], str(form.get("again", ""))[:200]
    if new != again:
        return _page(request, viewer, session, "password.html", status_code=422, error="两次输入的新密码不一致",
                     notice="", problems={"again": "两次输入的新密码不一致"})
    try:
        await run_in_threadpool(staffing.change_own_password, session=session, user_id=viewer.user.id,
                                current=str(form.get("current", ""))[:200], new=new)
    except DomainError as exc:
        return _page(request, viewer, session, "password.html", status_code=STATUS.get(exc.code, 422),
                     error=exc.message, notice="", problems=_problems(exc))
    return RedirectResponse("/login?done=password", status_code=303)  # the new password ended this session too
