"""Request and response shapes of the API: auth."""
from __future__ import annotations

from pydantic import BaseModel


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    id: int
    name: str
    roles: list[str]
    sections: list[str]
