"""The outbox dispatcher: outbox events → one delivery per recipient and channel → sent, with retries.

What is guaranteed:

- The in-app inbox gets each event exactly once per recipient: the inbox row is written in the
  same transaction that marks its delivery sent (and a unique constraint backs it up).
- E-mail and webhooks are retried with exponential backoff while the channel says the failure
  may pass, and dead-lettered after the last attempt or a permanent refusal (``kaoping outbox``
  lists them and retries them). A delivery is marked ``sending`` (committed) before it goes out;
  if the process dies between sending and recording, it is found still ``sending`` and marked
  ``uncertain`` — not sent again by itself, so nothing arrives twice. Every message carries its
  delivery's idempotency key (e-mail ``Message-ID``, webhook ``Idempotency-Key``), so a receiver
  can also recognise a repeat that an operator chose to send.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, or_
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store import db
from engine.people import inbox
from engine.store.config import Settings, settings
from engine.store.models import Delivery, MailDigest, OutboxEvent, Section, Target, User, UserSection
from notifications import channels, messages

log = logging.getLogger("kaoping.dispatch")
MAX_ATTEMPTS = 6
BASE_DELAY = timedelta(seconds=10)
STUCK_AFTER = timedelta(minutes=5)
BATCH = 200


@dataclass
class DispatchResult:
    expanded: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    uncertain: int = 0
    errors: list[str] = field(default_factory=list)


def _users_for(session: Session, recipient: dict[str, str], org_id: int | None = None) -> list[User]:
    """The active people a recipient names: within organisation ``org_id`` (the event's target's: names,
    sections and roles repeat across organisations), or anywhere for an event of no target."""
    active = select(User).where(User.active == True)  # noqa: E712
    if org_id is not None:
        active = active.where(User.org_id == org_id)
    if recipient["kind"] == "person":
        return list(session.exec(active.where(User.name == recipient["name"])))
    if recipient["kind"] == "section":
        return [u for u in session.exec(active.join(UserSection, UserSection.user_id == User.id)
                                        .join(Section, Section.id == UserSection.section_id)
                                        .where(Section.name == recipient["name"])) if "staff" in u.roles]
    return [u for u in session.exec(active) if recipient["name"] in u.roles]


def _locked(query, session: Session):
    return query if db.is_sqlite(session) else query.with_for_update(skip_locked=True)


def expand(bind: Engine, config: Settings | None = None) -> int:
    """Turn pending outbox events into deliveries (inbox always; e-mail and webhook when configured)."""
    config = config or settings()
    count = 0
    with Session(bind, expire_on_commit=False) as session:
        db.begin_write(session)
        events = session.exec(_locked(select(OutboxEvent).where(OutboxEvent.status == "pending")
                                      .order_by(OutboxEvent.id).limit(BATCH), session)).all()
        resolved: dict[tuple[str, str, int | None], list[User]] = {}  # a batch names the same people again and again
        target_ids = {e.target_id for e in events if e.target_id is not None}
        org_of = {row.id: row.org_id for row in
                  session.exec(select(Target.id, Target.org_id).where(Target.id.in_(list(target_ids))))} \
            if target_ids else {}
        digest_readers = set(session.exec(select(MailDigest.user_id))) if events else set()
        for event in events:
            people, missing = {}, []
            org_id = org_of.get(event.target_id)
            for recipient in event.recipients:
                key = (recipient["kind"], recipient["name"], org_id)
                if key not in resolved:
                    resolved[key] = _users_for(session, recipient, org_id)
                found = resolved[key]
                if not found and recipient["kind"] == "person":
                    missing.append(recipient["name"])
                people.update({u.id: u for u in found})
            # Whoever made the change needs no message about it (a leader who is also the responsible person).
            people = {i: u for i, u in people.items() if u.name != (event.data or {}).get("actor")}
            for user in people.values():
                session.add(Delivery(event_id=event.id, user_id=user.id, channel="inbox", key=f"evt-{event.id}:user-{user.id}:inbox"))
                if user.email and config.smtp_host and user.id not in digest_readers:  # they get it in the digest
                    session.add(Delivery(event_id=event.id, user_id=user.id, channel="email",
                                         key=f"evt-{event.id}:user-{user.id}:email"))
            if config.webhook_url:
                session.add(Delivery(event_id=event.id, channel="webhook", key=f"evt-{event.id}:webhook"))
            event.status = "expanded"
            event.last_error = f"无对应用户：{'、'.join(missing)}" if missing else ""
            session.add(event)
            count += 1
        session.commit()
    return count


def _message(session: Session, delivery: Delivery, event: OutboxEvent, user: User | None,
             config: Settings | None = None) -> channels.Message:
    link, due = "", ""
    if event.target_id is not None:
        from engine.store.models import Target

        target = session.get(Target, event.target_id)
        link = f"{(config or settings()).base_url.rstrip('/')}/targets/{event.target_id}"
        due = target.state_due.isoformat() if target is not None and target.state_due else ""
    subject, body = messages.render(event.event_type, event.data, user.name if user else _concerned(event),
                                    link=link, due=due)
    code = event.data.get("code")
    return channels.Message(key=delivery.key, subject=subject, body=body, event_type=event.event_type,
                            to_name=user.name if user else "", to_email=user.email if user else None,
                            target_code=code, data=event.data)


def _concerned(event: OutboxEvent) -> str:
    """Whom a message to a group (the robot of a group chat) speaks to: the people, sections and roles it names."""
    from engine.people.roles import ROLES

    names = [ROLES.get(r["name"], r["name"]) if r["kind"] == "role" else r["name"] for r in event.recipients or []]
    return "、".join(dict.fromkeys(names))


def _claim(session: Session, delivery_id: int, now) -> Delivery | None:
    """Take one due delivery just before sending it (e-mail and webhooks are marked ``sending``)."""
    db.begin_write(session)
    query = select(Delivery).where(Delivery.id == delivery_id).execution_options(populate_existing=True)
    delivery = session.exec(_locked(query, session)).first()
    if delivery is None or delivery.status != "pending":  # another dispatcher has it
        session.rollback()
        return None
    if delivery.channel != "inbox":
        delivery.status = "sending"
        delivery.next_attempt_at = now  # when it was claimed: how long it has been "sending"
        session.add(delivery)
    session.commit()
    return delivery


def deliver(bind: Engine, config: Settings | None = None) -> DispatchResult:
    """Send what is due, the inbox first; claim and record each delivery in its own transactions.

    A channel that cannot be reached is not tried again in the same run: the rest of its
    deliveries wait for their next attempt instead of each waiting for a time-out.
    """
    config = config or settings()
    result = DispatchResult()
    now = clock.to_db(clock.now())
    with Session(bind, expire_on_commit=False) as session:
        result.uncertain = _mark_stuck(session, now)
        due = session.exec(select(Delivery.id, Delivery.channel)
                           .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                           .order_by(Delivery.channel != "inbox", Delivery.id).limit(BATCH)).all()
        session.rollback()
        down: set[str] = set()
        for delivery_id, channel in due:
            if channel in down:
                continue
            delivery = _claim(session, delivery_id, now)
            if delivery is None:
                continue
            event = session.get(OutboxEvent, delivery.event_id)
            user = session.get(User, delivery.user_id) if delivery.user_id else None
            try:
                message = _message(session, delivery, event, user, config)
                if delivery.channel == "inbox":
                    _to_inbox(session, delivery, event, message)
                else:
                    send(delivery.channel, message, config)
                    _record(session, delivery, "sent")
                result.sent += 1
            except channels.DeliveryError as exc:
                if exc.uncertain:
                    _record(session, delivery, "uncertain", str(exc)[:1000])
                    result.uncertain += 1
                else:
                    _failed(session, delivery, str(exc), permanent=exc.permanent, result=result)
                    if not exc.permanent:
                        down.add(channel)
            except Exception as exc:  # noqa: BLE001 - a template or data bug: dead-letter it, keep going
                log.exception("delivery %s failed", delivery.key)
                _failed(session, delivery, f"{type(exc).__name__}: {exc}", permanent=True, result=result)
    return result


def send(channel: str, message: channels.Message, config: Settings) -> None:
    """Hand ``message`` to the e-mail or webhook channel as ``config`` sets them up."""
    if channel == "email":
        channels.send_email(message, channels.SmtpConfig(
            host=config.smtp_host, port=config.smtp_port, user=config.smtp_user, password=config.smtp_password,
            starttls=config.smtp_starttls, tls=config.smtp_tls, sender=config.smtp_from))
    elif channel == "webhook":
        channels.send_webhook(message, config.webhook_url, config.webhook_kind)
    else:
        raise channels.DeliveryError(f"未知渠道 {channel}", permanent=True)


def _to_inbox(session: Session, delivery: Delivery, event: OutboxEvent, message: channels.Message) -> None:
    db.begin_write(session)
    query = select(Delivery).where(Delivery.id == delivery.id).execution_options(populate_existing=True)
    fresh = session.exec(query if db.is_sqlite(session) else query.with_for_update()).one()
    if fresh.status != "pending":  # another dispatcher got there first
        session.rollback()
        return
    inbox.deliver(session=session, user_id=delivery.user_id, subject=message.subject, body=message.body,
                  event_id=event.id, target_id=event.target_id, done_at=_moved_on(session, event))
    fresh.status, fresh.sent_at, fresh.attempts = "sent", clock.to_db(clock.now()), fresh.attempts + 1
    session.add(fresh)
    session.commit()


def _moved_on(session: Session, event: OutboxEvent):
    """When the event's target left the stay the event reported (a late delivery of finished work), or None."""
    from engine.store.models import Target

    target = session.get(Target, event.target_id) if event.target_id is not None else None
    if target is None or target.state_entered_at is None or event.created_at is None:
        return None
    entered, created = clock.local(target.state_entered_at), clock.local(event.created_at)
    return clock.to_db(clock.now()) if entered > created else None


def _record(session: Session, delivery: Delivery, status: str, error: str = "") -> None:
    db.begin_write(session)
    fresh = session.get(Delivery, delivery.id, populate_existing=True)
    fresh.status, fresh.attempts, fresh.last_error = status, fresh.attempts + 1, error
    if status == "sent":
        fresh.sent_at = clock.to_db(clock.now())
    session.add(fresh)
    session.commit()


def _failed(session: Session, delivery: Delivery, error: str, *, permanent: bool, result: DispatchResult) -> None:
    session.rollback()
    db.begin_write(session)
    fresh = session.get(Delivery, delivery.id, populate_existing=True)
    fresh.attempts += 1
    fresh.last_error = error[:1000]
    if permanent or fresh.attempts >= MAX_ATTEMPTS:
        fresh.status = "dead"
        result.dead += 1
    else:
        fresh.status = "pending"
        fresh.next_attempt_at = clock.to_db(clock.now() + BASE_DELAY * 2 ** (fresh.attempts - 1))
        result.retried += 1
    session.add(fresh)
    session.commit()


def _mark_stuck(session: Session, now) -> int:
    """Deliveries left ``sending`` by a process that died: maybe sent, maybe not — never resent by themselves."""
    db.begin_write(session)
    stuck = session.exec(select(Delivery).where(Delivery.status == "sending",
                                                Delivery.next_attempt_at < now - STUCK_AFTER)).all()
    for delivery in stuck:
        delivery.status = "uncertain"
        delivery.last_error = "发送过程中进程中断，无法确认是否已送达；请核实后在 kaoping outbox 中决定是否重发"
        session.add(delivery)
    session.commit()
    return len(stuck)


def dispatch(bind: Engine, config: Settings | None = None) -> DispatchResult:
    """Expand new events and deliver what is due: the job the scheduler runs every few seconds."""
    expanded = expand(bind, config)
    result = deliver(bind, config)
    result.expanded = expanded
    return result


def problems(bind: Engine) -> list[tuple[Delivery, OutboxEvent]]:
    """Dead-lettered and uncertain deliveries, newest first, for the admin."""
    with Session(bind, expire_on_commit=False) as session:
        rows = session.exec(select(Delivery, OutboxEvent).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                            .where(or_(Delivery.status == "dead", Delivery.status == "uncertain"))
                            .order_by(Delivery.id.desc())).all()
    return list(rows)


def retry(bind: Engine, delivery_ids: list[int]) -> int:
    """Put dead or uncertain deliveries back in the queue (an operator's decision); returns how many."""
    with Session(bind) as session:
        db.begin_write(session)
        rows = session.exec(select(Delivery).where(Delivery.id.in_(delivery_ids),
                                                   or_(Delivery.status == "dead", Delivery.status == "uncertain"))).all()
        for delivery in rows:
            delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, clock.to_db(clock.now())
            session.add(delivery)
        session.commit()
    return len(rows)

