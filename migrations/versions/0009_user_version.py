"""Accounts: a version on users, so two administrators editing one account cannot overwrite
each other unseen (optimistic locking of the admin edit form).

Revision ID: 0009_user_version
Revises: 0008_review_queue_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_user_version"
down_revision = "0008_review_queue_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("version")
