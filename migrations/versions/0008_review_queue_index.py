"""Review queue: a partial index of the reports waiting for the office, in queue order.

PostgreSQL walked ix_status_updates_created_at from the oldest report and filtered every report
in the system to find the first page of the queue (0.9 s at city scale); with this index it reads
the page directly. Only waiting reports are in it, so it stays small on both databases.

Revision ID: 0008_review_queue_index
Revises: 0007_performance
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_review_queue_index"
down_revision = "0007_performance"
branch_labels = None
depends_on = None

# taskflow.assignments.models.awaiting_office_clause() as SQL, at this revision.
AWAITING_OFFICE_SQL = "state = 'signed_off' OR (state = 'submitted' AND needs_sign_off = false)"


def upgrade():
    op.create_index("ix_status_updates_awaiting_office", "status_updates", ["created_at", "id"],
                    unique=False, postgresql_where=sa.text(AWAITING_OFFICE_SQL),
                    sqlite_where=sa.text(AWAITING_OFFICE_SQL))


def downgrade():
    op.drop_index("ix_status_updates_awaiting_office", table_name="status_updates")
