"""The caller's in-app notifications."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, Id, Limit, Offset, SessionDep
from api.problems import responses
from api.schemas.inbox import DigestChoice, InboxItemPublic, InboxPublic
from engine.calendar import clock
from engine.people import inbox

router = APIRouter(prefix="/inbox", tags=["inbox"])


def _public(item) -> InboxItemPublic:
    return InboxItemPublic(id=item.id, subject=item.subject, body=item.body, target_id=item.target_id,
                           created_at=clock.local(item.created_at),
                           read_at=clock.local(item.read_at) if item.read_at else None,
                           done_at=clock.local(item.done_at) if item.done_at else None)


@router.get("", response_model=InboxPublic, responses=responses())
def list_inbox(session: SessionDep, user: CurrentUser, unread: bool = False, open_only: bool = False,
               limit: Limit = 50, offset: Offset = 0) -> InboxPublic:
    """The caller's notifications, newest first, with the unread count (``open_only``: not about finished work)."""
    items, count, unread_count = inbox.items(session=session, user_id=user.id, unread_only=unread, limit=limit,
                                             offset=offset, open_only=open_only)
    return InboxPublic(data=[_public(i) for i in items], count=count, unread=unread_count)


@router.post("/{item_id}/read", response_model=InboxItemPublic, responses=responses(404))
def mark_read(item_id: Id, session: SessionDep, user: CurrentUser) -> InboxItemPublic:
    return _public(inbox.mark_read(session=session, user_id=user.id, item_id=item_id))


@router.put("/digest", response_model=DigestChoice, responses=responses())
def choose_digest(body: DigestChoice, session: SessionDep, user: CurrentUser) -> DigestChoice:
    """E-mail the caller one daily digest (``daily: true``) or one mail per message."""
    return DigestChoice(daily=inbox.set_digest(session=session, user_id=user.id, daily=body.daily))
