"""Delivery channels against real servers on loopback: aiosmtpd for mail, http.server for webhooks."""
from __future__ import annotations

import email
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from notifications.channels import (
    WECOM_TEXT_LIMIT,
    DeliveryError,
    Message,
    SmtpConfig,
    message_id,
    send_email,
    send_webhook,
)

HOST = "127.0.0.1"
SUBJECT = "【考评】目标 KP-2024-007 待您签署"
BODY = "张三同志：\n您好！绩效目标「全年完成审批事项 1200 件」已提交，请于 3 月 15 日前签署。\n——考评系统"


def make_message(key: str = "evt-12:user-3:email", **changes: Any) -> Message:
    fields: dict[str, Any] = dict(
        key=key, subject=SUBJECT, body=BODY, event_type="target.sign", to_name="张三",
        to_email="zhangsan@example.gov.cn", target_code="KP-2024-007", data={"target_id": 7, "阶段": "签署"},
    )
    fields.update(changes)
    return Message(**fields)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- SMTP server


class Mailbox:
    """aiosmtpd handler that keeps what it receives; ``rcpt_reply`` makes it refuse recipients."""

    def __init__(self, rcpt_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.envelopes: list[Any] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"kaoping" and auth_data.password == b"s3cret"
        # handled defaults to True ("I already replied"): without False a refusal never answers.
        return AuthResult(success=ok, handled=False)

    def received(self) -> email.message.EmailMessage:
        assert len(self.envelopes) == 1
        return email.message_from_bytes(self.envelopes[0].original_content, policy=default_policy)


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """Start aiosmtpd on a free loopback port; call it with Controller options, get (mailbox, port)."""
    controllers: list[Controller] = []

    def start(mailbox: Mailbox | None = None, **options: Any) -> tuple[Mailbox, int]:
        mailbox = mailbox or Mailbox()
        port = free_port()
        controller = Controller(mailbox, hostname=HOST, port=port, **options)
        controller.start()
        controllers.append(controller)
        return mailbox, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(tls_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1, and the client trusting its CA (SSL_CERT_FILE)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(HOST).configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    return ctx


def test_email_arrives_with_chinese_intact(smtp_server: Any) -> None:
    mailbox, port = smtp_server()
    send_email(make_message(), SmtpConfig(HOST, port, sender="考评系统 <kaoping@bureau.gov.cn>"))

    envelope = mailbox.envelopes[0]
    assert envelope.rcpt_tos == ["zhangsan@example.gov.cn"]
    assert envelope.mail_from == "kaoping@bureau.gov.cn"
    assert envelope.original_content.isascii()  # encoded words + base64: survives any 7-bit relay
    received = mailbox.received()
    assert received["Subject"] == SUBJECT
    assert received.get_content().replace("\r\n", "\n").rstrip("\n") == BODY
    assert received.get_content_charset() == "utf-8"
    assert received["To"].addresses[0].display_name == "张三"
    assert received["To"].addresses[0].addr_spec == "zhangsan@example.gov.cn"
    assert received["From"].addresses[0].display_name == "考评系统"
    assert received["X-Kaoping-Delivery"] == "evt-12:user-3:email"
    assert received["Message-ID"] == message_id("evt-12:user-3:email")
    assert received["Date"].datetime is not None


def test_message_id_is_stable_per_key(smtp_server: Any) -> None:
    mailbox, port = smtp_server()
    config = SmtpConfig(HOST, port)
    for key in ("evt-1:user-1:email", "evt-1:user-1:email", "evt-1:user-2:email"):
        send_email(make_message(key), config)
    ids = [email.message_from_bytes(env.original_content, policy=default_policy)["Message-ID"] for env in mailbox.envelopes]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0] == message_id("evt-1:user-1:email")
    assert message_id("k") == message_id("k") and message_id("k").endswith("@kaoping.local>")
    assert len(message_id("k", "bureau.gov.cn")) == 1 + 64 + len("@bureau.gov.cn") + 1


def test_refused_recipient_is_permanent(smtp_server: Any) -> None:
    mailbox, port = smtp_server(Mailbox(rcpt_reply="550 5.1.1 No such user"))
    with pytest.raises(DeliveryError) as caught:
        send_email(make_message(), SmtpConfig(HOST, port))
    assert caught.value.permanent
    assert "550" in str(caught.value)
    assert mailbox.envelopes == []


def test_busy_mailbox_is_transient(smtp_server: Any) -> None:
    _, port = smtp_server(Mailbox(rcpt_reply="450 4.2.1 Mailbox busy, try later"))
    with pytest.raises(DeliveryError) as caught:
        send_email(make_message(), SmtpConfig(HOST, port))
    assert not caught.value.permanent


def test_no_server_is_transient() -> None:
    with pytest.raises(DeliveryError) as caught:
        send_email(make_message(), SmtpConfig(HOST, free_port(), timeout=2))
    assert not caught.value.permanent


def test_silent_server_times_out_transiently() -> None:
    with socket.create_server((HOST, 0)) as listener:  # accepts, never greets
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            send_email(make_message(), SmtpConfig(HOST, port, timeout=0.5))
    assert not caught.value.permanent
    # Without a timeout this would wait forever; the bound only tells that apart, whatever the machine's speed.
    assert time.monotonic() - started < 120


def test_missing_address_is_permanent() -> None:
    with pytest.raises(DeliveryError) as caught:
        send_email(make_message(to_email=None), SmtpConfig(HOST, free_port()))
    assert caught.value.permanent


# Deliberate: AUTH on a plain link to test login; aiosmtpd warns about exactly that.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_when_user_is_set(smtp_server: Any) -> None:
    mailbox = Mailbox()
    _, port = smtp_server(mailbox, authenticator=mailbox.authenticate, auth_required=True, auth_require_tls=False)
    send_email(make_message(), SmtpConfig(HOST, port, user="kaoping", password="s3cret", starttls=False))
    assert mailbox.logins == [(b"kaoping", b"s3cret")]
    assert mailbox.received()["Subject"] == SUBJECT


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_password_is_permanent(smtp_server: Any) -> None:
    mailbox = Mailbox()
    _, port = smtp_server(mailbox, authenticator=mailbox.authenticate, auth_required=True, auth_require_tls=False)
    with pytest.raises(DeliveryError) as caught:
        send_email(make_message(), SmtpConfig(HOST, port, user="kaoping", password="wrong", starttls=False))
    assert caught.value.permanent
    assert mailbox.envelopes == []


def test_no_password_in_clear_without_starttls(smtp_server: Any) -> None:
    mailbox = Mailbox()
    _, port = smtp_server(mailbox, authenticator=mailbox.authenticate, auth_require_tls=False)
    with pytest.raises(DeliveryError) as caught:
        send_email(make_message(), SmtpConfig(HOST, port, user="kaoping", password="s3cret", starttls=True))
    assert caught.value.permanent
    assert "STARTTLS" in str(caught.value)
    assert mailbox.logins == [] and mailbox.envelopes == []


def test_starttls_then_login(smtp_server: Any, server_tls: ssl.SSLContext) -> None:
    mailbox = Mailbox()
    # aiosmtpd's defaults: AUTH only after TLS; require_starttls refuses mail on a plain link.
    _, port = smtp_server(mailbox, authenticator=mailbox.authenticate, tls_context=server_tls, require_starttls=True)
    send_email(make_message(), SmtpConfig(HOST, port, user="kaoping", password="s3cret"))
    assert mailbox.logins == [(b"kaoping", b"s3cret")]
    assert mailbox.received()["Subject"] == SUBJECT


def test_starttls_with_untrusted_certificate_fails(smtp_server: Any, server_tls: ssl.SSLContext,
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    mailbox = Mailbox()
    _, port = smtp_server(mailbox, authenticator=mailbox.authenticate, tls_context=server_tls)
    with pytest.raises(DeliveryError):
        send_email(make_message(), SmtpConfig(HOST, port, user="kaoping", password="s3cret"))
    assert mailbox.logins == [] and mailbox.envelopes == []


def test_implicit_tls(smtp_server: Any, server_tls: ssl.SSLContext) -> None:
    mailbox, port = smtp_server(ssl_context=server_tls)
    send_email(make_message(), SmtpConfig(HOST, port, tls=True))
    assert mailbox.received().get_content().startswith("张三同志")


# ---------------------------------------------------------------- webhook server


class Hook:
    """What the webhook server received, and what it answers next."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.reply: bytes = b'{"errcode": 0, "errmsg": "ok"}'
        #: Set: answer at once. Cleared: hold the answer until the test is over (a server that never answers in time).
        self.answer = threading.Event()
        self.answer.set()
        self.url = ""


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw, "json": json.loads(raw)})
            state.answer.wait()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://{HOST}:{server.server_address[1]}/hook?key=secret-token"
    yield state
    state.answer.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_json_webhook(hook: Hook) -> None:
    send_webhook(make_message(), hook.url)
    request = hook.requests[0]
    assert request["path"] == "/hook?key=secret-token"
    assert request["headers"]["Idempotency-Key"] == "evt-12:user-3:email"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["json"] == {
        "key": "evt-12:user-3:email", "event_type": "target.sign", "subject": SUBJECT, "body": BODY,
        "to": {"name": "张三", "email": "zhangsan@example.gov.cn"}, "target_code": "KP-2024-007",
        "data": {"target_id": 7, "阶段": "签署"},
    }
    assert "张三".encode() in request["raw"]  # UTF-8 on the wire, not \\u escapes


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
def test_robot_webhooks(hook: Hook, kind: str) -> None:
    send_webhook(make_message(), hook.url, kind=kind)
    request = hook.requests[0]
    assert request["json"] == {"msgtype": "text", "text": {"content": SUBJECT + "\n" + BODY}}
    assert request["headers"]["Idempotency-Key"] == "evt-12:user-3:email"


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
def test_robot_errcode_is_a_transient_failure(hook: Hook, kind: str) -> None:
    hook.reply = b'{"errcode": 45009, "errmsg": "api freq out of limit"}'
    with pytest.raises(DeliveryError) as caught:
        send_webhook(make_message(), hook.url, kind=kind)
    assert not caught.value.permanent
    assert "45009" in str(caught.value)


def test_robot_reply_that_is_not_json_is_a_failure(hook: Hook) -> None:
    hook.reply = b"<html>proxy</html>"
    with pytest.raises(DeliveryError):
        send_webhook(make_message(), hook.url, kind="wecom")


def test_wecom_text_is_cut_to_its_limit(hook: Hook) -> None:
    send_webhook(make_message(body="考" * 2000), hook.url, kind="wecom")
    content = hook.requests[0]["json"]["text"]["content"]
    assert content.startswith(SUBJECT) and content.endswith("…")
    assert len(content.encode("utf-8")) <= WECOM_TEXT_LIMIT


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (400, True), (404, True),
                                                   (408, False), (429, False)])
def test_http_status(hook: Hook, status: int, permanent: bool) -> None:
    hook.status, hook.reply = status, b'{"error": "x"}'
    with pytest.raises(DeliveryError) as caught:
        send_webhook(make_message(), hook.url)
    assert caught.value.permanent is permanent
    assert str(status) in str(caught.value)


def test_unreachable_webhook_is_transient() -> None:
    url = f"http://{HOST}:{free_port()}/hook?access_token=secret-token"
    with pytest.raises(DeliveryError) as caught:
        send_webhook(make_message(), url, timeout=2)
    assert not caught.value.permanent
    assert "secret-token" not in str(caught.value)


def test_slow_webhook_times_out_transiently(hook: Hook) -> None:
    hook.answer.clear()
    with pytest.raises(DeliveryError) as caught:
        send_webhook(make_message(), hook.url, timeout=0.2)
    assert not caught.value.permanent


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        send_webhook(make_message(), "http://127.0.0.1:9/", kind="slack")
