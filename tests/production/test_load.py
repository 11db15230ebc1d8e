"""Load: 50 reporters of 50 units submit status updates with a PDF each, at the same time, for
TASKFLOW_LOAD_SECONDS seconds (30 under CI, 20 otherwise), against gunicorn with several sync
workers over the test's database (SQLite, or PostgreSQL when TASKFLOW_TEST_DATABASE_URL is set).

Each user is a separate browser: its own cookie jar, signing in through the real form, loading
the milestone page (200, for the CSRF token) and posting the report form with a PDF (302 back to
the milestone). Afterwards: zero errors, and zero lost rows — successful submissions ==
StatusUpdate rows == Evidence rows == files on disk, every file's SHA-256 equals its row's and
the one the client sent, and no temp file is left behind.
"""

import hashlib
import os
import statistics
import threading
import time
from collections import defaultdict
from datetime import date

import pytest
from sqlalchemy import func, insert, select

from taskflow.accounts.models import User
from taskflow.assignments.models import Assignment, Evidence, Milestone, StatusUpdate
from taskflow.core.storage import TEMP_PREFIX, EvidenceStore
from taskflow.extensions import db
from taskflow.units.models import Unit

pytestmark = pytest.mark.slow

USERS = 50
IN_CI = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
SECONDS = float(os.environ.get("TASKFLOW_LOAD_SECONDS") or (30 if IN_CI else 20))
WORKERS = int(os.environ.get("TASKFLOW_LOAD_WORKERS") or 4)
MILESTONES_PER_USER = int(os.environ.get("TASKFLOW_LOAD_MILESTONES") or max(60, int(SECONDS * 5)))


@pytest.fixture
def load_world(app, plan, make_task, make_user):
    """50 towns, each with a reporter (same password), an assignment and many open milestones."""
    task = make_task(title="培育科技型企业")
    first = None
    users = []
    for n in range(USERS):
        unit = Unit(plan_id=plan.id, name=f"压测镇{n:02d}", kind="town", peer_group="street_town",
                    sort_order=n)
        db.session.add(unit)
        db.session.flush()
        if first is None:
            first = make_user("reporter", unit=unit, username="load00")
            user = first
        else:
            user = User(username=f"load{n:02d}", display_name=f"填报员{n:02d}",
                        password_hash=first.password_hash, role="reporter", unit_id=unit.id)
            db.session.add(user)
        assignment = Assignment(task_id=task.id, unit_id=unit.id, role="responsible")
        db.session.add(assignment)
        db.session.flush()
        users.append((user.username, assignment.id))
    db.session.commit()
    due = date(2030, 12, 31)
    rows = [{"assignment_id": assignment_id, "title": f"节点{k:04d}", "due_date": due,
             "original_due_date": due}
            for _username, assignment_id in users for k in range(MILESTONES_PER_USER)]
    db.session.execute(insert(Milestone), rows)
    db.session.commit()
    milestones = defaultdict(list)
    for milestone_id, assignment_id in db.session.execute(
            select(Milestone.id, Milestone.assignment_id).order_by(Milestone.id)):
        milestones[assignment_id].append(milestone_id)
    db.session.remove()
    return [(username, milestones[assignment_id]) for username, assignment_id in users]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.sent: dict[int, str] = {}  # milestone id → SHA-256 of the PDF the client sent
        self.latencies: list[float] = []
        self.requests = 0
        self.deadline = 0.0

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def _user_run(prod, base_url, username, milestone_ids, signed_in, go, tally: Tally) -> None:
    session = prod.WebSession(base_url, timeout=120)
    try:
        reply = session.sign_in(username)
        if reply.status != 302 or "/login" in reply.location:
            tally.error(f"{username}: sign-in {reply.status} {reply.location}")
            return
    except Exception as exc:  # noqa: BLE001
        tally.error(f"{username}: sign-in {type(exc).__name__}: {exc}")
        return
    finally:
        signed_in.wait()  # everyone signs in first (argon2 is slow on purpose)
    go.wait()
    try:
        for seq, milestone_id in enumerate(milestone_ids):
            if time.monotonic() >= tally.deadline:
                return
            t0 = time.monotonic()
            page = session.get(f"/milestones/{milestone_id}")
            if page.status != 200 or not session.csrf:
                tally.error(f"{username}: GET milestone {milestone_id} → {page.status}")
                return
            pdf = prod.minimal_pdf(f"{username} report {seq} on {milestone_id}")
            reply = session.post_multipart(
                f"/milestones/{milestone_id}/updates",
                {"progress": str(seq % 101), "narrative": f"{username} 第{seq}次报送",
                 "problems": "", "next_steps": "继续推进"},
                [("files", f"证明材料-{username}-{seq}.pdf", pdf, "application/pdf")])
            elapsed = time.monotonic() - t0
            if reply.status != 302 or not reply.location.endswith(f"/milestones/{milestone_id}"):
                tally.error(f"{username}: POST update on {milestone_id} → {reply.status} "
                            f"{reply.location} {reply.text[:300]!r}")
                return
            with tally.lock:
                tally.sent[milestone_id] = hashlib.sha256(pdf).hexdigest()
                tally.latencies.append(elapsed)
                tally.requests += 2
        tally.error(f"{username}: ran out of milestones (raise TASKFLOW_LOAD_MILESTONES)")
    except Exception as exc:  # noqa: BLE001 - every failure is an error of the run
        tally.error(f"{username}: {type(exc).__name__}: {exc}")


def test_fifty_reporters_submit_with_evidence_for_a_minute_without_errors_or_lost_rows(
        app, load_world, gunicorn_server, prod):
    server = gunicorn_server(workers=WORKERS)
    tally = Tally()
    signed_in = threading.Barrier(USERS + 1)
    go = threading.Event()
    threads = [threading.Thread(target=_user_run, args=(prod, server.base_url, username, ids,
                                                         signed_in, go, tally), daemon=True)
               for username, ids in load_world]
    for thread in threads:
        thread.start()
    signed_in.wait(timeout=300)
    began = time.monotonic()
    tally.deadline = began + SECONDS
    go.set()
    for thread in threads:
        thread.join(timeout=SECONDS + 300)
    assert not any(thread.is_alive() for thread in threads), "a user thread hung"
    duration = time.monotonic() - began

    assert server.process.poll() is None, server.log()
    assert tally.errors == [], "\n".join(tally.errors[:20]) + "\n" + server.log()[-3000:]
    assert "Traceback" not in server.log(), server.log()[-5000:]

    prod.fresh()
    with app.app_context():
        updates = db.session.scalar(select(func.count(StatusUpdate.id)))
        evidence_rows = db.session.execute(
            select(Evidence.storage_key, Evidence.sha256, StatusUpdate.milestone_id)
            .join(StatusUpdate, Evidence.status_update_id == StatusUpdate.id)).all()
        store = EvidenceStore.for_app(app)
        keys = set(store.iter_keys())
        temps = list(store.root.rglob(f"{TEMP_PREFIX}*"))
        submitted = db.session.scalar(
            select(func.count(Milestone.id)).where(Milestone.state == "submitted"))

    successes = len(tally.sent)
    assert successes > 0
    assert updates == successes
    assert len(evidence_rows) == successes
    assert len(keys) == successes and temps == []
    assert submitted == successes
    assert {row.storage_key for row in evidence_rows} == keys
    for row in evidence_rows:
        assert store.sha256_of(row.storage_key) == row.sha256 == tally.sent[row.milestone_id]

    latencies = sorted(tally.latencies)
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"\nload on {prod.database_url(app).split(':')[0]}:"
          f" {USERS} users, {WORKERS} gunicorn workers, {SECONDS:.0f}s: {successes} reports with "
          f"evidence ({successes / SECONDS:.1f}/s), {tally.requests} requests in {duration:.0f}s, "
          f"GET+POST p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, 0 errors, 0 lost rows")
