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
    #: When the work the message is about moved on (已办结), or null.
    done_at: datetime | None = None


class DigestChoice(BaseModel):
    #: One e-mail a day (每日汇总) instead of one per message.
    daily: bool


class InboxPublic(BaseModel):
    data: list[InboxItemPublic]
    count: int
    unread: int
