"""Fixtures for the security tests: an administrator and one user per role."""

import pytest

ROLES = ("reporter", "unit_head", "office", "supervisor", "leader", "admin")


@pytest.fixture(autouse=True)
def backup_dir(app, tmp_path):
    """A backup folder of the test's own (the settings' default is under the checkout)."""
    app.config["BACKUP_DIR"] = tmp_path / "backups"
    return app.config["BACKUP_DIR"]


@pytest.fixture
def admin(make_user):
    """The administrator."""
    return make_user("admin", username="root_admin")


@pytest.fixture
def user_for_role(make_user, make_unit):
    """make_user of a role (unit roles in a new unit)."""

    def factory(role, **kwargs):
        unit = make_unit() if role in ("reporter", "unit_head") else None
        return make_user(role, unit=unit, **kwargs)

    return factory
