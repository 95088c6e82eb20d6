"""The outbox dispatcher end to end: inbox, a real SMTP server on loopback, a webhook, retries, dead letters."""
from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from engine.calendar import clock
from engine.workflow import definitions
from engine.schedule import escalation, reminders, supervision
from engine.scoring import rectification
from engine.workflow.commands import fire
from engine.store.config import Settings
from engine.store.models import Delivery, InboxItem, OutboxEvent, User
from engine.people.users import add
from notifications import dispatch, messages
from tests import factories as f
from tests.engine.lifecycle import drive, step
from tests.notifications.test_channels import HOST, Mailbox, free_port

NO_CHANNELS = Settings(smtp_host="", webhook_url="")


@pytest.fixture
def people(session):
    for name, roles, sections, email in [
        ("洪玮玮", ["staff"], ["规划科"], "hongww@example.gov.cn"),
        ("林长华", ["leader"], [], "linch@example.gov.cn"),
        ("李自坚", ["leader"], [], None),
        ("绩效办", ["office"], [], "jxb@example.gov.cn"),
        ("审计员", ["auditor"], [], "audit@example.gov.cn"),
    ]:
        add(session=session, name=name, roles=roles, sections=sections, email=email)
    session.commit()


def _inbox(session, name):
    session.rollback()
    user = session.exec(select(User).where(User.name == name)).one()
    return session.exec(select(InboxItem).where(InboxItem.user_id == user.id).order_by(InboxItem.id)).all()


def test_inbox_gets_each_event_once_for_the_right_people(session, engine_db, people):
    t = f.target(session, code="1-1-1")
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=[], office=f.OFFICE)
    result = dispatch.dispatch(engine_db, NO_CHANNELS)
    assert (result.expanded, result.sent) == (1, 1)
    assert dispatch.dispatch(engine_db, NO_CHANNELS).sent == 0  # nothing twice
    (item,) = _inbox(session, "林长华")
    assert item.subject == "【待审签】目标 1-1-1 已提交自评" and "全年目标基本完成" in item.body
    assert _inbox(session, "李自坚") == [] and _inbox(session, "洪玮玮") == []
    step(session, t.id, "sign", f.LEADER)
    dispatch.dispatch(engine_db, NO_CHANNELS)
    assert [i.subject for i in _inbox(session, "绩效办")] == ["【待核验】目标 1-1-1 已由分管领导审签"]


def test_email_through_a_real_smtp_server(session, engine_db, people):
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname=HOST, port=port)
    controller.start()
    try:
        t = f.target(session, code="1-2-1")
        drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=[], office=f.OFFICE)
        config = Settings(smtp_host=HOST, smtp_port=port, smtp_starttls=False, smtp_from="kaoping@bureau.gov.cn",
                          base_url="https://kaoping.example.gov.cn/")
        assert dispatch.dispatch(engine_db, config).sent == 2  # inbox + e-mail
    finally:
        controller.stop()
    (envelope,) = mailbox.envelopes
    assert envelope.rcpt_tos == ["linch@example.gov.cn"]
    received = mailbox_message(envelope)
    assert received["Subject"] == "【待审签】目标 1-2-1 已提交自评"
    assert "林长华，您好" in received.get_content() and "自评分：1.5" in received.get_content()
    # where to act and by when, above the signature
    body = received.get_content()
    assert f"查看和办理：https://kaoping.example.gov.cn/targets/{t.id}" in body
    session.refresh(t)
    assert f"本阶段期限：{t.state_due.isoformat()}" in body and body.rstrip().endswith("—— 考评系统")


def mailbox_message(envelope):
    import email
    from email.policy import default

    return email.message_from_bytes(envelope.original_content, policy=default)


def test_smtp_down_then_up_delivers_each_message_exactly_once(session, engine_db, people):
    port = free_port()  # nothing listens here yet
    config = Settings(smtp_host=HOST, smtp_port=port, smtp_starttls=False)
    with clock.frozen(datetime(2024, 11, 1, 9)) as frozen:
        for code in ("2-1-1", "2-1-2", "2-1-3"):
            t = f.target(session, code=code)
            drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=[], office=f.OFFICE)
        down = dispatch.dispatch(engine_db, config)
        # The inbox goes through; the first e-mail fails and the others are not tried in this run.
        assert (down.sent, down.retried) == (3, 1)
        mailbox = Mailbox()
        controller = Controller(mailbox, hostname=HOST, port=port)
        controller.start()
        try:
            assert dispatch.dispatch(engine_db, config).sent == 2  # the two not tried yet; the failed one backs off
            frozen.move(timedelta(seconds=11))
            assert dispatch.dispatch(engine_db, config).sent == 1
            frozen.move(timedelta(hours=1))
            assert dispatch.dispatch(engine_db, config).sent == 0
        finally:
            controller.stop()
    assert len(mailbox.envelopes) == 3
    ids = {mailbox_message(e)["Message-ID"] for e in mailbox.envelopes}
    assert len(ids) == 3
    session.rollback()
    emails = session.exec(select(Delivery).where(Delivery.channel == "email")).all()
    assert sorted((d.status, d.attempts) for d in emails) == [("sent", 1), ("sent", 1), ("sent", 2)]


def test_refused_address_is_dead_lettered_and_can_be_retried(session, engine_db, people):
    mailbox, port = Mailbox(rcpt_reply="550 5.1.1 no such user"), free_port()
    controller = Controller(mailbox, hostname=HOST, port=port)
    controller.start()
    try:
        t = f.target(session, code="3-1")
        drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=[], office=f.OFFICE)
        result = dispatch.dispatch(engine_db, Settings(smtp_host=HOST, smtp_port=port, smtp_starttls=False))
    finally:
        controller.stop()
    assert result.dead == 1
    ((delivery, event),) = dispatch.problems(engine_db)
    assert delivery.status == "dead" and event.event_type == "target.self_assess" and "550" in delivery.last_error
    assert dispatch.retry(engine_db, [delivery.id]) == 1
    session.expire_all()
    assert session.get(Delivery, delivery.id).status == "pending"


def test_a_delivery_left_sending_is_not_sent_again(session, engine_db, people):
    t = f.target(session, code="3-2")
    drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=[], office=f.OFFICE)
    config = Settings(smtp_host=HOST, smtp_port=free_port(), smtp_starttls=False)
    dispatch.expand(engine_db, config)
    session.rollback()
    email = session.exec(select(Delivery).where(Delivery.channel == "email")).one()
    email.status = "sending"  # as a dispatcher that died between sending and recording leaves it
    email.next_attempt_at = clock.to_db(clock.now() - timedelta(hours=1))
    session.add(email)
    session.commit()
    result = dispatch.deliver(engine_db, config)
    assert result.uncertain == 1
    session.expire_all()
    assert session.get(Delivery, email.id).status == "uncertain"
    assert [d.status for d, _ in dispatch.problems(engine_db)] == ["uncertain"]


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.headers["Idempotency-Key"], json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"errcode": 0, "errmsg": "ok"}')

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("kind", ["json", "wecom"])
def test_webhook(session, engine_db, people, kind):
    _Hook.received = []
    server = ThreadingHTTPServer((HOST, 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        t = f.target(session, code="4-1")
        drive(session, t.id, "self_assessed", staff=f.STAFF, leaders=[], office=f.OFFICE)
        url = f"http://{HOST}:{server.server_address[1]}/hook"
        dispatch.dispatch(engine_db, Settings(webhook_url=url, webhook_kind=kind))
        dispatch.dispatch(engine_db, Settings(webhook_url=url, webhook_kind=kind))
    finally:
        server.shutdown()
    ((key, body),) = _Hook.received
    assert key.endswith(":webhook")
    text = body["subject"] if kind == "json" else body["text"]["content"]
    assert "目标 4-1 已提交自评" in text
    words = body["body"] if kind == "json" else body["text"]["content"]
    assert "林长华，您好" in words and "您，您好" not in words  # the group robot names the people concerned


def test_every_event_of_every_shipped_workflow_has_a_template_and_renders(session, engine_db, people, frozen):
    # Real events: a target through its whole life, a report item, escalations and reminders.
    t = f.target(session, code="5-1", due_date=date(2024, 6, 10))
    for trigger in ("start", "self_assess", "return", "self_assess", "sign", "send_back", "self_assess", "sign",
                    "verify", "score", "reopen"):
        step(session, t.id, trigger, f.STAFF if trigger in ("start", "self_assess") else
             f.LEADER if trigger in ("sign", "return") else f.OFFICE)
    r = f.target(session, code="R-1", workflow="report", weight=0, due_date=date(2024, 6, 10))
    staff = f.Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}))
    for trigger, actor, payload, comment in [("submit", staff, {"content": "月报"}, ""), ("return", f.OFFICE, {}, "补充"),
                                             ("submit", staff, {"content": "月报"}, ""), ("accept", f.OFFICE, {}, "")]:
        fire(session=session, target_id=r.id, trigger=trigger, actor=actor, payload=payload, comment=comment)
    late = f.target(session, code="5-2", due_date=date(2024, 6, 4))
    soon = f.target(session, code="5-3", due_date=date(2024, 6, 5))
    report_late = f.target(session, code="R-2", workflow="report", weight=0, due_date=date(2024, 6, 4))
    report_soon = f.target(session, code="R-3", workflow="report", weight=0, due_date=date(2024, 6, 5))
    assert late and soon and report_late and report_soon
    # A 督办单 through its cycle, and two more (late, and due soon); a rectification item likewise.
    watched = f.target(session, code="5-4", due_date=date(2024, 12, 31))
    notices = [supervision.issue(session=session, target_id=watched.id, actor=f.OFFICE, reply_due=due,
                                 requirement="请说明原因") for due in (date(2024, 6, 12), date(2024, 6, 4), date(2024, 6, 5))]
    reply = {"reason": "审批滞后", "measures": "倒排工期", "new_date": "2024-09-30"}
    for trigger, actor, payload, comment in [("reply", staff, reply, ""), ("send_back", f.LEADER, {}, "请补充"),
                                             ("reply", staff, reply, ""), ("countersign", f.LEADER, {}, ""),
                                             ("return", f.OFFICE, {}, "措施不具体"), ("reply", staff, reply, ""),
                                             ("countersign", f.LEADER, {}, ""), ("accept", f.OFFICE, {}, "")]:
        fire(session=session, target_id=notices[0].id, trigger=trigger, actor=actor, payload=payload, comment=comment)
    short = f.target(session, code="5-5", due_date=date(2024, 12, 31))
    drive(session, short.id, "scored", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    items = [rectification.open_item(session=session, target_id=short.id, actor=f.OFFICE, due=due, requirement="补齐")
             for due in (date(2024, 6, 12), date(2024, 6, 4), date(2024, 6, 5))]
    result = {"measures": "补建台账", "result": "已完成"}
    for trigger, actor, payload, comment in [("submit", staff, result, ""), ("return", f.OFFICE, {}, "佐证不足"),
                                             ("submit", staff, result, ""), ("accept", f.OFFICE, {}, "")]:
        fire(session=session, target_id=items[0].id, trigger=trigger, actor=actor, payload=payload, comment=comment)
    escalation.sweep(engine_db, today=date(2024, 6, 20))
    reminders.sweep(engine_db, today=date(2024, 6, 4))
    session.rollback()
    events = session.exec(select(OutboxEvent)).all()
    expected = {e for d in definitions.shipped().values() for e in d.notifications()} | {"supervision.issued"}
    assert {e.event_type for e in events} == expected
    for event in events:
        assert messages.has_template(event.event_type)
        subject, body = messages.render(event.event_type, event.data, "张三")
        assert subject and "张三，您好" in body and "{{" not in body
    result = dispatch.dispatch(engine_db, NO_CHANNELS)
    assert result.dead == 0 and result.sent > 0
