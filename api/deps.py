"""Dependencies shared by the routers: the database session, the caller, role checks."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api import security
from engine.people.accounts import signing_key, still_valid
from engine.people.actors import Actor, actor_of
from engine.store.models import User
from engine.workflow.rules import ROLES

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
MAX_LIMIT = 200
MAX_ID = 2_147_483_647  # ids and offsets stay within what every database's integer holds

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def key_of(request: Request, session: Session) -> str:
    """The token signing key, read once per process."""
    state = request.app.state
    if getattr(state, "signing_key", None) is None:
        state.signing_key = signing_key(session)
    return state.signing_key


def current_user(request: Request, session: SessionDep, token: Annotated[str | None, Depends(bearer)]) -> User:
    unauthorised = HTTPException(401, "请先登录（Authorization: Bearer <token>）", headers={"WWW-Authenticate": "Bearer"})
    if not token:
        raise unauthorised
    claims = security.claims_of(token, key_of(request, session))
    user = session.get(User, claims[0]) if claims is not None else None
    if user is None or not user.active or not still_valid(user, claims[1]):
        raise unauthorised
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def current_actor(session: SessionDep, user: CurrentUser) -> Actor:
    return actor_of(session, user)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require(*roles: str):
    """A dependency that lets only callers holding one of ``roles`` through."""
    names = "、".join(ROLES[r] for r in roles)

    def check(user: CurrentUser) -> User:
        if not set(roles) & set(user.roles):
            raise HTTPException(403, f"只有{names}可以访问")
        return user

    return Depends(check)
