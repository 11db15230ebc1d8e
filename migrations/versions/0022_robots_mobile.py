"""Group robots (DingTalk, WeCom, Feishu) as an outbox channel: the robots table, and on each
outbox row the robot and the event's dedupe key (unique together: one message per robot and
event). Users' mobile numbers (issue 12) were already stored; nothing changes there.

Revision ID: 0022_robots_mobile
Revises: 0021_export_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_robots_mobile"
down_revision = "0021_export_jobs"
branch_labels = None
depends_on = None

OLD_CHANNELS = "channel IN ('email', 'webhook')"
NEW_CHANNELS = "channel IN ('email', 'webhook', 'robot')"


def upgrade():
    op.create_table(
        "robots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("webhook_url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=500), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("platform IN ('dingtalk', 'wecom', 'feishu')",
                           name=op.f("ck_robots_platform")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_robots_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robots")),
    )
    with op.batch_alter_table("robots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_robots_unit_id"), ["unit_id"], unique=False)

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("robot_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_outbox_messages_robot_id_robots"), "robots",
                                    ["robot_id"], ["id"])
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_messages_robot_id_dedupe_key"),
                                          ["robot_id", "dedupe_key"])
        batch_op.create_index("ix_outbox_messages_robot_claimed", ["robot_id", "claimed_at"],
                              unique=False)
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_channel"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_messages_channel"), NEW_CHANNELS)


def downgrade():
    bind = op.get_bind()
    left = bind.execute(sa.text(
        "SELECT count(*) FROM outbox_messages WHERE channel = 'robot'")).scalar()
    if left:
        raise RuntimeError(f"{left} robot messages are in the outbox: a downgrade would lose "
                           "them; delete them by hand first if that is intended")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_channel"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_messages_channel"), OLD_CHANNELS)
        batch_op.drop_index("ix_outbox_messages_robot_claimed")
        batch_op.drop_constraint(batch_op.f("uq_outbox_messages_robot_id_dedupe_key"),
                                 type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_outbox_messages_robot_id_robots"),
                                 type_="foreignkey")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("robot_id")
    with op.batch_alter_table("robots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_robots_unit_id"))
    op.drop_table("robots")
