"""Browser tests: Playwright driving Debian's chromium against a real TaskFlow server.

Fixtures:
    live_server   the test's `app` (tests/conftest.py: a fresh SQLite file in tmp_path, WAL, its
                  own DATA_DIR) served on 127.0.0.1:<free port> from a background thread. Set up
                  data before or while it runs with the usual factories (make_user(...),
                  make_assignment(...) commit into the same database), or with
                      with live_server.setup():          # a fresh app context; commits at the end
                          create_user("wang", TEST_PASSWORD, "office")
                  or `with live_server.app.app_context(): ...; db.session.commit()`. To read what
                  the browser changed, call db.session.expire_all() (or use live_server.setup()).
                  live_server.url("/login") gives an absolute URL. Any unhandled exception in
                  the server fails the test at teardown (live_server.errors lists them).
    browser       one chromium per test session (/usr/bin/chromium, headless).
    page          a fresh browser context per test: locale zh-CN, base_url = the live server,
                  requests to any host but 127.0.0.1 blocked and recorded; when the test fails a
                  screenshot and the page's HTML are saved under $TMPDIR/taskflow-browser-failures
                  (or $TASKFLOW_SCREENSHOT_DIR) and their paths shown in the report.
    network       what the page loaded: network.responses, network.external (blocked requests),
                  network.console_errors (console errors and uncaught page errors).
    sign_in       sign_in(page, live_server, username, password) signs in through the form.
    sample_pdf    {"name": "证明材料.pdf", "mimeType": ..., "buffer": <a valid PDF>} for
                  page.set_input_files("input[type=file]", files=[sample_pdf]).

Chromium missing: the tests fail when CI is set (CI must run them) and skip otherwise, with the
command that installs it (`make browser`). Never `playwright install`: only Debian's chromium.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

from taskflow.extensions import db

CHROMIUM = os.environ.get("TASKFLOW_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1"}
DEFAULT_TIMEOUT_MS = 15_000
HERE = Path(__file__).resolve().parent
# Failure screenshots go here (not into pytest's rotating tmp dirs, which other runs prune).
ARTIFACTS = Path(os.environ.get("TASKFLOW_SCREENSHOT_DIR")
                 or Path(tempfile.gettempdir()) / "taskflow-browser-failures")


def _artifact_dir(node) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.nodeid)[-150:]
    return ARTIFACTS / f"{name}-{os.getpid()}"


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is a browser test."""
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed browser test, save a screenshot and the HTML while the page is still open."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    page = item.funcargs.get("page")
    target = getattr(item, "_taskflow_artifacts", None)
    if page is None or target is None or page.is_closed():
        return
    try:
        target.mkdir(parents=True, exist_ok=True)
        screenshot = target / "failure.png"
        page.screenshot(path=str(screenshot), full_page=True)
        (target / "failure.html").write_text(page.content(), encoding="utf-8")
        report.sections.append(("browser", f"URL: {page.url}\nscreenshot: {screenshot}\n"
                                            f"html: {target / 'failure.html'}"))
    except Exception as exc:  # noqa: BLE001 - a broken page must not hide the real failure
        report.sections.append(("browser", f"could not save a screenshot: {exc!r}"))


# ---------------------------------------------------------------- the server


@dataclass
class LiveServer:
    """A running TaskFlow server and the app behind it."""

    app: object
    host: str
    port: int
    errors: list[str] = field(default_factory=list)
    allow_errors: bool = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    @contextmanager
    def setup(self):
        """An app context for creating data; commits when the block ends without error."""
        with self.app.app_context():
            try:
                yield db.session
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise


@pytest.fixture
def live_server(app):
    """A real TaskFlow server on a free 127.0.0.1 port, serving the test's `app` (its own SQLite
    file in tmp_path, in WAL mode, or the worker's PostgreSQL database; its own DATA_DIR), so the
    factories of tests/conftest.py (make_user, make_assignment, ...) write where it reads."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert db.engine.url.database, "the live server needs a file database"
            mode = db.session.execute(db.text("PRAGMA journal_mode")).scalar()
            assert mode == "wal", mode
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    live = LiveServer(app=app, host="127.0.0.1", port=server.server_port)

    def record_error(sender, exception, **extra):
        live.errors.append("".join(traceback.format_exception(exception)))

    got_request_exception.connect(record_error, app)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        got_request_exception.disconnect(record_error, app)
    if live.errors and not live.allow_errors:
        pytest.fail("the server raised:\n" + "\n".join(live.errors), pytrace=False)


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, shared by the session's tests."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reason = (f"chromium not found at {CHROMIUM}: run `make browser` "
                  "(apt-get install chromium) to run the browser tests")
        if _running_in_ci():
            pytest.fail(f"CI is set but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@dataclass
class NetworkLog:
    """What a page did on the network and in its console."""

    responses: list = field(default_factory=list)  # (url, status)
    external: list[str] = field(default_factory=list)  # blocked requests to other hosts
    console_errors: list[str] = field(default_factory=list)

    def status_of(self, fragment: str) -> list[int]:
        """Statuses of every response whose URL contains fragment."""
        return [status for url, status in self.responses if fragment in url]


@pytest.fixture
def network() -> NetworkLog:
    """The current page's network and console record (filled by the page fixture)."""
    return NetworkLog()


@pytest.fixture
def page(browser, live_server, network, request):
    """A new context and page per test: Chinese locale, only 127.0.0.1 reachable."""
    context = browser.new_context(locale="zh-CN", base_url=live_server.base_url,
                                  timezone_id="Asia/Shanghai", viewport={"width": 1280,
                                                                         "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)

    def only_local(route):
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            network.external.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    new_page = context.new_page()
    new_page.on("response", lambda r: network.responses.append((r.url, r.status)))
    new_page.on("console", lambda m: m.type == "error" and network.console_errors.append(m.text))
    new_page.on("pageerror", lambda e: network.console_errors.append(f"page error: {e}"))
    request.node._taskflow_artifacts = _artifact_dir(request.node)
    try:
        yield new_page
    finally:
        context.close()


@pytest.fixture
def sample_pdf(pdf_factory) -> dict:
    """A PDF ready for page.set_input_files(selector, files=[sample_pdf])."""
    return {"name": "证明材料.pdf", "mimeType": "application/pdf", "buffer": pdf_factory()}


def _sign_in(page, live_server: LiveServer, username: str, password: str) -> None:
    """Sign in through the real form; fails with the page's message if it did not work."""
    page.goto(live_server.url("/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form [type=submit]")
    if urlsplit(page.url).path.rstrip("/").endswith("/login"):
        alerts = page.locator(".alert, .invalid-feedback").all_inner_texts()
        raise AssertionError(f"sign-in as {username!r} failed: {alerts}")


@pytest.fixture
def sign_in():
    """sign_in(page, live_server, username, password)."""
    return _sign_in
