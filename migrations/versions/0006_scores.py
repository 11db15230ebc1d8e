"""scores: rule sets, scored periods, score cards and items, adjustments, recognitions, bulletins

Revision ID: 0006_scores
Revises: 0005_notices
Create Date: 2026-11-22 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006_scores"
down_revision = "0005_notices"
branch_labels = None
depends_on = None

POINTS = sa.Numeric(precision=8, scale=2)


def upgrade():
    op.create_table(
        "score_rule_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_score_rule_sets_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_rule_sets")),
        sa.UniqueConstraint("version", name=op.f("uq_score_rule_sets_version")),
    )
    op.create_table(
        "score_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("rule_set_id", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=False),
        sa.Column("locked_at", sa.DateTime(), nullable=True),
        sa.Column("locked_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["locked_by_id"], ["users.id"],
                                name=op.f("fk_score_periods_locked_by_id_users")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_score_periods_plan_id_plans")),
        sa.ForeignKeyConstraint(["published_by_id"], ["users.id"],
                                name=op.f("fk_score_periods_published_by_id_users")),
        sa.ForeignKeyConstraint(["rule_set_id"], ["score_rule_sets.id"],
                                name=op.f("fk_score_periods_rule_set_id_score_rule_sets")),
        sa.ForeignKeyConstraint(["supersedes_id"], ["score_periods.id"],
                                name=op.f("fk_score_periods_supersedes_id_score_periods")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_periods")),
        sa.UniqueConstraint("plan_id", "key", "revision", name=op.f("uq_score_periods_plan_id_key_revision")),
    )
    with op.batch_alter_table("score_periods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_score_periods_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_score_periods_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "score_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("peer_group", sa.String(length=32), nullable=False),
        sa.Column("base", POINTS, nullable=False),
        sa.Column("execution", POINTS, nullable=False),
        sa.Column("indicators", POINTS, nullable=False),
        sa.Column("responsiveness", POINTS, nullable=False),
        sa.Column("quality", POINTS, nullable=False),
        sa.Column("incentive", POINTS, nullable=False),
        sa.Column("computed_total", POINTS, nullable=False),
        sa.Column("adjustment", POINTS, nullable=False),
        sa.Column("total", POINTS, nullable=False),
        sa.Column("grade", sa.String(length=12), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("group_size", sa.Integer(), nullable=True),
        sa.Column("previous_rank", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["period_id"], ["score_periods.id"],
                                name=op.f("fk_score_cards_period_id_score_periods"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_score_cards_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_cards")),
        sa.UniqueConstraint("period_id", "unit_id", name=op.f("uq_score_cards_period_id_unit_id")),
    )
    with op.batch_alter_table("score_cards", schema=None) as batch_op:
        batch_op.create_index("ix_score_cards_period_group_rank", ["period_id", "peer_group", "rank"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_score_cards_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "score_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=20), nullable=False),
        sa.Column("points", POINTS, nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("source_type", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["period_id"], ["score_periods.id"],
                                name=op.f("fk_score_items_period_id_score_periods"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_score_items_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_items")),
    )
    with op.batch_alter_table("score_items", schema=None) as batch_op:
        batch_op.create_index("ix_score_items_period_unit", ["period_id", "unit_id"], unique=False)

    op.create_table(
        "score_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("points", POINTS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_score_adjustments_created_by_id_users")),
        sa.ForeignKeyConstraint(["period_id"], ["score_periods.id"],
                                name=op.f("fk_score_adjustments_period_id_score_periods"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_score_adjustments_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_adjustments")),
    )
    with op.batch_alter_table("score_adjustments", schema=None) as batch_op:
        batch_op.create_index("ix_score_adjustments_period_unit", ["period_id", "unit_id"], unique=False)

    op.create_table(
        "score_recognitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("awarded_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("points", POINTS, nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_score_recognitions_created_by_id_users")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_score_recognitions_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_recognitions")),
    )
    with op.batch_alter_table("score_recognitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_score_recognitions_awarded_on"), ["awarded_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_score_recognitions_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "score_bulletins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_score_bulletins_created_by_id_users")),
        sa.ForeignKeyConstraint(["period_id"], ["score_periods.id"],
                                name=op.f("fk_score_bulletins_period_id_score_periods")),
        sa.ForeignKeyConstraint(["published_by_id"], ["users.id"],
                                name=op.f("fk_score_bulletins_published_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_bulletins")),
    )
    with op.batch_alter_table("score_bulletins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_score_bulletins_period_id"), ["period_id"], unique=False)

    op.create_table(
        "score_bulletin_sections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["bulletin_id"], ["score_bulletins.id"],
                                name=op.f("fk_score_bulletin_sections_bulletin_id_score_bulletins"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_bulletin_sections")),
        sa.UniqueConstraint("bulletin_id", "key", name=op.f("uq_score_bulletin_sections_bulletin_id_key")),
    )


def downgrade():
    op.drop_table("score_bulletin_sections")
    with op.batch_alter_table("score_bulletins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_bulletins_period_id"))
    op.drop_table("score_bulletins")
    with op.batch_alter_table("score_recognitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_recognitions_unit_id"))
        batch_op.drop_index(batch_op.f("ix_score_recognitions_awarded_on"))
    op.drop_table("score_recognitions")
    with op.batch_alter_table("score_adjustments", schema=None) as batch_op:
        batch_op.drop_index("ix_score_adjustments_period_unit")
    op.drop_table("score_adjustments")
    with op.batch_alter_table("score_items", schema=None) as batch_op:
        batch_op.drop_index("ix_score_items_period_unit")
    op.drop_table("score_items")
    with op.batch_alter_table("score_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_cards_unit_id"))
        batch_op.drop_index("ix_score_cards_period_group_rank")
    op.drop_table("score_cards")
    with op.batch_alter_table("score_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_periods_plan_id"))
        batch_op.drop_index(batch_op.f("ix_score_periods_key"))
    op.drop_table("score_periods")
    op.drop_table("score_rule_sets")
