"""Request and response shapes of the API: workflow deployments."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

Name = Annotated[str, Field(min_length=1, max_length=200)]


class DeploymentCreate(BaseModel):
    """A definition to deploy: its YAML, or a BPMN 2.0 file with how to read it."""

    format: Literal["yaml", "bpmn"]
    source: str = Field(min_length=1, max_length=2_000_000)
    filename: str = Field(default="", max_length=200)
    lenient: bool = False
    role_map: dict[Name, Literal["staff", "leader", "office"]] = Field(default_factory=dict, max_length=100)
    #: Automatic task id → the registered effect it runs (``none``: nothing to run there).
    effect_map: dict[Name, Name] = Field(default_factory=dict, max_length=100)


class DeploymentPublic(BaseModel):
    workflow: str
    version: int
    format: str
    checksum: str
    deployed_by: str
    deployed_at: datetime
    targets: int
    new: bool = False


class DeploymentsPublic(BaseModel):
    data: list[DeploymentPublic]
    count: int


class MigrationCreate(BaseModel):
    from_version: int = Field(ge=1)
    to_version: int = Field(ge=1)
    #: Old state → new state, for each state the new version does not have.
    mapping: dict[Annotated[str, Field(max_length=60)], Annotated[str, Field(max_length=60)]] = Field(
        default_factory=dict, max_length=100)


class MigrationPublic(BaseModel):
    workflow: str
    from_version: int
    to_version: int
    moved: int
