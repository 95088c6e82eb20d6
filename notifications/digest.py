"""The daily digest (每日汇总): one e-mail a day to each user who chose it, instead of one per message.

It lists the messages their inbox received since the last digest, open ones first, each with its
link. A digest that cannot be sent is tried again at the next run (nothing is marked sent before
the SMTP server took it); its Message-ID names the user and the newest message it holds, so a
repeat after a crash is recognisable.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store import db
from engine.store.config import Settings, settings
from engine.store.models import InboxItem, MailDigest, User
from notifications import channels
from notifications.dispatch import send

log = logging.getLogger("kaoping.digest")
MAX_ITEMS = 200  # listed in one digest


@dataclass
class DigestResult:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def compose(user: User, found: list[InboxItem], config: Settings) -> channels.Message:
    """The digest e-mail for ``user`` listing ``found`` (oldest first), open messages before finished ones."""
    base = config.base_url.rstrip("/")
    open_items = [i for i in found if i.done_at is None]
    lines = [f"{user.name}，您好：", "",
             f"自上次汇总以来，您收到 {len(found)} 条消息，其中 {len(open_items)} 条待办理。", ""]
    for number, item in enumerate(open_items + [i for i in found if i.done_at is not None], start=1):
        lines.append(f"{number}. {item.subject}{'（已办结）' if item.done_at is not None else ''}")
        if item.target_id is not None:
            lines.append(f"   查看和办理：{base}/targets/{item.target_id}")
    lines += ["", f"全部消息：{base}/inbox", "", "—— 考评系统"]
    day = clock.now().date().isoformat()
    return channels.Message(key=f"digest:user-{user.id}:upto-{found[-1].id}", event_type="digest.daily",
                            subject=f"【每日汇总】{day} 共 {len(found)} 条消息，待办 {len(open_items)} 条",
                            body="\n".join(lines) + "\n", to_name=user.name, to_email=user.email)


def send_all(bind: Engine, config: Settings | None = None) -> DigestResult:
    """Send each digest reader the messages since their last digest (the scheduled job); at most
    :data:`MAX_ITEMS` a day each, the rest go in the next one."""
    config = config or settings()
    result = DigestResult()
    if not config.smtp_host:
        return result
    with Session(bind, expire_on_commit=False) as session:
        readers = session.exec(select(User, MailDigest).join(MailDigest, MailDigest.user_id == User.id)
                               .where(User.active == True, User.email.is_not(None))  # noqa: E712
                               .order_by(User.id)).all()
        session.rollback()
        for user, choice in readers:
            since = choice.upto or clock.to_db(clock.now() - timedelta(days=1))
            found = session.exec(select(InboxItem).where(InboxItem.user_id == user.id, InboxItem.created_at > since)
                                 .order_by(InboxItem.created_at, InboxItem.id).limit(MAX_ITEMS)).all()
            session.rollback()
            if not found:
                continue
            try:
                send("email", compose(user, list(found), config), config)
            except channels.DeliveryError as exc:
                log.warning("digest for %s not sent: %s", user.name, exc)
                result.failed += 1
                result.errors.append(f"{user.name}：{exc}")
                continue
            db.begin_write(session)
            fresh = session.get(MailDigest, user.id, populate_existing=True)
            if fresh is not None:  # not left the digest meanwhile
                fresh.upto = found[-1].created_at
                session.add(fresh)
            session.commit()
            result.sent += 1
    return result
