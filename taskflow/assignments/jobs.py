"""Scheduled maintenance of the assignments area: sweeping evidence files no row references."""

from datetime import timedelta

from sqlalchemy import select

from taskflow.assignments.models import Evidence
from taskflow.core import storage
from taskflow.core.schedule import Job
from taskflow.core.db import read_transaction
from taskflow.extensions import db

# Files no row references and no upload manifest names (a power failure mid-upload) wait this
# long before the nightly sweep removes them; the default of `flask evidence sweep`.
ORPHAN_GRACE = storage.DEFAULT_GRACE


def sweep_interrupted_uploads() -> dict:
    """Every few minutes: delete the files of uploads that died before their commit, once older
    than UPLOAD_ORPHAN_MINUTES; a file a committed Evidence row holds is never deleted."""
    # Only reads: on SQLite it must not take the write lock the scheduler's jobs begin with.
    with read_transaction():
        db.session.rollback()
        removed = storage.sweep_interrupted(db.session, Evidence.storage_key)
        db.session.rollback()
    return {"removed": len(removed)}


def sweep_orphaned_evidence(grace: timedelta = ORPHAN_GRACE) -> dict:
    """Nightly: delete every stored file no Evidence row references, older than the grace."""
    with read_transaction():
        db.session.rollback()
        removed = storage.sweep(db.session, select(Evidence.storage_key), older_than=grace)
        db.session.rollback()
    return {"removed": len(removed)}


# The assignments area's scheduled jobs (collected by taskflow/scheduler.py; times Asia/Shanghai).
SCHEDULE = (
    # Files of an upload killed before its commit go within minutes (UPLOAD_ORPHAN_MINUTES);
    # any other unreferenced file after the grace period, at night.
    Job("evidence_interrupted_sweep", sweep_interrupted_uploads, "cron", {"minute": "*/5"},
        setting="UPLOAD_ORPHAN_MINUTES"),
    Job("evidence_orphan_sweep", sweep_orphaned_evidence, "cron", {"hour": 3, "minute": 15}),
)
