"""Audit security: a hash-scheme label per audit event (existing events stay "v1"; new ones are
chained with "v2-sha256" or "v2-sm3", covering actor name and IP address) and the security_events
table (sign-in, sign-out, refused access, ...; pruned after the retention).

Revision ID: 0014_audit_security
Revises: 0013_plan_goals
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_audit_security"
down_revision = "0013_plan_goals"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hash_scheme", sa.String(length=20), server_default="v1", nullable=False))

    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_security_events_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_events_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_events_occurred_at"), ["occurred_at"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_security_events_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_security_events_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_security_events_kind"))
    op.drop_table("security_events")

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("hash_scheme")
