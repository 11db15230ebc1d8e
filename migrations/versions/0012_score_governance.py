"""Scores: governance. A bulletin built on a corrected revision is marked superseded
(score_bulletins.superseded_at / superseded_by_id), and a lock or publish that needs a second
person waits in score_confirmations until a different user confirms it.

Revision ID: 0012_score_governance
Revises: 0011_milestone_closure
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_score_governance"
down_revision = "0011_milestone_closure"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("score_bulletins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("superseded_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_score_bulletins_superseded_by_id_score_periods"),
                                    "score_periods", ["superseded_by_id"], ["id"])

    op.create_table(
        "score_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=True),
        sa.Column("bulletin_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("object_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["bulletin_id"], ["score_bulletins.id"],
                                name=op.f("fk_score_confirmations_bulletin_id_score_bulletins"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["confirmed_by_id"], ["users.id"],
                                name=op.f("fk_score_confirmations_confirmed_by_id_users")),
        sa.ForeignKeyConstraint(["period_id"], ["score_periods.id"],
                                name=op.f("fk_score_confirmations_period_id_score_periods"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_score_confirmations_requested_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_confirmations")),
    )
    with op.batch_alter_table("score_confirmations", schema=None) as batch_op:
        batch_op.create_index("ix_score_confirmations_bulletin", ["bulletin_id", "action", "state"],
                              unique=False)
        batch_op.create_index("ix_score_confirmations_period", ["period_id", "action", "state"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("score_confirmations", schema=None) as batch_op:
        batch_op.drop_index("ix_score_confirmations_period")
        batch_op.drop_index("ix_score_confirmations_bulletin")
    op.drop_table("score_confirmations")
    with op.batch_alter_table("score_bulletins", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_score_bulletins_superseded_by_id_score_periods"),
                                 type_="foreignkey")
        batch_op.drop_column("superseded_by_id")
        batch_op.drop_column("superseded_at")
