"""Delivery channels for the outbox dispatcher: e-mail over SMTP and JSON webhooks.

Each ``send_*`` function delivers one already-rendered :class:`Message` or raises
:class:`DeliveryError`; ``permanent`` on the error tells the dispatcher whether a retry can help.
Deliveries are at-least-once, so every channel carries the message's idempotency key
(``Message-ID`` / ``X-Kaoping-Delivery`` for mail, ``Idempotency-Key`` for webhooks) for
receivers that deduplicate.
"""
from __future__ import annotations

import contextlib

import hashlib
import json
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, formatdate
from typing import Any

import httpx

WEBHOOK_KINDS = ("json", "wecom", "dingtalk")
# 企业微信群机器人 rejects text content over 2048 bytes (UTF-8) with a non-zero errcode; a
# retry would fail forever, so long texts are cut instead.
WECOM_TEXT_LIMIT = 2048


@dataclass(frozen=True)
class Message:
    """One delivery to one recipient on one channel, already rendered."""

    key: str
    subject: str
    body: str
    event_type: str
    to_name: str = ""
    to_email: str | None = None
    target_code: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    """A delivery failed. ``permanent``: do not retry (e.g. a refused address). ``uncertain``: the
    message may have gone out (the link dropped after it was handed over): do not retry by itself."""

    def __init__(self, message: str, *, permanent: bool = False, uncertain: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.uncertain = uncertain


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the outgoing mail server. ``tls`` is implicit TLS (port 465), ``starttls`` an upgrade."""

    host: str
    port: int = 587
    user: str = ""
    password: str = ""
    starttls: bool = True
    tls: bool = False
    sender: str = "kaoping@localhost"
    timeout: float = 20.0


def message_id(key: str, domain: str = "kaoping.local") -> str:
    """Return a Message-ID that is the same for every (re-)send of the delivery ``key``."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()}@{domain}>"


# ---------------------------------------------------------------- e-mail


def build_email(message: Message, sender: str) -> EmailMessage:
    """Build the MIME message for ``message`` (UTF-8 subject and body, stable Message-ID)."""
    if not message.to_email:
        raise DeliveryError(f"收件人{message.to_name}没有邮箱地址，无法发送邮件", permanent=True)
    email = EmailMessage(policy=SMTP_POLICY)
    try:
        email["From"] = sender
        email["To"] = formataddr((message.to_name, message.to_email))
        # A rendered subject with a line break would be a header injection; fold it to one line.
        email["Subject"] = " ".join(message.subject.split())
        email["Date"] = formatdate(localtime=True)
        email["Message-ID"] = message_id(message.key)
        email["X-Kaoping-Delivery"] = message.key
    except ValueError as exc:  # a malformed address or key: no retry will fix the data
        raise DeliveryError(f"邮件头无效：{exc}", permanent=True) from exc
    # base64 keeps Chinese intact through relays that do not offer 8BITMIME.
    email.set_content(message.body, charset="utf-8", cte="base64")
    return email


def send_email(message: Message, config: SmtpConfig) -> None:
    """Send ``message`` to ``message.to_email`` through the SMTP server of ``config``.

    Raises DeliveryError: permanent for refused addresses, 5xx replies, failed login and
    configurations that would expose the password; transient for network trouble and 4xx replies.
    """
    email = build_email(message, config.sender)
    smtp = None
    try:
        smtp = _connect(config)
        _secure_and_login(smtp, config)
        _hand_over(smtp, email)
    except DeliveryError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(f"邮件服务器拒收收件人：{_describe(exc.recipients)}", permanent=_is_permanent(*codes)) from exc
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, login failed …
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryError(f"邮件服务器拒绝：{exc.smtp_code} {text}", permanent=_is_permanent(exc.smtp_code)) from exc
    except smtplib.SMTPNotSupportedError as exc:  # e.g. no AUTH, or SMTPUTF8 needed: a configuration problem
        raise DeliveryError(f"邮件服务器不支持所需功能：{exc}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, TLS or dropped link
        raise DeliveryError(f"无法连接邮件服务器 {config.host}:{config.port}：{exc!r}") from exc
    finally:
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):  # the message was handed over or refused already
                smtp.quit()


def _hand_over(smtp: smtplib.SMTP, email: EmailMessage) -> None:
    """Send the message; a link that drops or times out once the data is going out leaves it uncertain."""
    try:
        smtp.send_message(email)
    except smtplib.SMTPServerDisconnected as exc:
        raise DeliveryError(f"发送过程中与邮件服务器的连接中断，无法确认是否已送达：{exc!r}", uncertain=True) from exc
    except smtplib.SMTPException:
        raise  # the server answered (SMTPException is an OSError too): it did not take the message
    except OSError as exc:  # a timeout or reset while the data was going out
        raise DeliveryError(f"发送过程中与邮件服务器的连接中断，无法确认是否已送达：{exc!r}", uncertain=True) from exc


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.tls:
        return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=ssl.create_default_context())
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def _secure_and_login(smtp: smtplib.SMTP, config: SmtpConfig) -> None:
    if config.starttls and not config.tls:
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        elif config.user or config.password:
            # Sending the password in clear is worse than not sending the mail: refuse for good.
            raise DeliveryError(
                f"邮件服务器 {config.host}:{config.port} 不支持 STARTTLS，拒绝以明文发送密码", permanent=True
            )
    if config.user:
        smtp.login(config.user, config.password)


def _is_permanent(*codes: int) -> bool:
    # SMTP 5xx replies are final; 4xx (greylisting, mailbox busy) and odd codes may pass later.
    return bool(codes) and all(500 <= code < 600 for code in codes)


def _describe(refused: dict[str, tuple[int, bytes]]) -> str:
    return "；".join(f"{addr} {code} {text.decode('utf-8', 'replace')}" for addr, (code, text) in refused.items())


# ---------------------------------------------------------------- webhooks


def webhook_payload(message: Message, kind: str = "json") -> dict[str, Any]:
    """Return the JSON body for ``kind``: "json" (our own format), "wecom" or "dingtalk" group robots."""
    if kind == "json":
        return {
            "key": message.key,
            "event_type": message.event_type,
            "subject": message.subject,
            "body": message.body,
            "to": {"name": message.to_name, "email": message.to_email},
            "target_code": message.target_code,
            "data": message.data,
        }
    content = f"{message.subject}\n{message.body}"
    if kind == "wecom":
        return {"msgtype": "text", "text": {"content": _cut_utf8(content, WECOM_TEXT_LIMIT)}}
    if kind == "dingtalk":
        return {"msgtype": "text", "text": {"content": content}}
    raise ValueError(f"unknown webhook kind {kind!r}; expected one of {', '.join(WEBHOOK_KINDS)}")


def send_webhook(message: Message, url: str, kind: str = "json", timeout: float = 10.0) -> None:
    """POST ``message`` to ``url`` as ``kind`` with an ``Idempotency-Key`` header.

    Raises ValueError for an unknown kind and DeliveryError when the receiver did not take it:
    permanent for 4xx (except 408/429), transient for other statuses, network errors and a
    robot's non-zero ``errcode``.
    """
    payload = webhook_payload(message, kind)
    try:
        content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:  # data that is not JSON: resending the same data fails again
        raise DeliveryError(f"通知数据无法转换为 JSON：{exc}", permanent=True) from exc
    # DingTalk asks for an explicit UTF-8 charset; it costs nothing for the others.
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.key}
    try:
        response = httpx.post(url, content=content, headers=headers, timeout=timeout)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise DeliveryError(f"Webhook 地址无效：{_safe_url(url)}：{exc}", permanent=True) from exc
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:  # nothing was sent
        raise DeliveryError(f"无法连接 Webhook {_safe_url(url)}：{exc!r}") from exc
    except httpx.TransportError as exc:  # sent, but no answer: it may have arrived
        raise DeliveryError(f"Webhook {_safe_url(url)} 未应答，无法确认是否已送达：{exc!r}", uncertain=True) from exc
    _check_response(response, kind)


def _check_response(response: httpx.Response, kind: str) -> None:
    status = response.status_code
    if not 200 <= status < 300:
        permanent = 400 <= status < 500 and status not in (408, 429)
        raise DeliveryError(f"Webhook 返回 HTTP {status}：{response.text[:200]}", permanent=permanent)
    if kind == "json":
        return
    # Robots answer 200 even on failure; only errcode 0 means the group got the message.
    try:
        errcode = response.json().get("errcode")
    except (ValueError, AttributeError):
        errcode = None
    if errcode != 0:
        raise DeliveryError(f"群机器人未接受消息：{response.text[:200]}")


def _cut_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    marker = "…"
    cut = data[: limit - len(marker.encode("utf-8"))]
    return cut.decode("utf-8", "ignore") + marker


def _safe_url(url: str) -> str:
    # Robot URLs carry their secret in the query (key=…, access_token=…): keep it out of error logs.
    return url.split("?", 1)[0]
