"""Delivery channels: e-mail over SMTP and a JSON POST to a group-bot webhook (no extra packages)."""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app


class DeliveryError(RuntimeError):
    """The remote side refused or failed; the outbox retries later."""


def send_email(message) -> None:
    """Send one outbox e-mail through SMTP_HOST:SMTP_PORT."""
    config = current_app.config
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = config["MAIL_FROM"]
    mail["To"] = message.recipient
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain="taskflow.local")
    mail["X-TaskFlow-Outbox-Id"] = str(message.id)
    mail.set_content(message.body, charset="utf-8")
    try:
        with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]),
                          timeout=30) as smtp:
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {exc}") from exc


def post_webhook(message) -> None:
    """POST the message's JSON payload to its recipient URL; 2xx (and errcode 0 if given) is success."""
    body = json.dumps(message.payload or {}, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        message.recipient, data=body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - configured URL
            status = response.status
            text = response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook HTTP {status}")
    try:
        answer = json.loads(text) if text.strip() else {}
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        raise DeliveryError(f"webhook errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")


def deliver(message) -> None:
    """Send one outbox message through its channel."""
    if message.channel == "email":
        send_email(message)
    elif message.channel == "webhook":
        post_webhook(message)
    else:
        raise DeliveryError(f"unknown channel {message.channel}")
