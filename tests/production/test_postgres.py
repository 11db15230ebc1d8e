"""The PostgreSQL run really runs on PostgreSQL, and what only PostgreSQL does works."""

import os

import pytest
from sqlalchemy import func, select, text

from taskflow.extensions import db

POSTGRES_URL = os.environ.get("TASKFLOW_TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="TASKFLOW_TEST_DATABASE_URL not set")


def test_suite_database_matches_the_environment(app):
    """With TASKFLOW_TEST_DATABASE_URL set, every test's app talks to PostgreSQL."""
    expected = "postgresql" if POSTGRES_URL else "sqlite"
    assert db.engine.dialect.name == expected


@needs_postgres
def test_server_is_a_supported_postgresql(app):
    version = db.session.execute(text("SHOW server_version_num")).scalar()
    assert int(version) >= 130000
    assert db.session.execute(text("SHOW server_encoding")).scalar() == "UTF8"


@needs_postgres
def test_ids_restart_and_unicode_round_trips(app, make_unit):
    unit = make_unit(name="綦万创新经济走廊建设指挥部办公室")
    db.session.expire_all()
    from taskflow.units.models import Unit

    assert db.session.get(Unit, unit.id).name == "綦万创新经济走廊建设指挥部办公室"
    assert db.session.scalar(select(func.count()).select_from(Unit)) == 1


@needs_postgres
def test_each_xdist_worker_has_its_own_database(app):
    name = db.session.execute(text("SELECT current_database()")).scalar()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert name.endswith(f"_{worker}")
