"""Logging in (OAuth2 password form → bearer token) and who the caller is."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm

from api import security
from api.deps import CurrentActor, CurrentUser, SessionDep, key_of
from api.problems import responses
from api.schemas.auth import Me, Token

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=Token, responses=responses(429))
async def token(request: Request, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange a user name and password for a short-lived bearer token."""
    user = await security.log_in(request, session, form.username, form.password)
    key = await run_in_threadpool(key_of, request, session)
    access, lifetime = security.issue(user.id, user.name, key)
    return Token(access_token=access, expires_in=lifetime)


@router.get("/me", response_model=Me, responses=responses())
def me(user: CurrentUser, actor: CurrentActor) -> Me:
    """The caller: name, roles and sections."""
    return Me(id=user.id, name=user.name, roles=list(user.roles), sections=sorted(actor.sections))
