"""The migration chain builds the models' schema from nothing, on SQLite and on PostgreSQL."""


import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from config import TestingConfig
from taskflow import create_app
from taskflow.extensions import db
from tests.helpers import POSTGRES_URL, postgres_database

BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def _empty_database(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    return postgres_database("migrations", empty=True)


def _render_item(type_, obj, autogen_context):
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime()"
    return False


def _differences(connection) -> list:
    """What autogenerate would still write: differences between the database and the models."""
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "render_as_batch": True, "render_item": _render_item},
    )
    return compare_metadata(context, db.metadata)


@pytest.fixture(params=BACKENDS)
def migration_app(request, tmp_path):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=_empty_database(request.param, tmp_path),
                     INSTANCE_DIR=tmp_path / "instance", DATA_DIR=tmp_path / "data")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.mark.slow
def test_upgrade_from_nothing_matches_the_models_and_downgrades_to_nothing(migration_app):
    assert inspect(db.engine).get_table_names() == []
    upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert tables >= set(db.metadata.tables), set(db.metadata.tables) - tables
    with db.engine.connect() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        diff = _differences(conn)
    assert head
    assert diff == [], "migrations and models differ:\n" + "\n".join(map(str, diff))

    downgrade(revision="base")
    left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert left == set()
    # And back up again: the chain is repeatable.
    upgrade()
    assert set(inspect(db.engine).get_table_names()) >= set(db.metadata.tables)


def test_readyz_reports_the_migration_head(migration_app):
    client = migration_app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["migrations"] == "missing"
    upgrade(revision="0001_foundation")
    body = client.get("/readyz").get_json()
    assert body["migrations"] == "behind" and body["revision"] == "0001_foundation"
    upgrade()
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["migrations"] == "current"
    assert body["revision"] == body["head"]
    # /healthz stays a liveness check: fine whatever the migrations.
    assert client.get("/healthz").status_code == 200


@pytest.mark.slow
def test_migrations_add_the_models_check_constraints_with_the_same_values(migration_app):
    """compare_metadata does not compare CHECK constraints: names and allowed values here."""
    import re

    from sqlalchemy import CheckConstraint

    upgrade()
    inspector = inspect(db.engine)

    def values(sqltext: str) -> set[str]:
        return set(re.findall(r"'([^']*)'", sqltext))

    expected = {(table.name, c.name): values(str(c.sqltext))
                for table in db.metadata.tables.values()
                for c in table.constraints if isinstance(c, CheckConstraint)}
    found = {(table, c["name"]): values(c["sqltext"])
             for table in inspector.get_table_names() if table != "alembic_version"
             for c in inspector.get_check_constraints(table)}
    assert expected and found == expected


@pytest.mark.slow
def test_state_checks_migration_stops_on_rows_outside_their_states(migration_app, capfd):
    """A row holding a value its new CHECK would refuse: the upgrade names it and changes nothing."""
    upgrade(revision="0017_scheduler_lease")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO plans (code, title, level, start_year, end_year, "
                          "source_name, source_sha256) VALUES ('p', 't', 'province', 2023, 2027, "
                          "'', '')"))
    with pytest.raises(SystemExit):  # Flask-Migrate logs the migration's error and exits
        upgrade()
    assert "plans.level = 'province' (1 rows)" in capfd.readouterr().err
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            == "0017_scheduler_lease"
    assert inspect(db.engine).get_check_constraints("plans") == []
