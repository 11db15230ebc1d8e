"""States, roles and kinds stored with a CHECK constraint: each column that holds one value of a
Python enum (taskflow/*/models.py, core/db.py enum_check) accepts only that enum's values.

The values are written out here, as they are at this revision (a migration does not import the
models, which go on changing). Before adding the constraints the upgrade looks for rows that would
violate them and stops, naming table, column and values, rather than failing half-way through
on the database's own error: such rows were written by hand and need a person to decide.

Revision ID: 0018_state_checks
Revises: 0017_scheduler_lease
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_state_checks"
down_revision = "0017_scheduler_lease"
branch_labels = None
depends_on = None

UNIT_KINDS = ("department", "street", "town", "park_committee", "command_office", "task_force",
              "external", "district", "zone")
PEER_GROUPS = ("department", "street_town", "park_task_force", "external", "central_urban",
               "new_urban", "northeast", "southeast")
TARGET_KINDS = ("in_library", "re_review", "new", "cultivated", "attracted")

# table -> ((column, allowed values), ...), in the models' order.
CHECKS = {
    "users": (
        ("role", ("reporter", "unit_head", "office", "supervisor", "leader", "admin")),
    ),
    "units": (("kind", UNIT_KINDS), ("peer_group", PEER_GROUPS)),
    "plans": (("level", ("city", "district")),),
    "indicators": (("measure", ("count", "percent", "ratio")),),
    "targets": (("kind", TARGET_KINDS),),
    "not_applicable_targets": (("kind", TARGET_KINDS),),
    "assignments": (("role", ("lead", "responsible")),),
    "milestones": (
        ("state", ("pending", "in_progress", "submitted", "signed_off", "accepted", "returned",
                   "closed")),
    ),
    "status_updates": (
        ("state", ("submitted", "signed_off", "accepted", "returned")),
        ("reason_code", ("incomplete", "no_evidence", "figures_inconsistent", "false_reporting")),
    ),
    "extension_requests": (("state", ("pending", "granted", "refused")),),
    "enterprises": (
        ("source", ("stock", "cultivated", "attracted")),
        ("status", ("active", "closed")),
    ),
    "claim_conflicts": (("state", ("open", "kept", "transferred")),),
    "enterprise_imports": (("state", ("preview", "confirmed", "discarded")),),
    "enterprise_import_rows": (
        ("outcome", ("new", "changed", "unchanged", "conflict", "invalid")),
    ),
    "dispatch_periods": (("state", ("open", "closed")),),
    "urge_notices": (
        ("series", ("urge", "supervise")),
        ("level", ("blue", "yellow", "red")),
        ("source", ("scan", "office")),
    ),
    "reminder_dispatches": (("outcome", ("sent", "superseded")),),
    "outbox_messages": (
        ("channel", ("email", "webhook")),
        ("state", ("pending", "sending", "sent", "failed")),
    ),
    "score_periods": (
        ("kind", ("month", "quarter", "year")),
        ("state", ("draft", "locked", "published")),
    ),
    "score_cards": (("peer_group", PEER_GROUPS),),
    "score_items": (
        ("component", ("execution", "indicators", "responsiveness", "quality", "incentive")),
    ),
    "score_bulletins": (("state", ("draft", "published")),),
    "score_confirmations": (
        ("action", ("lock", "publish", "bulletin_publish")),
        ("state", ("pending", "done", "cancelled")),
    ),
}


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _refuse_violations() -> None:
    """Stop before any change when a row holds a value its new constraint would refuse."""
    conn = op.get_bind()
    found = []
    for table, checks in CHECKS.items():
        for column, values in checks:
            col = sa.column(column, sa.String)
            query = (sa.select(col, sa.func.count()).select_from(sa.table(table, col))
                     .where(col.is_not(None), col.not_in(values)).group_by(col))
            found += [f"{table}.{column} = {value!r} ({count} rows)"
                      for value, count in conn.execute(query)]
    if found:
        raise RuntimeError("rows hold values outside their states; correct them, then upgrade:\n"
                           + "\n".join(found))


def _check_foreign_keys() -> None:
    """On SQLite the tables were rebuilt with foreign keys off (env.py): none may dangle."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:10]}")


def upgrade():
    _refuse_violations()
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in checks:
                batch_op.create_check_constraint(batch_op.f(f"ck_{table}_{column}"),
                                                 _condition(column, values))
    _check_foreign_keys()


def downgrade():
    for table, checks in reversed(CHECKS.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, _values in checks:
                batch_op.drop_constraint(batch_op.f(f"ck_{table}_{column}"), type_="check")
    _check_foreign_keys()
