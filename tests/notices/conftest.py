"""Fixtures for the notices area: a task with a lead unit and a responsible town, users of every
role (with e-mail addresses), a real SMTP server, a real webhook receiver, and helpers to drive
simulated time."""

import json
import threading
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from taskflow.core import clock
from taskflow.extensions import db
from tests.helpers import free_port


def at(day: date, hour: int = 8, minute: int = 30) -> datetime:
    """A local (Asia/Shanghai) moment on a day, as UTC, for frozen_at."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.LOCAL_TZ)


def days(start: date, end: date):
    """Every calendar day from start to end inclusive."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


@pytest.fixture
def world(app, make_task, make_unit, make_assignment, make_user):
    """区科技局 leads a task; 古南街道 is responsible for it; 文龙街道 has a task of its own."""
    task = make_task(title="培育科技型企业")
    lead = make_unit(name="区科技局", kind="department", peer_group="department")
    town = make_unit(name="古南街道")
    other = make_unit(name="文龙街道")
    lead_assignment = make_assignment(task=task, unit=lead, role="lead")
    town_assignment = make_assignment(task=task, unit=town, role="responsible")
    other_assignment = make_assignment(task=make_task(title="其他任务"), unit=other,
                                       role="lead")
    users = SimpleNamespace(
        reporter=make_user("reporter", unit=town, username="town_reporter",
                           email="reporter@town.test", display_name="古南填报员"),
        head=make_user("unit_head", unit=town, username="town_head", email="head@town.test",
                       display_name="古南负责人"),
        lead_reporter=make_user("reporter", unit=lead, username="lead_reporter",
                                email="reporter@lead.test"),
        other_reporter=make_user("reporter", unit=other, username="other_reporter",
                                 email="reporter@other.test"),
        office=make_user("office", username="office", email="office@kjj.test",
                         display_name="联席办"),
        supervisor=make_user("supervisor", username="supervisor"),
        leader=make_user("leader", username="leader"),
        admin=make_user("admin", username="admin"),
    )
    return SimpleNamespace(task=task, lead=lead, town=town, other=other,
                           lead_assignment=lead_assignment, town_assignment=town_assignment,
                           other_assignment=other_assignment, users=users)


@pytest.fixture
def milestone_at(world, make_milestone):
    """milestone_at(due, title=…, original=…, state=…, assignment=…) on the town's assignment."""

    def factory(due: date, title: str | None = None, *, original: date | None = None,
                state: str = "pending", assignment=None):
        return make_milestone(assignment=assignment or world.town_assignment, due=due,
                              title=title or f"节点{due.isoformat()}",
                              original_due_date=original or due, state=state)

    return factory


class RecordingHandler:
    """aiosmtpd handler that keeps every message; optionally refuses the first few."""

    def __init__(self, refuse: int = 0):
        self.messages = []
        self.refuse = refuse
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 try again later"
            self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on a free local port; the app is pointed at it."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, BASE_URL="http://taskflow.test")
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def webhook_server(app):
    """A real HTTP endpoint that records JSON posts; `status` makes it fail on demand."""
    state = SimpleNamespace(posts=[], status=200)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if state.status != 200:
                self.send_response(state.status)
                self.end_headers()
                return
            state.posts.append(json.loads(body.decode("utf-8")))
            answer = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["WEBHOOK_URL"] = f"http://127.0.0.1:{server.server_address[1]}/bot"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def sent_ladder(milestone_id: int) -> list[tuple[str, str]]:
    """(kind, local date) of every message sent about a milestone, in order."""
    from sqlalchemy import select

    from taskflow.notices.models import ReminderClaim

    rows = db.session.execute(
        select(ReminderClaim.kind, ReminderClaim.created_at)
        .where(ReminderClaim.item_type == "milestone", ReminderClaim.item_id == milestone_id,
               ReminderClaim.outcome == "sent")
        .order_by(ReminderClaim.id)
    ).all()
    return [(kind, clock.to_local(created).date().isoformat()) for kind, created in rows]


@pytest.fixture
def sim():
    """Helpers to drive simulated time: at(day, h, m), days(start, end), sent_ladder(id)."""
    return SimpleNamespace(at=at, days=days, sent_ladder=sent_ladder, free_port=free_port)


@pytest.fixture
def client_for(app):
    """client_for(user): a new browser-like client signed in as that user."""

    def factory(user):
        client = app.test_client()
        response = client.post("/login", data={"username": user.username,
                                               "password": "correct-horse-battery"})
        assert response.status_code == 302, response.status_code
        # End the test session's read snapshot: the sign-in wrote, and a test that writes next
        # must not try to upgrade an older SQLite snapshot.
        db.session.commit()
        return client

    return factory
