"""Faults: processes killed with SIGKILL at the worst moment.

1. Evidence: the real report route runs in a subprocess (production settings, the test's own
   database and DATA_DIR); the process is killed right after core.storage wrote the file and
   before the commit. The file is then an orphan: no row, milestone still open. The sweep keeps
   it during the grace period (it could be an upload in flight), then deletes it and nothing
   else — by sweep() and by `flask evidence sweep`.
2. Reminders: `flask reminders scan` killed mid-run commits all or nothing; `flask outbox
   deliver` killed while the SMTP server holds a message, and again between claiming a message
   and sending it, then restarted: no message arrives twice (counted at a real SMTP server by
   the X-TaskFlow-Outbox-Id header and by subject + recipient), every message arrives, and the
   one whose fate was unknown is never re-sent blindly but flagged for an admin, whose retry
   delivers it once.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
import email.policy
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import func, select

from taskflow.assignments.models import Evidence, Milestone, StatusUpdate
from taskflow.core import clock, storage
from taskflow.extensions import db

pytestmark = pytest.mark.slow

CRASHING_UPLOAD = r'''
import re, sys, time
from io import BytesIO
from taskflow import create_app
from taskflow.core import storage

def store_then_hang(batch, blob):
    print("STORED", blob.storage_key, flush=True)
    time.sleep(600)  # killed here: the file is on disk, the transaction not committed

storage.blob_stored.connect(store_then_hang)
app = create_app()
client = app.test_client()
token = lambda html: re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
page = client.get("/login").get_data(as_text=True)
answer = client.post("/login", data={"username": sys.argv[1], "password": sys.argv[2],
                                     "csrf_token": token(page)})
assert answer.status_code == 302, answer.status_code
page = client.get(f"/milestones/{sys.argv[3]}").get_data(as_text=True)
pdf = open(sys.argv[4], "rb").read()
print("POSTING", flush=True)
client.post(f"/milestones/{sys.argv[3]}/updates", content_type="multipart/form-data", data={
    "csrf_token": token(page), "progress": "80", "narrative": "崩溃前的报送",
    "files": [(BytesIO(pdf), "证明材料.pdf")]})
print("COMMITTED", flush=True)
'''


def _run_until(args, env, marker: str, timeout: float = 120):
    """Start a process; return (process, the line with marker) once it prints that line."""
    process = subprocess.Popen(args, env=env, cwd=str(Path(__file__).resolve().parents[2]),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return process, line
    process.kill()
    pytest.fail(f"{marker!r} never printed:\n{''.join(seen)[-4000:]}")


def _kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def _crash_an_upload(app, prod, tmp_path, user, milestone) -> str:
    pdf_path = tmp_path / f"crash-{milestone.id}.pdf"
    pdf_path.write_bytes(prod.minimal_pdf(f"crash {milestone.id}"))
    script = tmp_path / "crashing_upload.py"
    script.write_text(CRASHING_UPLOAD)
    process, line = _run_until(
        [sys.executable, str(script), user.username, prod.TEST_PASSWORD, str(milestone.id),
         str(pdf_path)], prod.server_env(app), "STORED")
    _kill(process)
    return line.split()[1]


def test_a_crash_between_file_and_commit_leaves_an_orphan_that_only_the_sweep_removes(
        app, reporting_world, signed_in, make_milestone, prod, tmp_path):
    world = reporting_world
    reporter = world.users.reporter
    # A report that committed normally: its file must survive every sweep.
    kept_pdf = prod.minimal_pdf("kept")
    from io import BytesIO

    response = signed_in(reporter).post(
        f"/milestones/{world.milestone.id}/updates", content_type="multipart/form-data",
        data={"progress": "50", "narrative": "正常报送", "files": [(BytesIO(kept_pdf), "正常.pdf")]})
    assert response.status_code == 302
    prod.fresh()
    kept = db.session.scalars(select(Evidence)).one()

    crashed_on = make_milestone(assignment=world.assignment, due=world.due, title="崩溃节点")
    orphan = _crash_an_upload(app, prod, tmp_path, reporter, crashed_on)

    prod.fresh()
    store = storage.EvidenceStore.for_app(app)
    assert store.exists(orphan)
    assert set(store.iter_keys()) == {kept.storage_key, orphan}
    counts = prod.row_counts(StatusUpdate, Evidence)
    assert counts == {"StatusUpdate": 1, "Evidence": 1}  # the crashed report left no row
    assert db.session.get(Milestone, crashed_on.id).state == "pending"

    # Within the grace period the orphan could be an upload in flight: kept.
    assert storage.sweep(db.session, select(Evidence.storage_key)) == []
    assert store.exists(orphan)
    # Seven hours later (grace: six), the sweep removes the orphan and nothing else.
    with clock.frozen_at(clock.utcnow() + timedelta(hours=7)):
        removed = storage.sweep(db.session, select(Evidence.storage_key))
    assert removed == [orphan]
    assert set(store.iter_keys()) == {kept.storage_key}
    assert store.sha256_of(kept.storage_key) == kept.sha256
    assert list(store.root.rglob(f"{storage.TEMP_PREFIX}*")) == []

    # The reporter can report on the milestone whose upload crashed.
    response = signed_in(reporter).post(
        f"/milestones/{crashed_on.id}/updates", content_type="multipart/form-data",
        data={"progress": "80", "narrative": "重新报送",
              "files": [(BytesIO(prod.minimal_pdf("again")), "证明材料.pdf")]})
    assert response.status_code == 302


def test_flask_evidence_sweep_removes_the_orphan_of_a_crash(app, reporting_world, prod,
                                                            tmp_path):
    world = reporting_world
    orphan = _crash_an_upload(app, prod, tmp_path, world.users.reporter, world.milestone)
    store = storage.EvidenceStore.for_app(app)
    assert store.exists(orphan)
    env = prod.server_env(app)
    flask = prod.flask_bin()
    kept = subprocess.run([flask, "evidence", "sweep"], env=env, cwd=prod.ROOT,
                          capture_output=True, text=True, timeout=120)
    assert kept.returncode == 0, kept.stderr
    assert "0 orphaned" in kept.stdout and store.exists(orphan)
    swept = subprocess.run([flask, "evidence", "sweep", "--grace-hours", "0"], env=env,
                           cwd=prod.ROOT, capture_output=True, text=True, timeout=120)
    assert swept.returncode == 0, swept.stderr
    assert "1 orphaned" in swept.stdout and orphan in swept.stdout
    assert not store.exists(orphan) and list(store.iter_keys()) == []
    verify = subprocess.run([flask, "evidence", "verify"], env=env, cwd=prod.ROOT,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and "0 problem" in verify.stdout


# ---------------------------------------------------------------- the scheduler's jobs


class KillingSMTPHandler:
    """Records every message; can SIGKILL the delivering process at DATA (the server has the
    message, the client has not heard back) or at RCPT (claimed, never transmitted)."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.victim = None  # the subprocess to kill
        self.kill_at_data = None  # kill after receiving this many messages in total
        self.kill_at_rcpt = None  # kill when this many messages have been received, at RCPT

    def _kill(self):
        if self.victim is not None and self.victim.poll() is None:
            os.kill(self.victim.pid, signal.SIGKILL)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if self.kill_at_rcpt is not None and len(self.messages) == self.kill_at_rcpt:
                self.kill_at_rcpt = None
                self._kill()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=email.policy.default))
            kill = self.kill_at_data is not None and len(self.messages) == self.kill_at_data
            if kill:
                self.kill_at_data = None
                self._kill()
        if kill:
            await asyncio.sleep(0.5)
        return "250 OK"

    def outbox_ids(self) -> Counter:
        return Counter(int(m["X-TaskFlow-Outbox-Id"]) for m in self.messages)

    def subject_recipient(self) -> Counter:
        return Counter((str(m["Subject"]), str(m["To"])) for m in self.messages)


@pytest.fixture
def smtp(prod):
    from aiosmtpd.controller import Controller

    handler = KillingSMTPHandler()
    port = prod.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    try:
        yield handler
    finally:
        controller.stop()


USERS = 8
DUE = date(2024, 11, 11)  # a Monday
SCAN_AT = "2024-11-12T08:30"  # Tuesday: one working day overdue
DIGEST_AT = "2024-11-12T17:30"


@pytest.fixture
def overdue_world(app, make_task, make_unit, make_assignment, make_milestone, make_user):
    """Eight towns, each with its own task, an overdue milestone and a reporter with e-mail."""
    from taskflow.accounts.models import User

    first = None
    for n in range(USERS):
        unit = make_unit(name=f"故障镇{n}")
        assignment = make_assignment(task=make_task(title=f"任务{n}"), unit=unit, role="lead")
        make_milestone(assignment=assignment, due=DUE, title=f"节点{n}")
        if first is None:
            first = make_user("reporter", unit=unit, username="fault0", email="fault0@town.test")
        else:
            db.session.add(User(username=f"fault{n}", password_hash=first.password_hash,
                                role="reporter", unit_id=unit.id, email=f"fault{n}@town.test",
                                display_name=f"填报员{n}"))
    db.session.commit()
    return [f"fault{n}@town.test" for n in range(USERS)]


def _flask(prod, app, smtp, *args, wait=True):
    env = prod.server_env(app, TASKFLOW_SMTP_HOST="127.0.0.1", TASKFLOW_SMTP_PORT=smtp.port,
                          TASKFLOW_BASE_URL="http://taskflow.test")
    command = [prod.flask_bin(), *args]
    if not wait:
        return subprocess.Popen(command, env=env, cwd=prod.ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    done = subprocess.run(command, env=env, cwd=prod.ROOT, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _notice_state():
    from taskflow.notices.models import Notification, ReminderClaim

    db.session.rollback()
    return (db.session.scalar(select(func.count(ReminderClaim.id))),
            db.session.scalar(select(func.count(Notification.id))))


def test_killed_scan_and_delivery_lose_nothing_and_send_nothing_twice(app, overdue_world, smtp,
                                                                      prod):
    from taskflow.notices.models import OutboxMessage

    # 1. The deadline scan, killed at several moments: all or nothing each time.
    for delay in (0.5, 1.5, 3.0):
        process = _flask(prod, app, smtp, "reminders", "scan", "--now", SCAN_AT, wait=False)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        dispatches, notifications = _notice_state()
        assert (dispatches, notifications) in ((0, 0), (USERS, USERS)), (delay, dispatches,
                                                                         notifications)
    out = _flask(prod, app, smtp, "reminders", "scan", "--now", SCAN_AT)
    assert _notice_state() == (USERS, USERS), out
    assert "overdue" in out or "nothing to do" in out
    # Run again: nothing new.
    _flask(prod, app, smtp, "reminders", "scan", "--now", SCAN_AT)
    assert _notice_state() == (USERS, USERS)

    out = _flask(prod, app, smtp, "outbox", "digest", "--now", DIGEST_AT)
    assert f"emails={USERS}" in out
    _flask(prod, app, smtp, "outbox", "digest", "--now", DIGEST_AT)  # same day: nothing more
    db.session.rollback()
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == USERS
    expected = {row.id: (row.subject, row.recipient) for row in db.session.scalars(
        select(OutboxMessage))}
    assert sorted(r for _s, r in expected.values()) == sorted(overdue_world)

    # 2. Delivery killed while the server holds message 3 and has not answered.
    smtp.kill_at_data = 3
    smtp.victim = process = _flask(prod, app, smtp, "outbox", "deliver", "--now",
                                   "2024-11-12T17:31", wait=False)
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL
    assert len(smtp.messages) == 3

    # 3. Restarted, and killed again between claiming message 4 and transmitting it.
    smtp.kill_at_rcpt = 3
    smtp.victim = process = _flask(prod, app, smtp, "outbox", "deliver", "--now",
                                   "2024-11-12T17:36", wait=False)
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL
    assert len(smtp.messages) == 3
    db.session.rollback()
    sending = set(db.session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.state == "sending")))
    assert len(sending) == 2  # message 3 (received) and message 4 (not): fate unknown to us

    # 4. Restarted after the stale limit: the rest goes out; the two unknown ones are not
    #    re-sent blindly, they are flagged for an admin.
    out = _flask(prod, app, smtp, "outbox", "deliver", "--now", "2024-11-12T17:55")
    assert "interrupted=2" in out and f"sent={USERS - 4}" in out, out  # 2 went out in run 1
    received = smtp.outbox_ids()
    assert max(received.values()) == 1  # nothing twice
    assert len(received) == USERS - 1
    db.session.rollback()
    failed = {m.id: m for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.state == "failed"))}
    assert set(failed) == sending
    assert all("interrupted" in m.last_error for m in failed.values())
    never_arrived = set(expected) - set(received)
    assert len(never_arrived) == 1 and never_arrived <= set(failed)  # flagged, not lost

    # Nothing else is pending, so another run sends nothing.
    out = _flask(prod, app, smtp, "outbox", "deliver", "--now", "2024-11-12T18:30")
    assert "sent=" not in out or "sent=0" in out
    assert max(smtp.outbox_ids().values()) == 1

    # 5. The admin sees both on the outbox page and retries the one the server never got.
    from taskflow.accounts.operations import create_user

    admin = create_user("fault_admin", prod.TEST_PASSWORD, "admin")
    db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "fault_admin",
                                       "password": prod.TEST_PASSWORD}).status_code == 302
    page = client.get("/notices/outbox").get_data(as_text=True)
    for message_id in failed:
        assert f'data-outbox="{message_id}"' in page
    (lost,) = never_arrived
    assert client.post(f"/notices/outbox/{lost}/retry").status_code == 302
    prod.fresh()
    _flask(prod, app, smtp, "outbox", "deliver")
    received = smtp.outbox_ids()
    assert received == Counter({message_id: 1 for message_id in expected})
    assert smtp.subject_recipient() == Counter(expected.values())
    assert admin.id


class StalledSMTPHandler:
    """An SMTP server that holds each message until the test releases it (a stalled relay)."""

    def __init__(self):
        self.receiving = threading.Event()
        self.release = threading.Event()
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.count += 1
        self.receiving.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 300)
        return "250 OK"


def test_a_slow_mail_server_does_not_hold_up_the_web_app(app, reporting_world, signed_in, prod):
    """While `flask outbox deliver` waits for the SMTP server, a reporter's submission must not
    wait for it: delivery must not hold a database write lock across the network round trip
    (on SQLite a held write lock blocks every other writer, up to the 30 s busy timeout)."""
    from io import BytesIO

    from aiosmtpd.controller import Controller

    from taskflow.notices.operations import enqueue

    enqueue("email", "someone@town.test", subject="测试", body="正文")
    db.session.commit()
    client = signed_in(reporting_world.users.reporter)
    handler = StalledSMTPHandler()
    port = prod.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = prod.server_env(app, TASKFLOW_SMTP_HOST="127.0.0.1", TASKFLOW_SMTP_PORT=port)
        process = subprocess.Popen([prod.flask_bin(), "outbox", "deliver"], env=env,
                                   cwd=prod.ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            assert handler.receiving.wait(timeout=120), process.communicate(timeout=30)[0]
            # The relay holds the message until the submission is answered: had delivery kept
            # the write lock, the submission would fail after the busy timeout instead.
            response = client.post(
                f"/milestones/{reporting_world.milestone.id}/updates",
                content_type="multipart/form-data",
                data={"progress": "40", "narrative": "邮件发送期间的报送",
                      "files": [(BytesIO(prod.minimal_pdf("during smtp")), "证明.pdf")]})
            still_delivering = process.poll() is None
        finally:
            handler.release.set()
            output = process.communicate(timeout=120)[0]
        assert response.status_code == 302
        assert still_delivering, "the delivery ended before the submission was answered"
        assert "sent=1" in output, output
    finally:
        controller.stop()
