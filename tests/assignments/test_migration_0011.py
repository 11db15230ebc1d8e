"""0011_milestone_closure: milestones accepted below 100 % before the upgrade are reopened with
their accepted progress; those accepted at 100 % stay closed."""

from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from taskflow.extensions import db
from tests.helpers import app_at_revision

REVISION = "0011_milestone_closure"


@pytest.fixture
def old_database(tmp_path):
    with app_at_revision(tmp_path, "0009_user_version") as app:
        yield app


def test_accepted_below_100_reopens_and_100_stays_closed(old_database):
    insert = text(
        "INSERT INTO milestones (id, assignment_id, title, due_date, original_due_date, weight, "
        "required_evidence, state, progress, completed_on, days_late, version_id, updated_at) "
        "VALUES (:id, 1, :title, '2026-03-31', '2026-03-31', 1, '', :state, :progress, "
        ":completed_on, :days_late, 1, '2026-04-01 00:00:00')")
    with db.engine.connect() as conn:
        conn.execute(text("PRAGMA foreign_keys=OFF"))
        conn.execute(insert, {"id": 1, "title": "六成", "state": "accepted", "progress": 60,
                              "completed_on": "2026-04-10", "days_late": 10})
        conn.execute(insert, {"id": 2, "title": "全部", "state": "accepted", "progress": 100,
                              "completed_on": "2026-03-30", "days_late": 0})
        conn.execute(insert, {"id": 3, "title": "未报", "state": "pending", "progress": 0,
                              "completed_on": None, "days_late": None})
        conn.commit()
    upgrade(revision=REVISION)
    with db.engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(text(
            "SELECT id, state, progress, accepted_progress, completed_on, days_late, "
            "closure_reason, closed_by_id FROM milestones"))}
    assert (rows[1].state, rows[1].accepted_progress, rows[1].completed_on,
            rows[1].days_late) == ("in_progress", 60, None, None)
    assert (rows[2].state, rows[2].accepted_progress, str(rows[2].completed_on)) == (
        "accepted", 100, str(date(2026, 3, 30)))
    assert (rows[3].state, rows[3].accepted_progress) == ("pending", 0)
    assert rows[3].closure_reason == "" and rows[3].closed_by_id is None
    # And back down: a closed-off milestone becomes an accepted one.
    with db.engine.connect() as conn:
        conn.execute(text("UPDATE milestones SET state = 'closed' WHERE id = 3"))
        conn.commit()
    downgrade(revision="0009_user_version")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM milestones WHERE id = 3")).scalar() == \
            "accepted"
