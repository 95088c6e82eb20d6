"""The daily digest: a user who chose it gets one e-mail a day listing their messages, not one per message."""
from __future__ import annotations

from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlmodel import select

from engine.people import inbox
from engine.store.config import Settings
from engine.store.models import User
from notifications import digest, dispatch
from tests import factories as f
from tests.engine.lifecycle import step
from tests.notifications.test_channels import HOST, Mailbox, free_port
from tests.notifications.test_dispatch import mailbox_message, people  # noqa: F401  (fixture)


def _user(session, name):
    return session.exec(select(User).where(User.name == name)).one()


def test_a_digest_reader_gets_one_mail_a_day_with_every_link_and_nothing_per_message(session, engine_db, people,
                                                                                    frozen):
    inbox.set_digest(session=session, user_id=_user(session, "林长华").id, daily=True)
    mailbox, port = Mailbox(), free_port()
    config = Settings(smtp_host=HOST, smtp_port=port, smtp_starttls=False, base_url="https://kp.example.gov.cn")
    controller = Controller(mailbox, hostname=HOST, port=port)
    controller.start()
    try:
        frozen.move(timedelta(minutes=1))  # after the choice: these messages belong to the first digest
        first, second = f.target(session, code="1-1-1"), f.target(session, code="1-1-2")
        for t in (first, second):
            step(session, t.id, "start", f.STAFF)
            step(session, t.id, "self_assess", f.STAFF)
        frozen.move(timedelta(minutes=5))
        step(session, first.id, "sign", f.LEADER)  # the office is told by mail, as it chose nothing else
        dispatch.dispatch(engine_db, config)
        to = [e.rcpt_tos for e in mailbox.envelopes]
        assert to == [["jxb@example.gov.cn"]]  # 林长华 got both in his inbox, no mail yet
        assert len(inbox.items(session=session, user_id=_user(session, "林长华").id)[0]) == 2
        frozen.move(timedelta(hours=23))
        result = digest.send_all(engine_db, config)
        assert (result.sent, result.failed) == (1, 0)
        assert digest.send_all(engine_db, config).sent == 0  # nothing new: no second digest
    finally:
        controller.stop()
    mail = mailbox_message(mailbox.envelopes[-1])
    body = mail.get_content()
    assert mailbox.envelopes[-1].rcpt_tos == ["linch@example.gov.cn"]
    assert mail["Subject"].startswith("【每日汇总】") and "共 2 条消息，待办 1 条" in mail["Subject"]
    assert "林长华，您好" in body and f"https://kp.example.gov.cn/targets/{second.id}" in body
    open_line, done_line = body.index("1-1-2"), body.index("1-1-1")
    assert open_line < done_line and "（已办结）" in body[done_line:]  # open work first, finished work marked


def test_a_digest_that_cannot_be_sent_is_tried_again(session, engine_db, people, frozen):
    inbox.set_digest(session=session, user_id=_user(session, "林长华").id, daily=True)
    frozen.move(timedelta(minutes=1))
    t = f.target(session, code="1-1-1")
    step(session, t.id, "start", f.STAFF)
    step(session, t.id, "self_assess", f.STAFF)
    dispatch.dispatch(engine_db, Settings(smtp_host="", webhook_url=""))
    port = free_port()  # nobody listens
    down = Settings(smtp_host=HOST, smtp_port=port, smtp_starttls=False)
    assert digest.send_all(engine_db, down).failed == 1
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname=HOST, port=port)
    controller.start()
    try:
        assert digest.send_all(engine_db, down).sent == 1
    finally:
        controller.stop()
    assert "1-1-1" in mailbox_message(mailbox.envelopes[0]).get_content()
