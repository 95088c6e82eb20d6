"""Web sessions: a signed, HttpOnly, SameSite cookie; CSRF tokens for every form; login and logout."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session

from api.deps import SessionDep, key_of
from api.web.render import render
from api import security
from engine.people.accounts import LoginFailed, LoginThrottled, end_sessions, still_valid
from engine.people.actors import Actor, actor_of
from engine.plans import demo
from engine.store.config import settings
from engine.store.models import User

COOKIE = "kaoping_session"
PRE_COOKIE = "kaoping_login"
MAX_AGE = 8 * 3600  # a working day
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Viewer:
    """The person looking at a page, with the CSRF token their forms must carry."""

    user: User
    actor: Actor
    csrf: str


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class CsrfRejected(Exception):
    pass


def _serializer(request: Request, session: Session) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key_of(request, session), salt="kaoping-web-session")


def csrf_for(request: Request, session: Session, sid: str) -> str:
    return hmac.new(key_of(request, session).encode(), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()[:40]


def _cookie(response, name: str, value: str, request: Request) -> None:
    secure = settings().cookie_secure if settings().cookie_secure is not None else request.url.scheme == "https"
    response.set_cookie(name, value, max_age=MAX_AGE, httponly=True, samesite="lax", secure=secure, path="/")


def viewer(request: Request, session: SessionDep) -> Viewer:
    raw = request.cookies.get(COOKIE)
    try:
        data, signed_at = _serializer(request, session).loads(raw, max_age=MAX_AGE, return_timestamp=True) \
            if raw else (None, None)
    except BadSignature:
        data, signed_at = None, None
    user = session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is not None and isinstance(data.get("at"), int | float):  # to the microsecond (older cookies: the second)
        signed_at = datetime.fromtimestamp(data["at"], timezone.utc)
    if user is None or not user.active or not still_valid(user, signed_at):
        raise LoginRequired(str(request.url.path))
    return Viewer(user, actor_of(session, user), csrf_for(request, session, data["sid"]))


WebViewer = Annotated[Viewer, Depends(viewer)]


def check_csrf(viewer: Viewer, token: str | None) -> None:
    """Every form posts the token; a forged post (from another site, or without it) is refused."""
    if not token or not hmac.compare_digest(token, viewer.csrf):
        raise CsrfRejected()


async def checked_form(request: Request, viewer: Viewer):
    """The posted form, once its CSRF token is the viewer's."""
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    return form


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: SessionDep, next: str = "/") -> HTMLResponse:  # noqa: A002
    sid = secrets.token_urlsafe(16)
    notice = "密码已修改，请用新密码重新登录" if request.query_params.get("done") == "password" else ""
    response = render(request, "login.html", csrf=csrf_for(request, session, "login:" + sid), next=_safe(next),
                      notice=notice, demo_note=demo.notice(session))
    _cookie(response, PRE_COOKIE, sid, request)
    return response


def _safe(next_url: str) -> str:
    """Only a path on this site: never an open redirect."""
    return next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: SessionDep, username: Annotated[str, Form(max_length=100)],
          password: Annotated[str, Form(max_length=200)], csrf: Annotated[str, Form(max_length=100)] = "",
          next: Annotated[str, Form(max_length=500)] = "/"):  # noqa: A002
    sid = request.cookies.get(PRE_COOKIE, "")
    expected = await run_in_threadpool(csrf_for, request, session, "login:" + sid)
    if not sid or not hmac.compare_digest(csrf, expected):
        return render(request, "login.html", status_code=403, csrf=expected, next=_safe(next),
                      error="页面已过期，请重新登录")
    try:
        user = await security.log_in(request, session, username.strip(), password)
    except (LoginFailed, LoginThrottled) as exc:
        status = 429 if isinstance(exc, LoginThrottled) else 401
        return render(request, "login.html", status_code=status, csrf=expected, next=_safe(next), error=exc.message,
                      username=username)
    response = RedirectResponse(_safe(next), status_code=303)
    serializer = await run_in_threadpool(_serializer, request, session)
    token = serializer.dumps({"uid": user.id, "sid": secrets.token_urlsafe(16), "at": time.time()})
    _cookie(response, COOKIE, token, request)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(session: SessionDep, viewer: WebViewer, csrf: Annotated[str, Form(max_length=100)] = "") -> RedirectResponse:
    check_csrf(viewer, csrf)
    end_sessions(session=session, user_id=viewer.user.id)  # a copied cookie dies with this one
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
