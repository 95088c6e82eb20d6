"""The in-app inbox: every notification lands here, whatever other channels do."""
from __future__ import annotations

from sqlalchemy import bindparam, func, update
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store import db
from engine.store.errors import NotFound
from engine.store.models import InboxItem, MailDigest, User


def deliver(*, session: Session, user_id: int, subject: str, body: str, event_id: int | None = None,
            target_id: int | None = None, done_at=None) -> InboxItem:
    """Put a message in a user's inbox (``done_at``: its work has moved on already); flushes, does not commit."""
    item = InboxItem(user_id=user_id, subject=subject, body=body, event_id=event_id, target_id=target_id,
                     done_at=done_at)
    session.add(item)
    session.flush()
    return item


def items(*, session: Session, user_id: int, unread_only: bool = False, limit: int = 50,
          offset: int = 0, words: str = "", open_only: bool = False) -> tuple[list[InboxItem], int, int]:
    """A page of the user's messages, newest first (only those whose subject holds ``words``, if given;
    ``open_only``: not about finished work); the total, and how many are unread."""
    query = select(InboxItem).where(InboxItem.user_id == user_id)
    if unread_only:
        query = query.where(InboxItem.read_at.is_(None))
    if open_only:
        query = query.where(InboxItem.done_at.is_(None))
    if words.strip():
        query = query.where(InboxItem.subject.contains(words.strip().replace("\x00", ""), autoescape=True))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = session.exec(query.order_by(InboxItem.id.desc()).limit(limit).offset(offset)).all()
    return list(page), total, unread_count(session=session, user_id=user_id)


def set_digest(*, session: Session, user_id: int, daily: bool) -> bool:
    """E-mail the user one daily digest (``daily``) or one mail per message; the choice now; commits."""
    db.begin_write(session)
    if session.get(User, user_id) is None:
        session.rollback()
        raise NotFound(f"用户 {user_id} 不存在", user_id=user_id)
    kept = session.get(MailDigest, user_id)
    if daily and kept is None:
        session.add(MailDigest(user_id=user_id, upto=clock.to_db(clock.now())))
    elif not daily and kept is not None:
        session.delete(kept)
    session.commit()
    return daily


def takes_digest(*, session: Session, user_id: int) -> bool:
    """Whether the user takes e-mail as one daily digest."""
    return session.get(MailDigest, user_id) is not None


def unread_count(*, session: Session, user_id: int) -> int:
    return session.exec(select(func.count()).select_from(InboxItem)
                        .where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None))).one()


def mark_read(*, session: Session, user_id: int, item_id: int) -> InboxItem:
    """Mark one of the user's messages read (again is harmless); commits."""
    db.begin_write(session)
    item = session.get(InboxItem, item_id)
    if item is None or item.user_id != user_id:
        session.rollback()
        raise NotFound(f"消息 {item_id} 不存在", item_id=item_id)
    if item.read_at is None:
        item.read_at = clock.to_db(clock.now())
        session.add(item)
    session.commit()
    return item


def mark_all_read(*, session: Session, user_id: int) -> int:
    """Mark every unread message of the user read (全部已读); how many were; commits."""
    db.begin_write(session)
    try:
        done = session.execute(update(InboxItem).where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
                               .values(read_at=clock.to_db(clock.now()))
                               .execution_options(synchronize_session=False)).rowcount
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return done


_ITEMS = InboxItem.__table__
_MARK_DONE = (update(_ITEMS).where(_ITEMS.c.target_id == bindparam("_target"), _ITEMS.c.done_at.is_(None))
              .values(done_at=bindparam("_at")))
_MARK_MINE_DONE = _MARK_DONE.where(_ITEMS.c.user_id.in_(select(User.id).where(User.name == bindparam("_name"))))


def mark_done(connection, *, target_id: int, at, only: str | None = None) -> None:
    """The open messages about ``target_id`` (``only``: those of the person so named) are about work that is
    done (已办结): the change of state calls this in its own transaction; commits nothing."""
    if only is None:
        connection.execute(_MARK_DONE, {"_target": target_id, "_at": at})
    else:
        connection.execute(_MARK_MINE_DONE, {"_target": target_id, "_at": at, "_name": only})
