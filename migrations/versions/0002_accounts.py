"""accounts: sign-in attempts for throttling across workers

Revision ID: 0002_accounts
Revises: 0001_foundation
Create Date: 2026-11-22 03:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0002_accounts"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_attempts_ip_attempted_at", ["ip", "attempted_at"], unique=False
        )
        batch_op.create_index(
            "ix_login_attempts_username_attempted_at", ["username", "attempted_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_username_attempted_at")
        batch_op.drop_index("ix_login_attempts_ip_attempted_at")
    op.drop_table("login_attempts")
