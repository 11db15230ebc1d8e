"""Fixtures for the production proofs: fuzzing, upload attacks, load and faults.

    reporting_world        a task, a town with a reporter and a unit head, an office user, an
                           admin, a milestone; the clock is NOT frozen (real time)
    row_counts(*models)    {model name: row count}, read fresh
    evidence_files(app)    every stored blob under DATA_DIR/evidence (temp files included)
    server_env(app, ...)   environment for a `flask …` or gunicorn subprocess over the test's own
                           database (SQLite file or the worker's PostgreSQL database) and DATA_DIR
    gunicorn_server(...)   start gunicorn (several sync workers) over that environment on a free
                           loopback port; stopped at teardown
    WebSession             a cookie-keeping HTTP client over urllib (no redirects followed) that
                           signs in through the real form and posts multipart forms with CSRF
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from taskflow.extensions import db
from tests.helpers import TEST_PASSWORD, LazyUsers, free_port, fresh, minimal_pdf

ROOT = Path(__file__).resolve().parents[2]
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def row_counts(*models) -> dict[str, int]:
    """Row count of each model, read fresh."""
    fresh()
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in models}


def evidence_files(app) -> list[Path]:
    """Every file under DATA_DIR/evidence (blobs and left-over temp files)."""
    root = Path(app.config["DATA_DIR"]) / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def reporting_world(app, make_task, make_unit, make_assignment, make_milestone, make_user):
    """A responsible town with a reporter, a unit head, the office, an admin and one milestone
    due in 30 days (so extension requests are possible on the real clock)."""
    from taskflow.core import clock

    task = make_task(title="培育科技型企业")
    town = make_unit(name="古南街道")
    assignment = make_assignment(task=task, unit=town, role="responsible")
    due = clock.local_today() + timedelta(days=30)
    milestone = make_milestone(assignment=assignment, due=due, title="第1季度进展")
    users = LazyUsers(make_user, {
        "reporter": ("reporter", town, {"username": "town_reporter"}),
        "head": ("unit_head", town, {"username": "town_head"}),
        "office": ("office", None, {"username": "office_user"}),
        "admin": ("admin", None, {"username": "admin_user"}),
    })
    return SimpleNamespace(task=task, town=town, assignment=assignment, milestone=milestone,
                           users=users, due=due)


@pytest.fixture
def signed_in(app):
    """signed_in(user): a new CSRF-aware test client signed in through the real form."""

    def factory(user):
        client = app.test_client()
        response = client.post("/login", data={"username": user.username,
                                               "password": TEST_PASSWORD})
        assert response.status_code == 302, response.status_code
        fresh()
        return client

    return factory


# ---------------------------------------------------------------- subprocesses


def database_url(app) -> str:
    with app.app_context():
        return db.engine.url.render_as_string(hide_password=False)


def server_env(app, **extra: str) -> dict[str, str]:
    """Environment for a production-configured subprocess over the test's database and files."""
    env = dict(os.environ)
    env.pop("TASKFLOW_TEST_DATABASE_URL", None)
    env.update(
        FLASK_APP="taskflow:create_app",
        TASKFLOW_ENV="production",
        TASKFLOW_SECRET_KEY=str(app.secret_key),
        # Production needs the field key: the same one the test app generated or was given.
        TASKFLOW_FIELD_KEY=str(app.config.get("FIELD_KEY")
                               or (Path(app.config["INSTANCE_DIR"]) / "field_key").read_text().strip()),
        TASKFLOW_DATABASE_URL=database_url(app),
        TASKFLOW_INSTANCE_DIR=str(app.config["INSTANCE_DIR"]),
        TASKFLOW_DATA_DIR=str(app.config["DATA_DIR"]),
        TASKFLOW_COOKIE_SECURE="0",
        TASKFLOW_HSTS_SECONDS="0",
        TASKFLOW_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def flask_bin() -> str:
    return str(Path(sys.executable).parent / "flask")


@dataclass
class GunicornServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def gunicorn_server(app, tmp_path):
    """start(workers=4, **env) → GunicornServer: gunicorn -c gunicorn.conf.py taskflow.wsgi:app
    over the test's database and DATA_DIR, ready when /healthz (or /login) answers."""
    started: list[GunicornServer] = []

    def start(workers: int = 4, **extra) -> GunicornServer:
        port = free_port()
        env = server_env(app, TASKFLOW_BIND=f"127.0.0.1:{port}", TASKFLOW_WEB_WORKERS=workers,
                         TASKFLOW_ACCESS_LOG="/dev/null", **extra)
        log_path = tmp_path / f"gunicorn-{port}.log"
        with app.app_context():
            db.session.remove()
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
             "taskflow.wsgi:app"],
            cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        server = GunicornServer(process, port, log_path)
        started.append(server)
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited {process.returncode}:\n{server.log()}")
            try:
                with urllib.request.urlopen(server.base_url + "/login", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{server.log()}")
            time.sleep(0.2)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGTERM)
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(timeout=10)


# ---------------------------------------------------------------- an HTTP client


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class WebSession:
    """One browser: its own cookies; redirects are returned, not followed."""

    def __init__(self, base_url: str, timeout: float = 60):
        self.base_url = base_url
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())
        self.csrf: str | None = None

    def _open(self, request) -> Reply:
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            body = response.read()
            headers = {k.lower(): v for k, v in response.headers.items()}
            return Reply(response.status if hasattr(response, "status") else response.code,
                         headers, body)

    def get(self, path: str) -> Reply:
        reply = self._open(urllib.request.Request(self.base_url + path))
        token = csrf_from(reply.text) if reply.status == 200 else None
        if token:
            self.csrf = token
        return reply

    def post_form(self, path: str, fields: dict[str, str]) -> Reply:
        from urllib.parse import urlencode

        data = dict(fields)
        data.setdefault("csrf_token", self.csrf or "")
        request = urllib.request.Request(
            self.base_url + path, data=urlencode(data).encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        return self._open(request)

    def post_multipart(self, path: str, fields: dict[str, str],
                       files: list[tuple[str, str, bytes, str]]) -> Reply:
        """files: (field name, file name, content, content type)."""
        boundary = uuid.uuid4().hex
        parts = []
        data = dict(fields)
        data.setdefault("csrf_token", self.csrf or "")
        for name, value in data.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                         .encode() + str(value).encode() + b"\r\n")
        for field, filename, content, content_type in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                         f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
                         .encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(
            self.base_url + path, data=body, method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return self._open(request)

    def sign_in(self, username: str, password: str = TEST_PASSWORD) -> Reply:
        """GET the sign-in page (for its CSRF token), then post the real form."""
        page = self.get("/login")
        assert page.status == 200, page.status
        reply = self.post_form("/login", {"username": username, "password": password})
        return reply


def csrf_from(html: str) -> str | None:
    match = CSRF_INPUT.search(html)
    if not match:
        return None
    return unescape(match.group(1) or match.group(2))


def today_plus(days: int) -> date:
    from taskflow.core import clock

    return clock.local_today() + timedelta(days=days)


@pytest.fixture
def prod():
    """The helpers of this folder as one namespace."""
    return SimpleNamespace(
        minimal_pdf=minimal_pdf, free_port=free_port, fresh=fresh, row_counts=row_counts,
        evidence_files=evidence_files, server_env=server_env, flask_bin=flask_bin,
        database_url=database_url, WebSession=WebSession, csrf_from=csrf_from, ROOT=ROOT,
        TEST_PASSWORD=TEST_PASSWORD, today_plus=today_plus,
    )
