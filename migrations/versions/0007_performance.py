"""Performance: an index for the office's review queue and its navigation badge.

Revision ID: 0007_performance
Revises: 0006_scores
"""

from alembic import op

revision = "0007_performance"
down_revision = "0006_scores"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("status_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_updates_state_needs_sign_off"),
                              ["state", "needs_sign_off"], unique=False)


def downgrade():
    with op.batch_alter_table("status_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_updates_state_needs_sign_off"))
