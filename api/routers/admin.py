"""Users and sections (admin only)."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentActor, Id, Limit, Offset, SessionDep, require
from api.problems import responses
from api.schemas.users import (
    SectionCreate,
    SectionPublic,
    SectionsPublic,
    UserCreate,
    UserPublic,
    UsersPublic,
    UserUpdate,
)
from engine.people import users
from engine.plans import staffing

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[require("admin")])


def _public(session, user) -> UserPublic:
    return UserPublic(id=user.id, name=user.name, login=user.login, roles=list(user.roles), email=user.email, active=user.active,
                      sections=users.sections_of(session, [user.id])[user.id])


@router.get("/users", response_model=UsersPublic, responses=responses(403))
def list_users(session: SessionDep, actor: CurrentActor, limit: Limit = 50,
               offset: Offset = 0) -> UsersPublic:
    """The people of the admin's organisation."""
    page, count = users.listing(session=session, limit=limit, offset=offset, actor=actor)
    sections = users.sections_of(session, [u.id for u in page])
    return UsersPublic(data=[UserPublic(id=u.id, name=u.name, login=u.login, roles=list(u.roles), email=u.email, active=u.active,
                                        sections=sections[u.id]) for u in page], count=count)


@router.post("/users", response_model=UserPublic, status_code=201, responses=responses(403, 409))
def add_user(body: UserCreate, session: SessionDep, actor: CurrentActor) -> UserPublic:
    user = staffing.register(session=session, by=actor, name=body.name, roles=body.roles, sections=body.sections,
                          password=body.password, email=body.email, login=body.login)
    return _public(session, user)


@router.patch("/users/{user_id}", response_model=UserPublic, responses=responses(403, 404))
def update_user(user_id: Id, body: UserUpdate, session: SessionDep, actor: CurrentActor) -> UserPublic:
    user = staffing.update(session=session, by=actor, user_id=user_id, roles=body.roles, sections=body.sections,
                        password=body.password, email=body.email, active=body.active)
    return _public(session, user)


@router.get("/sections", response_model=SectionsPublic, responses=responses(403))
def list_sections(session: SessionDep, actor: CurrentActor) -> SectionsPublic:
    """The sections of the admin's organisation."""
    found = users.list_sections(session=session, actor=actor)
    return SectionsPublic(data=[SectionPublic(id=s.id, name=s.name) for s in found], count=len(found))


@router.post("/sections", response_model=SectionPublic, status_code=201, responses=responses(403, 409))
def add_section(body: SectionCreate, session: SessionDep, actor: CurrentActor) -> SectionPublic:
    found = staffing.add_section(session=session, by=actor, name=body.name)
    return SectionPublic(id=found.id, name=found.name)
