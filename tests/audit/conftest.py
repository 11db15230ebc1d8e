"""Fixtures for the audit tests: events written through the real audit.record."""

from datetime import datetime, timezone

import pytest

from taskflow.core import audit
from taskflow.core.clock import frozen_at
from taskflow.extensions import db


@pytest.fixture(autouse=True)
def backup_dir(app, tmp_path):
    """Anchors go to this test's own folder (the settings' default is the project's instance)."""
    app.config["BACKUP_DIR"] = tmp_path / "backups"
    return app.config["BACKUP_DIR"]


@pytest.fixture
def record_event(app):
    """record_event(actor, action, ..., at=datetime) writes and commits one audit event."""

    def factory(actor, action, *, at=None, object_type="milestones", object_id=1, before=None,
                after=None, summary=""):
        with frozen_at(at or datetime(2024, 5, 6, 2, 0, tzinfo=timezone.utc)):
            event = audit.record(actor, action, object_type=object_type, object_id=object_id,
                                 before=before, after=after, summary=summary)
        db.session.commit()
        return event

    return factory
