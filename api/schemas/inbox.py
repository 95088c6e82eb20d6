"""Request and response shapes of the API: inbox."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class InboxItemPublic(BaseModel):
    id: int
    subject: str
    body: str
    target_id: int | None
    created_at: datetime
    read_at: datetime | None


class InboxPublic(BaseModel):
    data: list[InboxItemPublic]
    count: int
    unread: int
