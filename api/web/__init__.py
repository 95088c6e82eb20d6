"""The web pages (Jinja2, Chinese, server-rendered): every page calls the same engine functions as the API."""
from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    """Mount the pages, the static files, and the handlers that turn page errors into pages."""
    from api.web import admin, auth, bulk, calendar, circulars, deployments, docs, drafts, handdown, office, pages, supervision
    from api.web.render import render

    app.mount("/static", StaticFiles(directory=str(resources.files("api").joinpath("static"))), name="static")
    for module in (auth, pages, handdown, office, drafts, bulk, admin, deployments, calendar, docs, supervision, circulars):
        app.include_router(module.router)

    @app.exception_handler(auth.LoginRequired)
    async def _login(_request: Request, exc: auth.LoginRequired):
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(auth.CsrfRejected)
    async def _csrf(request: Request, _exc: auth.CsrfRejected):
        return render(request, "error.html", status_code=403, message="表单已失效或来源不明（CSRF 校验未通过），请刷新页面后重试")

    @app.exception_handler(admin.AdminOnly)
    async def _admin_only(request: Request, _exc: admin.AdminOnly):
        return render(request, "error.html", status_code=403, message="只有管理员可以管理用户和科室")

    @app.exception_handler(office.NotAllowed)
    async def _not_allowed(request: Request, _exc: office.NotAllowed):
        return render(request, "error.html", status_code=403, message="只有绩效办和审计人员可以查看审计记录")

    @app.exception_handler(calendar.CalendarNotAllowed)
    async def _calendar_not_allowed(request: Request, _exc: calendar.CalendarNotAllowed):
        return render(request, "error.html", status_code=403, message="只有绩效办和管理员可以录入节假日与调休")
