"""Errors as ``application/problem+json`` (RFC 9457), everywhere: domain errors, validation, 404, 500."""
from __future__ import annotations

import json
import logging
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.store import errors
from engine.people.accounts import LoginFailed, LoginThrottled
from engine.plans.importer import ImportRefused
from engine.workflow.writer import WriterClosed

log = logging.getLogger("kaoping.api")
MEDIA_TYPE = "application/problem+json"

STATUS = {
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.InvalidTrigger: 409,
    errors.StaleVersion: 409,
    errors.Duplicate: 409,
    errors.EvidenceTampered: 409,
    errors.InvalidPayload: 422,
    errors.TooLarge: 413,
    errors.LimitExceeded: 422,
    errors.GuardFailed: 422,
    ImportRefused: 422,
    LoginFailed: 401,
    LoginThrottled: 429,
    WriterClosed: 503,
}
TITLES = {400: "请求有误", 401: "未登录或登录已失效", 403: "无权操作", 404: "未找到", 405: "不支持该方法",
          409: "冲突", 413: "内容过大", 415: "不支持的内容类型", 422: "内容不符合要求", 428: "缺少版本号",
          429: "请求过于频繁", 500: "服务器内部错误", 503: "服务暂不可用"}


class Problem(BaseModel):
    """An RFC 9457 problem document, with kaoping's machine-readable ``code``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    code: str
    allowed_triggers: list[str] | None = None
    errors: list[dict[str, Any]] | None = None
    limit: str | None = None


def problem(status: int, code: str, detail: str = "", headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": f"https://kaoping.invalid/problems/{code}", "title": TITLES.get(status, "错误"), "status": status,
            "detail": detail, "code": code}
    body.update({key: value for key, value in extra.items() if value is not None})
    return _ProblemResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


class _ProblemResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        # A problem may quote what was sent; a lone surrogate in it becomes "?" rather than a 500.
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def page(status: int, detail: str) -> HTMLResponse:
    """A plain error page for the web pages (no JSON for people in a browser)."""
    body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{TITLES.get(status, "错误")}</title>'
            f'<link rel="stylesheet" href="/static/kaoping.css"></head><body><main><section class="card narrow">'
            f'<h1>{escape(TITLES.get(status, "错误"))}</h1><p data-testid="error">{escape(detail)}</p>'
            f'<p><a href="/">返回首页</a></p></section></main></body></html>')
    return HTMLResponse(body, status_code=status)


def _for_people(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path in ("/healthz", "/openapi.json", "/docs", "/redoc"))


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries declaring that an operation answers ``statuses`` with a problem document."""
    return {s: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": TITLES.get(s, "错误")}
            for s in (*statuses, 401, 422, 500)}


def install(app: FastAPI) -> None:
    """Map every error the app can meet to a problem document; no stack trace reaches a client."""

    @app.exception_handler(errors.DomainError)
    async def _domain(_request: Request, exc: errors.DomainError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        details = dict(exc.details)
        headers = {"Retry-After": str(details["retry_after"])} if "retry_after" in details else None
        return problem(status, exc.code, exc.message, headers=headers,
                       allowed_triggers=details.pop("allowed_triggers", None), errors=details.pop("errors", None),
                       limit=details.pop("limit", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if _for_people(request):
            return page(422, "请求内容不符合要求，请检查填写的内容")
        found = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "reason": e.get("msg", "")}
                 for e in exc.errors()]
        return problem(422, "invalid_request", "请求内容不符合要求", errors=found)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 428: "precondition_required"}.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else ""
        if _for_people(request):
            return page(exc.status_code, "页面不存在" if exc.status_code == 404 else detail or TITLES.get(exc.status_code, ""))
        return problem(exc.status_code, code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _for_people(request):
            return page(500, "服务器内部错误，已记录；请稍后重试或联系管理员")
        return problem(500, "internal_error", "服务器内部错误，已记录；请稍后重试或联系管理员")
