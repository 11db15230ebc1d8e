"""Pages keep a constant number of SQL queries as the data grows (DESIGN.md §5).

The benchmark generator (benchmarks/generate.py) builds the same city twice at tiny scales, the
second four times larger; every page below is requested on both, signed in as the role that uses
it, and must answer 200 with the same number of statements (after one warm-up request, so
per-process caches do not count). Each page also checks that it really shows more data on the
larger database, so a page that ignores the data cannot pass by accident.
"""

import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import event, func, select

from config import TestingConfig
from taskflow import create_app
from taskflow.extensions import db

SMALL, LARGE = 0.001, 0.004
PAGES = ("unit workspace", "assignment page", "review queue", "cockpit", "register list",
         "dispatch board", "inbox")
_IGNORED = re.compile(r"\s*(SAVEPOINT|RELEASE|ROLLBACK|PRAGMA)", re.I)
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
_VALUE = re.compile(r'value="([^"]+)"')


@dataclass
class Measure:
    """One page on one database: status, statements, and how much data the page is about."""

    status: int
    queries: int
    size: int
    statements: list[str] = field(default_factory=list)


def _sign_in(app, username: str, password: str):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = _VALUE.search(_CSRF.search(html).group(0)).group(1)
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, f"{username} could not sign in"
    return client


def _targets(app) -> dict:
    """Which unit, assignment, user and period each page shows (the fullest ones)."""
    from taskflow.accounts.models import User
    from taskflow.assignments.models import Assignment, Milestone, StatusUpdate
    from taskflow.assignments.queries import awaiting_office_clause
    from taskflow.enterprises.models import DispatchPeriod, Enterprise
    from taskflow.notices.models import Notification
    from taskflow.plans.models import KeyTask
    from taskflow.plans.queries import district_plan
    from taskflow.units.models import Unit

    with app.app_context():
        plan = district_plan()
        unit_id, milestones = db.session.execute(
            select(Assignment.unit_id, func.count(Milestone.id))
            .join(Milestone, Milestone.assignment_id == Assignment.id)
            .join(Unit, Unit.id == Assignment.unit_id).where(Unit.plan_id == plan.id)
            .group_by(Assignment.unit_id).order_by(func.count(Milestone.id).desc(), Assignment.unit_id)
            .limit(1)).one()
        # A lead assignment: its page also lists the responsible units' updates of the task.
        assignment_id, updates = db.session.execute(
            select(Assignment.id, func.count(StatusUpdate.id))
            .join(KeyTask, KeyTask.id == Assignment.task_id)
            .join(Assignment.milestones).join(StatusUpdate, StatusUpdate.milestone_id == Milestone.id)
            .where(KeyTask.plan_id == plan.id, Assignment.role == "lead")
            .group_by(Assignment.id).order_by(func.count(StatusUpdate.id).desc(), Assignment.id)
            .limit(1)).one()
        lead_unit = db.session.get(Assignment, assignment_id).unit_id
        inbox_user, inbox_size = db.session.execute(
            select(Notification.user_id, func.count(Notification.id)).group_by(Notification.user_id)
            .order_by(func.count(Notification.id).desc(), Notification.user_id).limit(1)).one()
        period = db.session.scalar(select(DispatchPeriod).where(DispatchPeriod.plan_id == plan.id)
                                   .order_by(DispatchPeriod.month).limit(1))
        enterprises = db.session.scalar(select(func.count(Enterprise.id)).join(Unit).where(
            Unit.plan_id == plan.id))
        return {
            "workspace": (f"bench-r{unit_id}", "/my", milestones),
            "assignment": (f"bench-r{lead_unit}", f"/assignments/{assignment_id}", updates),
            "review": ("bench-office", "/review",
                       db.session.scalar(select(func.count(StatusUpdate.id))
                                         .where(awaiting_office_clause()))),
            "cockpit": ("bench-leader", "/cockpit", enterprises),
            "register": ("bench-office", "/enterprises/", enterprises),
            "dispatch": ("bench-office", f"/dispatch/{period.id}", enterprises),
            "inbox": (db.session.get(User, inbox_user).username, "/notices/inbox", inbox_size),
        }


PAGE_KEYS = dict(zip(PAGES, ("workspace", "assignment", "review", "cockpit", "register",
                             "dispatch", "inbox"), strict=True))


def _measure_all(app) -> dict[str, Measure]:
    from benchmarks.generate import BENCH_PASSWORD

    targets = _targets(app)
    with app.app_context():
        engine = db.engine
    clients: dict[str, object] = {}
    results = {}
    for page in PAGES:
        username, path, size = targets[PAGE_KEYS[page]]
        if username not in clients:
            clients[username] = _sign_in(app, username, BENCH_PASSWORD)
        client = clients[username]
        client.get(path)  # warm-up: per-process caches (calendar, translations) load once
        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            if not _IGNORED.match(statement):
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        results[page] = Measure(response.status_code, len(statements), size, statements)
    return results


@pytest.fixture(scope="module")
def measured(tmp_path_factory, database_url):
    """{size: {page: Measure}} for the small and the large generated city."""
    from benchmarks.generate import generate

    results = {}
    for scale in (SMALL, LARGE):
        base = tmp_path_factory.mktemp(f"city{scale}")
        uri = database_url or f"sqlite:///{base / 'city.sqlite3'}"
        app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=uri, INSTANCE_DIR=base / "instance",
                         DATA_DIR=base / "data")
        with app.app_context():
            if database_url:
                db.drop_all()
            db.create_all()
            generate(scale, seed=7, progress=False)
            db.session.remove()
        try:
            results[scale] = _measure_all(app)
        finally:
            with app.app_context():
                db.session.remove()
                if database_url:
                    db.drop_all()
                db.engine.dispose()
    return results


@pytest.mark.parametrize("page", PAGES)
def test_page_query_count_is_constant_as_data_grows(measured, page):
    small, large = measured[SMALL][page], measured[LARGE][page]
    assert (small.status, large.status) == (200, 200)
    assert large.size > small.size, f"the larger city should give the {page} more to show"
    assert small.queries == large.queries, (
        f"{page}: {small.queries} queries on the small city, {large.queries} on the larger one:\n"
        + "\n---\n".join(large.statements))
    # Bounded as well as constant: a page never needs dozens of statements.
    assert large.queries <= 30, f"{page} runs {large.queries} queries"
