"""Delivery channels: e-mail over SMTP, a JSON POST to a generic webhook, and the group robots
(custom bots) of DingTalk, WeCom and Feishu, each in its platform's own format and signing
(no extra packages).

Group robots, as the platforms document them:

- DingTalk custom robot (also 渝快政 / 浙政钉, built on DingTalk): POST JSON
  {"msgtype": "markdown", "markdown": {"title", "text"}, "at": {"atMobiles": [...],
  "isAtAll": false}} to https://oapi.dingtalk.com/robot/send?access_token=…; a mentioned number
  is also written as @138… in the text (DingTalk only highlights mentions that appear there).
  加签: string_to_sign = f"{timestamp_ms}\\n{secret}", HMAC-SHA256 keyed by the secret, base64,
  URL-encoded, appended as &timestamp=…&sign=… (the timestamp within an hour of DingTalk's
  clock). Success: errcode 0; a wrong signature answers errcode 310000.
- WeCom group robot: POST to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY (the key is
  the credential; there is no signing). A markdown message cannot @ anyone by mobile number (its
  <@userid> needs WeCom user ids, which TaskFlow does not have), so a message that mentions people
  is sent as ONE text message with "mentioned_mobile_list" (the mentions work, the formatting is
  plain), and a message that mentions nobody as markdown. One post per event either way, so the
  rate limit and exactly-once hold per message. Success: errcode 0.
- Feishu custom bot: POST to https://open.feishu.cn/open-apis/bot/v2/hook/…; with 签名校验 the body
  carries "timestamp" (seconds, as a string) and "sign" = base64(HMAC-SHA256 keyed by
  f"{timestamp}\\n{secret}" over an empty message). Sent as msg_type "post" (rich text). Success:
  code 0 (older answers: StatusCode 0); a wrong signature answers code 19021. A custom bot can
  only @ by open_id / user_id (<at user_id="ou_…">) or @all, never by mobile number, and TaskFlow
  has no Feishu ids: the people concerned are named in the text instead of being @-mentioned.

Signatures use the real wall-clock time (the platforms check it against theirs), never the
app's pinned clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.parse
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


# ---------------------------------------------------------------- group robots

PLATFORM_NAMES = {"dingtalk": "DingTalk", "wecom": "WeCom", "feishu": "Feishu"}
# What each platform says when the signature does not match (for a clearer reason).
BAD_SIGNATURE_CODES = {"dingtalk": {310000}, "feishu": {19021}}
TEXT_LIMIT = {"dingtalk": 18000, "wecom": 2000, "feishu": 15000}  # characters, under the limits


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"),
                      hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu 签名校验: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    key = f"{timestamp_s}\n{secret}".encode("utf-8")
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def _clip(text: str, platform: str) -> str:
    limit = TEXT_LIMIT[platform]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dingtalk_request(url: str, secret: str | None, content: dict, mobiles: list[str],
                     now: float) -> tuple[str, dict]:
    """(URL, JSON body) of a DingTalk custom robot message."""
    if secret:
        timestamp = int(now * 1000)
        url += ("&" if "?" in url else "?") + \
            f"timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
    text = f"#### {content['title']}\n\n" + "\n\n".join(content.get("lines") or [])
    if content.get("link"):
        text += f"\n\n[{content.get('link_label') or content['link']}]({content['link']})"
    if mobiles:
        text += "\n\n" + " ".join(f"@{number}" for number in mobiles)
    body = {"msgtype": "markdown",
            "markdown": {"title": content["title"][:100], "text": _clip(text, "dingtalk")},
            "at": {"atMobiles": list(mobiles), "isAtAll": False}}
    return url, body


def wecom_request(url: str, secret: str | None, content: dict, mobiles: list[str],
                  now: float) -> tuple[str, dict]:
    """(URL, JSON body) of a WeCom group robot message: text with mentions, else markdown."""
    lines = list(content.get("lines") or [])
    if mobiles:
        text = "\n".join([content["title"], *lines] + ([content["link"]] if content.get("link")
                                                       else []))
        return url, {"msgtype": "text", "text": {"content": _clip(text, "wecom"),
                                                 "mentioned_mobile_list": list(mobiles)}}
    text = f"**{content['title']}**\n" + "\n".join(f"> {line}" for line in lines)
    if content.get("link"):
        text += f"\n[{content.get('link_label') or content['link']}]({content['link']})"
    return url, {"msgtype": "markdown", "markdown": {"content": _clip(text, "wecom")}}


def feishu_request(url: str, secret: str | None, content: dict, mobiles: list[str],
                   now: float) -> tuple[str, dict]:
    """(URL, JSON body) of a Feishu custom bot rich-text (post) message."""
    rows = [[{"tag": "text", "text": line}] for line in content.get("lines") or []]
    names = content.get("mention_names") or []
    if names:
        rows.append([{"tag": "text", "text": " ".join(f"@{name}" for name in names)}])
    if content.get("link"):
        rows.append([{"tag": "a", "text": content.get("link_label") or content["link"],
                      "href": content["link"]}])
    body: dict = {"msg_type": "post", "content": {"post": {"zh_cn": {
        "title": _clip(content["title"], "feishu"), "content": rows}}}}
    if secret:
        timestamp = int(now)
        body = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **body}
    return url, body


ADAPTERS = {"dingtalk": dingtalk_request, "wecom": wecom_request, "feishu": feishu_request}


def _platform_answer(platform: str, answer: dict) -> tuple[int | None, str]:
    """The platform's result code and message (None: no code in the answer)."""
    if platform == "feishu":
        code = answer.get("code", answer.get("StatusCode"))
        return code, str(answer.get("msg", answer.get("StatusMessage", "")))
    return answer.get("errcode"), str(answer.get("errmsg", ""))


def post_robot(message) -> None:
    """Sign and post one robot message; any refusal raises DeliveryError with the reason.

    `message.robot` (platform, webhook_url, secret, name) and `message.mobiles` are filled in by
    the outbox job from the robot row and the mentioned users when it claims the message."""
    robot = message.robot
    platform = robot.platform
    label = PLATFORM_NAMES.get(platform, platform)
    if not getattr(robot, "active", True):
        # Queued before the robot was switched off: kept (retried, then failed) for an admin.
        raise DeliveryError(f"{label} robot {robot.name} is switched off in TaskFlow")
    url, body = ADAPTERS[platform](robot.webhook_url, robot.secret, message.payload or {},
                                   list(message.mobiles or []), time.time())
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - admin's URL
            text = response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{label} robot answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{label} robot unreachable: {reason}") from exc
    try:
        answer = json.loads(text)
    except ValueError:
        raise DeliveryError(f"{label} robot gave an answer that is not JSON: {text[:200]}") from None
    if not isinstance(answer, dict):
        raise DeliveryError(f"{label} robot gave an unexpected answer: {text[:200]}")
    code, words = _platform_answer(platform, answer)
    if code == 0:
        return
    if code in BAD_SIGNATURE_CODES.get(platform, ()):
        raise DeliveryError(f"{label} refused the signature (code {code}: {words}): check the "
                            "robot's secret and the server's clock")
    raise DeliveryError(f"{label} refused the message (code {code}: {words})")


def deliver(message) -> None:
    """Send one outbox message through its channel."""
    if message.channel == "email":
        send_email(message)
    elif message.channel == "webhook":
        post_webhook(message)
    elif message.channel == "robot":
        post_robot(message)
    else:
        raise DeliveryError(f"unknown channel {message.channel}")
