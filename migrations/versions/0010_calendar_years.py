"""Calendar: the years whose State Council holiday arrangement the admin entered (calendar_years),
and which entered year wrote each workday override (workday_overrides.notice_year), so the
calendar never guesses Monday–Friday for a year nobody knows.

Revision ID: 0010_calendar_years
Revises: 0009_user_version
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_calendar_years"
down_revision = "0009_user_version"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_years",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("notice_text", sa.Text(), nullable=False),
        sa.Column("rest_days", sa.Integer(), nullable=False),
        sa.Column("make_up_days", sa.Integer(), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entered_by_id"], ["users.id"],
                                name=op.f("fk_calendar_years_entered_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_years")),
        sa.UniqueConstraint("year", name=op.f("uq_calendar_years_year")),
    )
    with op.batch_alter_table("workday_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_year", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("workday_overrides", schema=None) as batch_op:
        batch_op.drop_column("notice_year")
    op.drop_table("calendar_years")
