"""A local group-robot endpoint on 127.0.0.1 that behaves like DingTalk's, WeCom's or Feishu's.

Each receiver checks a post exactly as its platform documents it, written here independently of
taskflow/notices/channels.py (so a mistake there is not repeated here):

- DingTalk custom robot: access_token in the query; with 加签, `timestamp` (ms, within an hour)
  and `sign` = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))) in the
  query. Wrong token: errcode 300001; bad signature: errcode 310000; success errcode 0.
- WeCom group robot: …/cgi-bin/webhook/send?key=KEY; a wrong key answers errcode 93000.
- Feishu custom bot: with 签名校验, body "timestamp" (s, within an hour) and
  "sign" = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")); bad signature: code 19021
  (msg "sign match fail or timestamp is not within one hour from current time"); success code 0.

Use (the lead can reuse it for any event that should reach a robot):

    from tests.notices.robot_receiver import make_robot, robot_receiver  # noqa: F401 (fixture)

    def test_x(app, robot_receiver, make_unit):
        receiver = robot_receiver("dingtalk", secret="SECabc")
        robot = make_robot(receiver, unit=some_unit)      # a Robot row pointing at it
        ...                                               # cause the event, then
        jobs.deliver_outbox()
        assert len(receiver.messages) == 1 and receiver.refusals == []
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import free_port

ONE_HOUR_MS = 3_600_000


def _b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


class RobotReceiver:
    """One platform's robot endpoint; `messages` holds accepted bodies, `refusals` (code, body)."""

    def __init__(self, platform: str, *, secret: str | None = None, token: str = "tok-123"):
        self.platform = platform
        self.secret = secret
        self.token = token
        self.messages: list[dict] = []
        self.refusals: list[tuple[int, dict]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        """The webhook address as the platform hands it out (pointing here)."""
        base = f"http://127.0.0.1:{self.port}"
        if self.platform == "dingtalk":
            return f"{base}/robot/send?access_token={self.token}"
        if self.platform == "wecom":
            return f"{base}/cgi-bin/webhook/send?key={self.token}"
        return f"{base}/open-apis/bot/v2/hook/{self.token}"

    # ------------------------------------------------------------ checks

    def _dingtalk(self, path: str, body: dict) -> tuple[int, dict]:
        parts = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path != "/robot/send" or query.get("access_token") != [self.token]:
            return 300001, {"errcode": 300001, "errmsg": "token is not exist"}
        if self.secret:
            timestamp = (query.get("timestamp") or [""])[0]
            # parse_qs has undone the URL encoding: what is left is the base64 signature.
            sign = (query.get("sign") or [""])[0]
            expected = _b64_hmac(self.secret.encode("utf-8"),
                                 f"{timestamp}\n{self.secret}".encode("utf-8"))
            fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < ONE_HOUR_MS
            if not fresh or not hmac.compare_digest(sign, expected):
                return 310000, {"errcode": 310000,
                                "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com]"}
        if body.get("msgtype") not in ("text", "markdown", "link", "actionCard", "feedCard"):
            return 40035, {"errcode": 40035, "errmsg": "缺少参数 msgtype"}
        return 0, {"errcode": 0, "errmsg": "ok"}

    def _wecom(self, path: str, body: dict) -> tuple[int, dict]:
        parts = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path != "/cgi-bin/webhook/send" or query.get("key") != [self.token]:
            return 93000, {"errcode": 93000, "errmsg": "invalid webhook url"}
        if body.get("msgtype") not in ("text", "markdown", "image", "news", "file"):
            return 40008, {"errcode": 40008, "errmsg": "invalid message type"}
        return 0, {"errcode": 0, "errmsg": "ok"}

    def _feishu(self, path: str, body: dict) -> tuple[int, dict]:
        if urllib.parse.urlsplit(path).path != f"/open-apis/bot/v2/hook/{self.token}":
            return 19001, {"code": 19001, "msg": "param invalid: incoming webhook access token "
                                                 "invalid", "data": {}}
        if self.secret:
            timestamp = str(body.get("timestamp", ""))
            expected = _b64_hmac(f"{timestamp}\n{self.secret}".encode("utf-8"), b"")
            fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 3600
            if not fresh or not hmac.compare_digest(str(body.get("sign", "")), expected):
                return 19021, {"code": 19021, "msg": "sign match fail or timestamp is not within "
                                                     "one hour from current time", "data": {}}
        if body.get("msg_type") not in ("text", "post", "image", "share_chat", "interactive"):
            return 9499, {"code": 9499, "msg": "Bad Request", "data": {}}
        return 0, {"code": 0, "msg": "success", "data": {}, "StatusCode": 0,
                   "StatusMessage": "success"}

    def check(self, path: str, body: dict) -> tuple[int, dict]:
        """(code, answer) for one post, as the platform would answer it."""
        return {"dingtalk": self._dingtalk, "wecom": self._wecom,
                "feishu": self._feishu}[self.platform](path, body)

    # ------------------------------------------------------------ the server

    def start(self) -> RobotReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = {}
                code, answer = receiver.check(self.path, body)
                with receiver.lock:
                    if code == 0:
                        receiver.messages.append(body)
                    else:
                        receiver.refusals.append((code, body))
                data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(200)  # the platforms answer errors with HTTP 200 too
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ------------------------------------------------------------ reading what arrived

    def texts(self) -> list[str]:
        """The visible text of each accepted message (any platform's format)."""
        result = []
        for body in self.messages:
            if "markdown" in body:
                result.append(body["markdown"].get("text") or body["markdown"].get("content", ""))
            elif "text" in body:
                result.append(body["text"].get("content", ""))
            elif body.get("msg_type") == "post":
                post = body["content"]["post"]["zh_cn"]
                parts = [post.get("title", "")] + [
                    cell.get("text", "") + " " + cell.get("href", "")
                    for row in post.get("content", []) for cell in row]
                result.append("\n".join(parts))
            else:
                result.append(json.dumps(body, ensure_ascii=False))
        return result

    def mentioned(self) -> list[list[str]]:
        """The mobile numbers @-mentioned by each accepted message (Feishu: none possible)."""
        result = []
        for body in self.messages:
            if "at" in body:
                result.append(list(body["at"].get("atMobiles") or []))
            elif "text" in body and isinstance(body["text"], dict):
                result.append(list(body["text"].get("mentioned_mobile_list") or []))
            else:
                result.append([])
        return result


@pytest.fixture
def robot_receiver():
    """robot_receiver(platform, secret=None, token=…): a started RobotReceiver, stopped after."""
    started: list[RobotReceiver] = []

    def factory(platform: str, *, secret: str | None = None, token: str = "tok-123"):
        receiver = RobotReceiver(platform, secret=secret, token=token).start()
        started.append(receiver)
        return receiver

    yield factory
    for receiver in started:
        receiver.stop()


def make_robot(receiver: RobotReceiver | None = None, *, unit=None, platform: str | None = None,
               url: str | None = None, secret: str | None = None, name: str | None = None,
               active: bool = True):
    """A committed Robot row pointing at the receiver (or at `url`); unit None = the office's."""
    from taskflow.extensions import db
    from taskflow.notices.models import Robot

    robot = Robot(platform=platform or receiver.platform,
                  name=name or f"{unit.name if unit else '联席办'}工作群",
                  webhook_url=url or receiver.url,
                  secret=secret if secret is not None else (receiver.secret if receiver else None),
                  unit_id=unit.id if unit else None, active=active)
    db.session.add(robot)
    db.session.commit()
    return robot
