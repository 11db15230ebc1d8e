"""The scheduler's single-instance lease in the database (replaces the file lock under
INSTANCE_DIR on SQLite and the advisory lock on PostgreSQL).

Revision ID: 0017_scheduler_lease
Revises: 0013_plan_goals
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_scheduler_lease"
down_revision = "0016_confidential_fields"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
    )


def downgrade():
    op.drop_table("scheduler_lease")
