"""The shipped workflow definitions, parsed."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser
from api.problems import responses
from api.schemas.workflows import (
    WorkflowPublic,
    WorkflowsPublic,
    WorkflowSummary,
    workflow_public,
)
from engine.store.errors import NotFound
from engine.workflow import definitions

router = APIRouter(prefix="/workflows", tags=["workflows"])


@router.get("", response_model=WorkflowsPublic, responses=responses())
def list_workflows(_user: CurrentUser) -> WorkflowsPublic:
    found = definitions.shipped().values()
    return WorkflowsPublic(data=[WorkflowSummary(id=d.id, version=d.version, label=d.label, label_en=d.label_en)
                                 for d in found], count=len(found))


@router.get("/{workflow_id}", response_model=WorkflowPublic, responses=responses(404))
def get_workflow(workflow_id: str, _user: CurrentUser) -> WorkflowPublic:
    """A definition: states, transitions with roles and fields, reminders, escalation."""
    if workflow_id not in definitions.shipped():
        raise NotFound(f"工作流“{workflow_id[:60]}”不存在", workflow_id=workflow_id)
    return workflow_public(definitions.get(workflow_id))
