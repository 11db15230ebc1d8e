"""One spelling of the optimistic lock: every locked table's mapper `version_id_col` is
`version_id` (the register's tables and users called it `version`).

Revision ID: 0019_version_columns
Revises: 0018_state_checks
"""

from alembic import op

revision = "0019_version_columns"
down_revision = "0018_state_checks"
branch_labels = None
depends_on = None

TABLES = ("enterprises", "claim_conflicts", "dispatch_confirmations", "users")


def upgrade():
    # A rename keeps each row's version, its NOT NULL and users' server default; SQLite (3.25+)
    # and PostgreSQL both rename in place, so no table is rebuilt.
    for table in TABLES:
        op.alter_column(table, "version", new_column_name="version_id")


def downgrade():
    for table in TABLES:
        op.alter_column(table, "version_id", new_column_name="version")
