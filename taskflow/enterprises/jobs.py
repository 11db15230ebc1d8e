"""Scheduled work of the monthly dispatch; every function is idempotent and commits nothing."""

import logging
import os
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import insert, select, update

from taskflow.core import audit, clock
from taskflow.enterprises import operations, queries
from taskflow.enterprises.models import (
    DispatchConfirmation,
    DispatchPeriod,
    DispatchPeriodState,
)
from taskflow.extensions import db
from taskflow.units.models import Unit

log = logging.getLogger("taskflow.enterprises.jobs")
# Folders of DATA_DIR that only ever hold temporary files: the copy of an upload while it is
# staged (imports/) and spill files (tmp/). A staged import lives in the database
# (EnterpriseImportRow); nothing refers to these files once the request ends, so backups skip
# them (core/backup.py SKIP_TOP_DIRS) and what a killed worker left there is swept.
TEMP_DIRS = ("imports", "tmp")


def open_month_if_due(today: date) -> DispatchPeriod | None:
    """Open the month that ended before `today` (from DISPATCH_OPEN_DAY of the next month) once.

    Returns the period it opened, or None when nothing was due (already open, too early, no
    district plan, or the month lies outside the plan's years)."""
    plan = queries.district_plan()
    if plan is None:
        return None
    open_day = int(current_app.config.get("DISPATCH_OPEN_DAY", 1))
    if today.day < open_day:
        return None
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if not plan.start_year <= month.year <= plan.end_year:
        return None
    exists = db.session.scalar(select(DispatchPeriod.id).where(
        DispatchPeriod.plan_id == plan.id, DispatchPeriod.month == month))
    if exists is not None:
        return None
    return operations.open_month(month, None, plan=plan)


def units_not_confirmed(period: DispatchPeriod) -> list[Unit]:
    """The period's units that have not confirmed yet, in table order (two queries)."""
    confirmed = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id,
        DispatchConfirmation.confirmed_at.is_not(None))))
    return [u for u in queries.dispatch_units(period.plan_id) if u.id not in confirmed]


def mark_late(period: DispatchPeriod, today: date) -> int:
    """After the due date, record every unconfirmed unit of an open period as late, once.

    Returns how many units were newly marked; a second run marks none."""
    if period.state != DispatchPeriodState.OPEN or today <= period.due_on:
        return 0
    missing = units_not_confirmed(period)
    if not missing:
        return 0
    have_row = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id)))
    already_late = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id, DispatchConfirmation.late.is_(True))))
    new_rows = [{"period_id": period.id, "unit_id": u.id, "late": True, "note": "", "version": 1}
                for u in missing if u.id not in have_row]
    to_flag = [u.id for u in missing if u.id in have_row and u.id not in already_late]
    if new_rows:
        db.session.execute(insert(DispatchConfirmation), new_rows)
    if to_flag:
        db.session.execute(
            update(DispatchConfirmation)
            .where(DispatchConfirmation.period_id == period.id,
                   DispatchConfirmation.unit_id.in_(to_flag))
            .values(late=True, version=DispatchConfirmation.version + 1)
            .execution_options(synchronize_session=False)
        )
    marked = len(new_rows) + len(to_flag)
    if marked:
        names = [u.name for u in missing if u.id not in already_late]
        audit.record(None, "dispatch.mark_late", period, after={"units": names},
                     summary=f"{period.label}: {marked}")
    return marked


def purge_stale_imports(now) -> int:
    """Drop import previews nobody confirmed within a week (idempotent); returns how many."""
    from taskflow.enterprises.importer import purge_stale

    return purge_stale(now, days=int(current_app.config.get("ENTERPRISE_IMPORT_KEEP_DAYS", 7)))


def sweep_import_files(now: datetime | None = None) -> dict:
    """Remove files under DATA_DIR/imports and DATA_DIR/tmp older than IMPORT_TEMP_MAX_AGE_HOURS:
    a killed worker's left-overs (an upload being staged is minutes old at most). Idempotent;
    returns {"removed": n}."""
    hours = int(current_app.config.get("IMPORT_TEMP_MAX_AGE_HOURS", 6))
    cutoff = ((now or clock.utcnow()) - timedelta(hours=hours)).timestamp()
    root = Path(current_app.config["DATA_DIR"])
    removed: list[str] = []
    for name in TEMP_DIRS:
        for folder, _dirs, files in os.walk(root / name):  # symlinks to folders not followed
            for file_name in files:
                path = Path(folder) / file_name
                try:
                    if path.lstat().st_mtime > cutoff:
                        continue
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed.append(path.relative_to(root).as_posix())
    if removed:
        log.warning("swept %d temporary import file(s) older than %d h: %s", len(removed), hours,
                    removed)
    return {"removed": len(removed)}
