"""Structured logs: one JSON object per line with the request's id, user, path, status, duration."""

import json
import logging

import pytest

from taskflow.core.logging import JsonFormatter, configure


def _json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.fixture
def json_logs(app):
    configure("json", "INFO")
    yield
    configure("text", "INFO")


def test_each_request_logs_one_json_line(app, client, make_user, login, json_logs, capsys):
    user = make_user("office")
    login(user)
    capsys.readouterr()
    response = client.get("/healthz", headers={"X-Request-ID": "req-0001-abcdef"})
    assert response.headers["X-Request-ID"] == "req-0001-abcdef"
    client.get("/no-such-page")
    entries = _json_lines(capsys.readouterr().err)
    requests = [e for e in entries if e["logger"] == "taskflow.request"]
    missing = next(e for e in requests if e["path"] == "/no-such-page")
    assert missing["status"] == 404
    assert missing["level"] == "INFO"
    assert missing["user_id"] == user.id
    assert missing["method"] == "GET"
    assert isinstance(missing["duration_ms"], float)
    assert missing["time"].endswith("+00:00")
    assert len(missing["request_id"]) == 32
    assert missing["message"].startswith("GET /no-such-page 404")
    # Health checks are polled constantly: logged at DEBUG, so not at INFO.
    assert not any(e["path"] == "/healthz" for e in requests)


@pytest.mark.fresh_app
def test_records_logged_inside_a_request_carry_its_id(app, json_logs, capsys):
    log = logging.getLogger("taskflow.test")

    @app.get("/log-something")
    def log_something():
        log.warning("something happened", extra={"unit_id": 7})
        return "ok"

    client = app.test_client()
    response = client.get("/log-something", headers={"X-Request-ID": "trace-123456"})
    entries = _json_lines(capsys.readouterr().err)
    entry = next(e for e in entries if e["logger"] == "taskflow.test")
    assert entry == {**entry, "level": "WARNING", "message": "something happened",
                     "request_id": "trace-123456", "path": "/log-something", "unit_id": 7,
                     "user_id": None}
    assert response.headers["X-Request-ID"] == "trace-123456"


def test_outside_a_request_fields_are_null_and_exceptions_are_kept():
    record = logging.LogRecord("taskflow.job", logging.ERROR, __file__, 1, "failed %s", ("x",),
                               None)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed x" and entry["request_id"] is None
    assert "ValueError: boom" in entry["exception"]


def test_text_format_is_human_readable(app, capsys):
    configure("text", "INFO")
    logging.getLogger("taskflow.test").info("plain line")
    err = capsys.readouterr().err
    assert "INFO taskflow.test plain line" in err and "{" not in err
