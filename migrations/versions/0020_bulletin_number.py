"""A published bulletin's 文号 (document number) from the office's numbering series.

Revision ID: 0020_bulletin_number
Revises: 0019_version_columns
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_bulletin_number"
down_revision = "0019_version_columns"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("score_bulletins") as batch:
        batch.add_column(sa.Column("number_year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("number_sequence", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("number", sa.String(60), nullable=True))
        batch.create_unique_constraint("uq_score_bulletins_number",
                                       ["number_year", "number_sequence"])


def downgrade():
    with op.batch_alter_table("score_bulletins") as batch:
        batch.drop_constraint("uq_score_bulletins_number", type_="unique")
        batch.drop_column("number")
        batch.drop_column("number_sequence")
        batch.drop_column("number_year")
