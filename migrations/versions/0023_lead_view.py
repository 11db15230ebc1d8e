"""The quarter a lead unit's consolidated report (汇总报告) covers.

Reports written before: the quarter of the latest original due date among the milestones of the
updates they cite (the period the units reported on), or, citing nothing, the quarter before the
one they were written in (a quarter's report is written after its end) — in Asia/Shanghai time.

Revision ID: 0023_lead_view
Revises: 0022_robots_mobile
"""

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision = "0023_lead_view"
down_revision = "0022_robots_mobile"
branch_labels = None
depends_on = None

SHANGHAI = timezone(timedelta(hours=8))


def _as_date(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_local_day(value) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(SHANGHAI).date()


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def previous_quarter(day: date) -> tuple[int, int]:
    year, quarter = quarter_of(day)
    return (year, quarter - 1) if quarter > 1 else (year - 1, 4)


def upgrade():
    with op.batch_alter_table("consolidated_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quarter_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("quarter", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(batch_op.f("ck_consolidated_reports_quarter"),
                                        "quarter BETWEEN 1 AND 4")

    connection = op.get_bind()
    reports = connection.execute(sa.text("SELECT id, created_at FROM consolidated_reports")).all()
    if not reports:
        return
    cited = dict(connection.execute(sa.text(
        "SELECT rc.report_id, MAX(m.original_due_date) FROM report_citations rc "
        "JOIN status_updates su ON su.id = rc.status_update_id "
        "JOIN milestones m ON m.id = su.milestone_id GROUP BY rc.report_id")).all())
    for report_id, created_at in reports:
        due = _as_date(cited.get(report_id))
        year, quarter = quarter_of(due) if due else previous_quarter(_as_local_day(created_at))
        connection.execute(
            sa.text("UPDATE consolidated_reports SET quarter_year = :y, quarter = :q "
                    "WHERE id = :id"), {"y": year, "q": quarter, "id": report_id})


def downgrade():
    with op.batch_alter_table("consolidated_reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_consolidated_reports_quarter"), type_="check")
        batch_op.drop_column("quarter")
        batch_op.drop_column("quarter_year")
