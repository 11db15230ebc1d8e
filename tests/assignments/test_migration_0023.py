"""0023_lead_view: consolidated reports written before get the quarter they cover — the quarter
of the latest original due date among the milestones they cite, or, citing nothing, the quarter
before the one they were written in (Asia/Shanghai)."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from taskflow.extensions import db
from tests.helpers import app_at_revision

REVISION = "0023_lead_view"


@pytest.fixture
def old_database(tmp_path):
    with app_at_revision(tmp_path, "0019_version_columns") as app:
        yield app


def test_reports_get_the_quarter_they_cover(old_database):
    with db.engine.connect() as conn:
        conn.execute(text("PRAGMA foreign_keys=OFF"))
        for mid, due in ((1, "2024-03-31"), (2, "2024-06-30")):
            conn.execute(text(
                "INSERT INTO milestones (id, assignment_id, title, due_date, original_due_date, "
                "weight, required_evidence, state, progress, accepted_progress, closure_reason, "
                "version_id, updated_at) VALUES (:id, 1, 't', :due, :due, 1, '', 'submitted', 10, "
                "0, '', 1, '2024-07-01 00:00:00')"), {"id": mid, "due": due})
            conn.execute(text(
                "INSERT INTO status_updates (id, milestone_id, author_id, progress, narrative, "
                "problems, next_steps, created_at, state, needs_sign_off, comment, version_id) "
                "VALUES (:id, :id, 1, 10, 'x', '', '', '2024-07-01 00:00:00', 'submitted', 0, '', "
                "1)"), {"id": mid})
        insert = text("INSERT INTO consolidated_reports (id, assignment_id, author_id, title, "
                      "body, created_at) VALUES (:id, 1, 1, 't', 'b', :at)")
        # Cites both quarters' reports, written in August: covers Q2.
        conn.execute(insert, {"id": 1, "at": "2024-08-02 02:00:00"})
        conn.execute(text("INSERT INTO report_citations VALUES (1, 1), (1, 2)"))
        # Cites nothing, written 2024-04-01 04:00 in Shanghai (03-31 in UTC): covers 2024 Q1.
        conn.execute(insert, {"id": 2, "at": "2024-03-31 20:00:00"})
        # Cites nothing, written in January: the previous year's Q4.
        conn.execute(insert, {"id": 3, "at": "2025-01-10 02:00:00"})
        conn.commit()
    upgrade(revision=REVISION)
    with db.engine.connect() as conn:
        rows = dict((row.id, (row.quarter_year, row.quarter)) for row in conn.execute(text(
            "SELECT id, quarter_year, quarter FROM consolidated_reports")))
    assert rows == {1: (2024, 2), 2: (2024, 1), 3: (2024, 4)}
    downgrade(revision="0019_version_columns")
    columns = {c["name"] for c in inspect(db.engine).get_columns("consolidated_reports")}
    assert "quarter" not in columns and "quarter_year" not in columns
