"""Fixtures for the accounts tests: a town unit, one user per role, a second app instance."""

from contextlib import contextmanager

import pytest

from config import TestingConfig
from taskflow import create_app
from taskflow.extensions import db


ROLES = ("reporter", "unit_head", "office", "supervisor", "leader", "admin")


@pytest.fixture
def town(make_unit):
    """古南街道, a street of the district plan."""
    return make_unit(name="古南街道", kind="street", peer_group="street_town")


@pytest.fixture
def user_for_role(make_user, town):
    """make a user of the given role (unit roles in 古南街道)."""

    def factory(role, **kwargs):
        unit = town if role in ("reporter", "unit_head") else None
        return make_user(role, unit=unit, **kwargs)

    return factory


@pytest.fixture
def admin(make_user):
    return make_user("admin", username="root_admin")


@pytest.fixture
def second_app(app, tmp_path):
    """Another app instance over the same database, like a second gunicorn worker."""

    @contextmanager
    def build():
        other = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
            INSTANCE_DIR=tmp_path / "instance2",
            DATA_DIR=tmp_path / "data2",
        )
        other.test_client_class = app.test_client_class
        try:
            yield other
        finally:
            with other.app_context():
                db.session.remove()
                db.engine.dispose()

    return build
