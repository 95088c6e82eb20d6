"""Request and response shapes of the API: organisations."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.users import NAME


class OrganisationPublic(BaseModel):
    id: int
    name: str
    kind: str
    kind_label: str
    parent_id: int | None


class OrganisationsPublic(BaseModel):
    data: list[OrganisationPublic]
    count: int


class OrganisationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=NAME)
    #: The parent's name (default: the admin's own organisation).
    parent: str | None = Field(default=None, min_length=1, max_length=200, pattern=NAME)
    kind: Literal["province", "bureau", "county", "school", "unit"] = "county"
