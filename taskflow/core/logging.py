"""Logs: one line per record, JSON when TASKFLOW_LOG_FORMAT=json, readable text otherwise.

Every record logged while a request runs carries its request id (the X-Request-ID the proxy sent,
or a new one; echoed in the response), the signed-in user's id and the path. Each request ends
with one line from the `taskflow.request` logger with method, path, status and duration.
"""

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request
from sqlalchemy import inspect as sa_inspect

REQUEST_LOG = logging.getLogger("taskflow.request")
REQUEST_ID_HEADER = "X-Request-ID"
# Accept a proxy's request id only when it looks like one (no log injection through it).
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{6,64}$")
# Paths polled by load balancers: logged at DEBUG, not INFO.
QUIET_PATHS = frozenset({"/healthz"})

# Attributes every LogRecord has; anything else passed via `extra=` is emitted as a JSON field.
_RECORD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "user_id", "path"}
)


def current_request_id() -> str | None:
    """This request's id, or None outside a request."""
    if not has_request_context():
        return None
    rid = getattr(g, "request_id", None)
    if rid is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    return rid


def _current_user_id() -> int | None:
    """The signed-in user's id without loading anything from the database."""
    user = g.get("_login_user") if has_request_context() else None
    if user is None:
        return None
    try:
        state = sa_inspect(user)
    except Exception:  # noqa: BLE001 - anonymous user: not a mapped object
        return None
    identity = state.identity
    return identity[0] if identity else None


class RequestContextFilter(logging.Filter):
    """Adds request_id, user_id and path to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = current_request_id()
            record.user_id = _current_user_id()
            record.path = request.path
        else:
            record.request_id = record.user_id = record.path = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, user_id, path, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
            "path": getattr(record, "path", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines; the request id (first 8 characters) when there is one."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.rid = f" [{rid[:8]}]" if rid else ""
        return super().format(record)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it per test)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__/setStream assign it: always sys.stderr
        pass


def configure(fmt: str = "text", level: str = "INFO") -> logging.Handler:
    """Route the root logger through one stderr handler with our formatter (idempotent)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_taskflow", False)), None)
    if handler is None:
        # Replace the plain stderr handler logging.basicConfig() installed, if any.
        for existing in list(root.handlers):
            if type(existing) is logging.StreamHandler and existing.stream in (sys.stderr,
                                                                                 sys.stdout):
                root.removeHandler(existing)
        handler = StderrHandler()
        handler._taskflow = True  # type: ignore[attr-defined]
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.setLevel(level.upper())
    return handler


def _start_request() -> None:
    g.request_started = time.perf_counter()
    current_request_id()


def _finish_request(response):
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    response.headers.setdefault(REQUEST_ID_HEADER, current_request_id())
    level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
    REQUEST_LOG.log(
        level,
        "%s %s %s %sms",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        extra={"method": request.method, "status": response.status_code,
               "duration_ms": duration_ms, "remote_addr": request.remote_addr},
    )
    return response


def init_app(app: Flask) -> None:
    """Configure logging from LOG_FORMAT / LOG_LEVEL and log every request."""
    configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
