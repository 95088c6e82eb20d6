"""Messages people can act on: the link to the target's page and the due date, in the mail a real SMTP server gets."""
from __future__ import annotations

from aiosmtpd.controller import Controller

from engine.store.config import Settings
from notifications import dispatch, messages
from tests import factories as f
from tests.engine.lifecycle import drive
from tests.notifications.test_channels import HOST, Mailbox, free_port
from tests.notifications.test_dispatch import mailbox_message, people  # noqa: F401  (the fixture)


def test_the_mail_links_to_the_target_and_says_by_when(session, engine_db, people):
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
    body = mailbox_message(envelope).get_content()
    assert f"查看和办理：https://kaoping.example.gov.cn/targets/{t.id}" in body
    session.refresh(t)
    assert f"本阶段期限：{t.state_due.isoformat()}" in body
    assert body.rstrip().endswith("—— 考评系统")  # the signature stays last


def test_a_message_without_a_target_is_unchanged():
    plain = messages.render("target.sign", {"code": "1-1-1", "actor": "林长华", "to_label": "领导已审签", "text": "x"}, "绩效办")
    assert "查看和办理" not in plain[1] and "本阶段期限" not in plain[1]
