"""Organisations: those the caller reads; the admin adds one below their own."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentActor, SessionDep, require
from api.problems import responses
from api.schemas.organisations import OrganisationCreate, OrganisationPublic, OrganisationsPublic
from engine.people import organisations
from engine.plans import staffing
from engine.store.models import Organisation

router = APIRouter(prefix="/organisations", tags=["organisations"])


def _public(found: Organisation) -> OrganisationPublic:
    return OrganisationPublic(id=found.id, name=found.name, kind=found.kind, parent_id=found.parent_id,
                              kind_label=organisations.KIND_LABELS.get(found.kind, found.kind))


@router.get("", response_model=OrganisationsPublic, responses=responses())
def list_organisations(session: SessionDep, actor: CurrentActor) -> OrganisationsPublic:
    """The caller's organisation and, for the office and the auditor, those below it; parents first."""
    found = organisations.listing(session, actor)
    return OrganisationsPublic(data=[_public(o) for o in found], count=len(found))


@router.post("", response_model=OrganisationPublic, status_code=201, responses=responses(403, 404, 409),
             dependencies=[require("admin")])
def add_organisation(body: OrganisationCreate, session: SessionDep, actor: CurrentActor) -> OrganisationPublic:
    """A new organisation below the admin's own (or below one of its descendants, named as ``parent``)."""
    return _public(staffing.add_organisation(session=session, by=actor, name=body.name, parent=body.parent,
                                             kind=body.kind))
