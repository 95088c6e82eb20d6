"""Workflow deployments (admin): every version kept; targets moved between versions with a state mapping."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentActor, SessionDep, require
from api.problems import responses
from api.schemas.deployments import (
    DeploymentCreate,
    DeploymentPublic,
    DeploymentsPublic,
    MigrationCreate,
    MigrationPublic,
)
from engine.bpmn import reader
from engine.workflow import deployments

router = APIRouter(prefix="/deployments", tags=["deployments"], dependencies=[require("admin")])


def _public(row, targets: int, new: bool = False) -> DeploymentPublic:
    return DeploymentPublic(workflow=row.workflow, version=row.version, format=row.format, checksum=row.checksum,
                            deployed_by=row.deployed_by, deployed_at=row.deployed_at, targets=targets, new=new)


@router.get("", response_model=DeploymentsPublic, responses=responses(403))
def list_deployments(session: SessionDep) -> DeploymentsPublic:
    """Every deployed version, with how many targets run on it."""
    rows, counts = deployments.listing(session=session), deployments.counts(session=session)
    return DeploymentsPublic(data=[_public(r, counts.get((r.workflow, r.version), 0)) for r in rows], count=len(rows))


@router.post("", response_model=DeploymentPublic, status_code=201, responses=responses(403, 422))
def deploy(body: DeploymentCreate, session: SessionDep, actor: CurrentActor) -> DeploymentPublic:
    """Check and deploy a definition as the next version of its id (the same source again deploys nothing)."""
    done = reader.deploy(session=session, data=body.source.encode("utf-8"), filename=body.filename or f"api.{body.format}",
                         fmt=body.format, lenient=body.lenient, role_map=body.role_map, effect_map=body.effect_map,
                         actor=actor.name, role="admin")
    return _public(done.deployment, 0, new=done.new)


@router.post("/{workflow_id}/migrations", response_model=MigrationPublic, responses=responses(403, 404, 422))
def migrate(workflow_id: str, body: MigrationCreate, session: SessionDep, actor: CurrentActor) -> MigrationPublic:
    """Move every target on ``from_version`` to ``to_version``; states the new version lacks need a mapping."""
    moved = deployments.migrate(session=session, workflow_id=workflow_id, from_version=body.from_version,
                                to_version=body.to_version, mapping=body.mapping, actor=actor.name, role="admin")
    return MigrationPublic(workflow=workflow_id, from_version=body.from_version, to_version=body.to_version,
                           moved=len(moved))
