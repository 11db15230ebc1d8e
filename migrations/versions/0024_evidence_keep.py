"""A returned report keeps its files: a resubmission copies the Evidence rows it keeps (same
stored file), so storage_key is no longer unique (an index instead) and each copy names the
row it keeps (kept_from_id).

Revision ID: 0024_evidence_keep
Revises: 0023_lead_view
"""

from alembic import op
import sqlalchemy as sa

revision = "0024_evidence_keep"
down_revision = "0023_lead_view"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_constraint("uq_evidence_storage_key", type_="unique")
        batch_op.create_index("ix_evidence_storage_key", ["storage_key"], unique=False)
        batch_op.add_column(sa.Column("kept_from_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_evidence_kept_from_id_evidence", "evidence",
                                    ["kept_from_id"], ["id"])


def downgrade():
    # Kept copies share their file with the row they copy: they go before the key is unique.
    op.execute("DELETE FROM evidence WHERE kept_from_id IS NOT NULL")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_constraint("fk_evidence_kept_from_id_evidence", type_="foreignkey")
        batch_op.drop_column("kept_from_id")
        batch_op.drop_index("ix_evidence_storage_key")
        batch_op.create_unique_constraint("uq_evidence_storage_key", ["storage_key"])
