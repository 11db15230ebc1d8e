"""Milestone closure: a report accepted below 100 % records the accepted progress and keeps the
milestone open; a milestone closes (办结) at a 100 % acceptance or when the office closes it off
(销号) with a reason, recorded with who did it.

Data: milestones accepted below 100 % are reopened (state in_progress, accepted progress = the
progress accepted, closure date and lateness cleared: they close when the rest is accepted).
Accepted milestones at 100 % keep their closure date; their accepted progress becomes 100.
Lateness (days_late) of closed rows is not recomputed here (the working-day calendar is
application code): run `flask assignments recompute-lateness` once after upgrading.

Revision ID: 0011_milestone_closure
Revises: 0010_calendar_years
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_milestone_closure"
down_revision = "0010_calendar_years"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accepted_progress", sa.Integer(), server_default="0",
                                      nullable=False))
        batch_op.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closure_reason", sa.Text(), server_default="",
                                      nullable=False))
        batch_op.create_foreign_key(batch_op.f("fk_milestones_closed_by_id_users"), "users",
                                    ["closed_by_id"], ["id"])

    milestones = sa.table(
        "milestones",
        sa.column("state", sa.String), sa.column("progress", sa.Integer),
        sa.column("accepted_progress", sa.Integer), sa.column("completed_on", sa.Date),
        sa.column("days_late", sa.Integer),
    )
    op.execute(
        milestones.update()
        .where(milestones.c.state == "accepted", milestones.c.progress < 100)
        .values(state="in_progress", accepted_progress=milestones.c.progress,
                completed_on=None, days_late=None)
    )
    op.execute(
        milestones.update()
        .where(milestones.c.state == "accepted")
        .values(accepted_progress=100)
    )


def downgrade():
    milestones = sa.table(
        "milestones",
        sa.column("state", sa.String), sa.column("closed_by_id", sa.Integer),
    )
    # 销号 has no equivalent before this revision: closed-off milestones count as accepted.
    op.execute(milestones.update().where(milestones.c.state == "closed").values(state="accepted"))
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_milestones_closed_by_id_users"), type_="foreignkey")
        batch_op.drop_column("closure_reason")
        batch_op.drop_column("closed_by_id")
        batch_op.drop_column("accepted_progress")
