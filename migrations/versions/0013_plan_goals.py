"""Plans: goals without an indicator (numeric goals with their unit, qualitative goals, goals of a
key task, every-year and plan-period goals) and "-" cells of the target table recorded as not
applicable.

Revision ID: 0013_plan_goals
Revises: 0012_score_governance
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_plan_goals"
down_revision = "0012_score_governance"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("plan_goals", schema=None) as batch_op:
        batch_op.alter_column("indicator_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("year", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("value", existing_type=sa.Numeric(precision=14, scale=4), nullable=True)
        batch_op.add_column(sa.Column("every_year", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("unit", sa.String(length=20), server_default="", nullable=False))
        batch_op.add_column(sa.Column("metric", sa.String(length=200), server_default="", nullable=False))
        batch_op.add_column(sa.Column("scope", sa.String(length=100), server_default="", nullable=False))
        batch_op.add_column(sa.Column("task_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_plan_goals_task_id_key_tasks"), "key_tasks", ["task_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_plan_goals_task_id"), ["task_id"], unique=False)

    op.create_table(
        "not_applicable_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicators.id"],
                                name=op.f("fk_not_applicable_targets_indicator_id_indicators")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_not_applicable_targets_plan_id_plans")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_not_applicable_targets_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_not_applicable_targets")),
        sa.UniqueConstraint("plan_id", "unit_id", "indicator_id", "year", "kind",
                            name=op.f("uq_not_applicable_targets_plan_id_unit_id_indicator_id_year_kind")),
    )
    with op.batch_alter_table("not_applicable_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_not_applicable_targets_indicator_id"), ["indicator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_not_applicable_targets_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_not_applicable_targets_unit_id"), ["unit_id"], unique=False)


def downgrade():
    with op.batch_alter_table("not_applicable_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_not_applicable_targets_unit_id"))
        batch_op.drop_index(batch_op.f("ix_not_applicable_targets_plan_id"))
        batch_op.drop_index(batch_op.f("ix_not_applicable_targets_indicator_id"))
    op.drop_table("not_applicable_targets")

    # Goals that the older schema cannot hold (no indicator, no year or no value) go.
    op.execute("DELETE FROM plan_goals WHERE indicator_id IS NULL OR year IS NULL OR value IS NULL")
    with op.batch_alter_table("plan_goals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_goals_task_id"))
        batch_op.drop_constraint(batch_op.f("fk_plan_goals_task_id_key_tasks"), type_="foreignkey")
        batch_op.drop_column("task_id")
        batch_op.drop_column("scope")
        batch_op.drop_column("metric")
        batch_op.drop_column("unit")
        batch_op.drop_column("every_year")
        batch_op.alter_column("value", existing_type=sa.Numeric(precision=14, scale=4), nullable=False)
        batch_op.alter_column("year", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("indicator_id", existing_type=sa.Integer(), nullable=False)
