"""Request and response shapes of the API: users."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field


class UserPublic(BaseModel):
    id: int
    name: str
    login: str
    roles: list[str]
    sections: list[str]
    email: str | None
    active: bool


class UsersPublic(BaseModel):
    data: list[UserPublic]
    count: int


Role = Literal["staff", "leader", "office", "auditor", "admin"]


#: A name: some visible text, no control characters.
NAME = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=NAME)
    roles: list[Role] = Field(min_length=1, max_length=5)
    sections: list[Annotated[str, Field(min_length=1, max_length=100, pattern=NAME)]] = Field(default_factory=list, max_length=50)
    password: str = Field(min_length=8, max_length=200)
    email: str | None = Field(default=None, max_length=300)
    #: The login name (default: the name, qualified by the organisation when another has it).
    login: str | None = Field(default=None, min_length=1, max_length=200, pattern=NAME)


class UserUpdate(BaseModel):
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=5)
    sections: list[Annotated[str, Field(min_length=1, max_length=100, pattern=NAME)]] | None = Field(default=None, max_length=50)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    email: str | None = Field(default=None, max_length=300)
    active: bool | None = None


class SectionPublic(BaseModel):
    id: int
    name: str


class SectionsPublic(BaseModel):
    data: list[SectionPublic]
    count: int


class SectionCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=NAME)
