"""Users: the mobile number, SM4-encrypted (a text token), and its HMAC-SM3 blind index.

Revision ID: 0016_confidential_fields
Revises: 0013_plan_goals
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_confidential_fields"
down_revision = "0015_second_factor"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mobile", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("mobile_index", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_mobile_index"), ["mobile_index"], unique=False)


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_mobile_index"))
        batch_op.drop_column("mobile_index")
        batch_op.drop_column("mobile")
