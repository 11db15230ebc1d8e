"""Shared fixtures: an empty database per test, a CSRF-aware client, login, factories, query
counts, a frozen clock. Plain helpers live in tests/helpers.py."""

import copy
import re
import shutil
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.exc import ProgrammingError

from taskflow.core import clock
from taskflow.core import logging as taskflow_logging
from taskflow.extensions import db
from tests.helpers import (POSTGRES_URL, TEST_PASSWORD, CSRFClient, make_test_app, minimal_pdf,
                           postgres_database)


@pytest.fixture(scope="session")
def database_url() -> str | None:
    """PostgreSQL when TASKFLOW_TEST_DATABASE_URL is set (this worker's own database), else None."""
    return postgres_database() if POSTGRES_URL else None


@pytest.fixture(scope="session")
def catalog_build_dir(tmp_path_factory) -> Path:
    """One compiled copy of the message catalogs for every app this worker builds."""
    return tmp_path_factory.mktemp("catalogs")


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory, database_url, catalog_build_dir) -> Path | None:
    """SQLite: a database file holding the empty schema, copied for each test.
    PostgreSQL: the worker's database gets the schema once (tests then start from empty tables)."""
    base = tmp_path_factory.mktemp("schema")
    uri = database_url or f"sqlite:///{base / 'template.sqlite3'}"
    app = make_test_app(base, uri, catalog_build_dir)
    with app.app_context():
        if database_url:
            db.drop_all()  # a previous run may have left an older schema behind
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    return None if database_url else base / "template.sqlite3"


def _empty_every_table() -> None:
    """Every table emptied and every id sequence restarted, in one statement (PostgreSQL).

    A test that dropped or altered a table (a migration check, a restore) leaves a schema the
    statement fails on: then the schema is built again."""
    names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    try:
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    except ProgrammingError:
        db.drop_all()
        db.create_all()


@dataclass
class WorkerApp:
    """The worker's app as it was built, to hand back to each test as good as new."""

    app: Flask
    config: dict
    extensions: dict
    instance_files: dict[str, bytes]
    sqlite_file: Path | None


@pytest.fixture(scope="session")
def worker_app(tmp_path_factory, database_url, schema_template, catalog_build_dir) -> WorkerApp:
    """One app per worker: building one (its ~110 URL rules) costs about a quarter of a second,
    so tests share it and `app` restores its settings, extensions and folders before each."""
    base = tmp_path_factory.mktemp("worker")
    uri = database_url or f"sqlite:///{base / 'test.sqlite3'}"
    app = make_test_app(base / "built", uri, catalog_build_dir)
    instance = Path(app.config["INSTANCE_DIR"])
    files = {p.name: p.read_bytes() for p in instance.iterdir() if p.is_file()}
    return WorkerApp(app, copy.deepcopy(dict(app.config)), dict(app.extensions), files,
                     None if database_url else base / "test.sqlite3")


def _as_new(worker: WorkerApp, tmp_path: Path, schema_template: Path | None) -> Flask:
    """The worker's app with its built settings and extensions (caches dropped), this test's own
    folders, and an empty database."""
    app = worker.app
    app.config.clear()
    app.config.update(copy.deepcopy(worker.config))
    app.config.update(INSTANCE_DIR=tmp_path / "instance", DATA_DIR=tmp_path / "data",
                      BACKUP_DIR=tmp_path / "backups")
    app.extensions.clear()
    app.extensions.update(worker.extensions)
    # Logging is process-wide: a test that changed its level or format would leak into the next.
    taskflow_logging.configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    for key in ("INSTANCE_DIR", "DATA_DIR"):
        Path(app.config[key]).mkdir(parents=True, exist_ok=True)
    for name, content in worker.instance_files.items():  # the signing and field keys
        target = tmp_path / "instance" / name
        target.write_bytes(content)
        target.chmod(0o600)
    if worker.sqlite_file is not None:
        with app.app_context():
            db.engine.dispose()
        # Unlinked, never overwritten: a connection the last test left open (a server thread)
        # keeps the old file, and the new one starts clean.
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{worker.sqlite_file}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(schema_template, worker.sqlite_file)
    return app


@pytest.fixture
def app(request, tmp_path, database_url, schema_template, catalog_build_dir, worker_app):
    """An app over an empty database and empty folders.

    Neither the app nor the schema is rebuilt per test: the worker's app is restored as built,
    SQLite copies a template file, PostgreSQL empties the tables before the test. Tests marked
    `fresh_app` (they add routes) get an app of their own."""
    if request.node.get_closest_marker("fresh_app"):
        if database_url:
            uri = database_url
        else:
            shutil.copyfile(schema_template, tmp_path / "test.sqlite3")
            uri = f"sqlite:///{tmp_path / 'test.sqlite3'}"
        app = make_test_app(tmp_path, uri, catalog_build_dir)
    else:
        app = _as_new(worker_app, tmp_path, schema_template)
    with app.app_context():
        if database_url:
            _empty_every_table()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app) -> CSRFClient:
    """A browser-like client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """The flask CLI runner."""
    return app.test_cli_runner()


# ---------------------------------------------------------------- factories


@pytest.fixture
def make_plan(app):
    """Create a bare plan (factories commit, so requests see their rows)."""
    from taskflow.plans.models import Plan

    def factory(code="test-plan", title="测试方案", level="district", **kwargs):
        plan = Plan(code=code, title=title, level=level, start_year=kwargs.pop("start_year", 2023),
                    end_year=kwargs.pop("end_year", 2027), **kwargs)
        db.session.add(plan)
        db.session.commit()
        return plan

    return factory


@pytest.fixture
def plan(make_plan):
    """A district plan."""
    return make_plan()


@pytest.fixture
def make_unit(app, plan):
    """Create a unit in the test plan."""
    from taskflow.units.models import Unit

    counter = iter(range(1, 10_000))

    def factory(name=None, kind="town", peer_group="street_town", **kwargs):
        n = next(counter)
        unit = Unit(plan_id=kwargs.pop("plan_id", plan.id), name=name or f"测试镇{n}", kind=kind,
                    peer_group=peer_group, sort_order=n, **kwargs)
        db.session.add(unit)
        db.session.commit()
        return unit

    return factory


@pytest.fixture
def make_task(app, plan):
    """Create a key task (and its section) in the test plan."""
    from taskflow.plans.models import KeyTask, Section

    counter = iter(range(1, 10_000))

    def factory(title=None, section=None, **kwargs):
        n = next(counter)
        if section is None:
            section = Section(plan_id=plan.id, number=n, title=f"第{n}部分")
            db.session.add(section)
            db.session.flush()
        task = KeyTask(plan_id=plan.id, section_id=section.id, number=n,
                       title=title or f"重点任务{n}", body=kwargs.pop("body", "任务正文"), **kwargs)
        db.session.add(task)
        db.session.commit()
        return task

    return factory


@pytest.fixture
def make_assignment(app, make_task, make_unit):
    """Create an assignment of a (new) task to a (new) unit."""
    from taskflow.assignments.models import Assignment

    def factory(task=None, unit=None, role="responsible", **kwargs):
        assignment = Assignment(task_id=(task or make_task()).id, unit_id=(unit or make_unit()).id,
                                role=role, **kwargs)
        db.session.add(assignment)
        db.session.commit()
        return assignment

    return factory


@pytest.fixture
def make_milestone(app, make_assignment):
    """Create a milestone due on a given date."""
    from taskflow.assignments.models import Milestone

    def factory(assignment=None, due=date(2024, 3, 31), title="季度进展", **kwargs):
        milestone = Milestone(assignment_id=(assignment or make_assignment()).id, title=title,
                              due_date=due, original_due_date=kwargs.pop("original_due_date", due),
                              **kwargs)
        db.session.add(milestone)
        db.session.commit()
        return milestone

    return factory


@pytest.fixture
def make_user(app):
    """Create a user with TEST_PASSWORD; unit roles need a unit."""
    from taskflow.accounts.operations import create_user

    counter = iter(range(1, 10_000))

    def factory(role="office", unit=None, username=None, **kwargs):
        user = create_user(username or f"{role}{next(counter)}", TEST_PASSWORD, role, unit=unit,
                           **kwargs)
        db.session.commit()
        return user

    return factory


# ---------------------------------------------------------------- helpers


@pytest.fixture
def freeze():
    """freeze(moment): the app's clock pinned until the test ends; moment is a datetime or ISO
    text (read as Asia/Shanghai when it has no zone). Returns the pinned moment."""
    with ExitStack() as pins:

        def pin(moment):
            if isinstance(moment, str):
                moment = clock.parse_now(moment)
            pins.enter_context(clock.frozen_at(moment))
            return moment

        yield pin


@pytest.fixture
def login(client):
    """Sign a user in on the shared client: login(user)."""

    def do_login(user, password=TEST_PASSWORD, follow=False):
        response = client.post("/login", data={"username": user.username, "password": password},
                               follow_redirects=follow)
        assert response.status_code in (200, 302), response.status_code
        return response

    return do_login


class QueryCounter:
    """Counts the SQL statements run inside a block."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """with count_queries() as counter: ... ; counter.count is the number of statements."""

    @contextmanager
    def counting():
        counter = QueryCounter()

        def before_cursor_execute(conn, cursor, statement, *args):
            if not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK|PRAGMA)", statement, re.I):
                counter.statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", before_cursor_execute)

    return counting


@pytest.fixture
def pdf_factory():
    """minimal_pdf(text) as a fixture (tests may also import it from tests.helpers)."""
    return minimal_pdf


SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture
def seeds_dir() -> Path:
    """The repository's seeds folder."""
    return SEEDS


@pytest.fixture
def imported_plans(app, seeds_dir):
    """Both plan documents imported (city first, then district); returns the district plan."""
    from taskflow.plans.operations import import_plan_file
    from taskflow.plans.queries import district_plan

    import_plan_file(seeds_dir / "chongqing-action-plan-2023-2027.txt")
    import_plan_file(seeds_dir / "qijiang-work-plan-2023-2027.txt")
    db.session.commit()
    return district_plan()
