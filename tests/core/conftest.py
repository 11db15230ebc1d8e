"""Fixtures for the cross-area checks: both plans imported and one user of every role."""

import pytest
from sqlalchemy import select

from taskflow.extensions import db
from tests.helpers import ROLES, make_test_app


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory, catalog_build_dir):
    """One app for a module: upload validation needs the settings and catalogs, not a database."""
    base = tmp_path_factory.mktemp("validation")
    app = make_test_app(base, f"sqlite:///{base / 'db.sqlite3'}", catalog_build_dir)
    with app.app_context():
        yield app


@pytest.fixture
def world(app, imported_plans, make_user):
    """Both plans imported and one user per role (unit roles at 古南街道)."""
    from taskflow.units.models import Unit

    unit = db.session.scalar(select(Unit).where(Unit.plan_id == imported_plans.id,
                                                Unit.name == "古南街道"))
    users = {role: make_user(role, unit=unit if role in ("reporter", "unit_head") else None)
             for role in ROLES}
    return {"plan": imported_plans, "unit": unit, "users": users}
