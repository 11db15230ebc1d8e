"""Scheduled work of the enterprises area: the monthly dispatch (月调度) and the import sweeps.

Every job is idempotent: run twice, or after a gap, it does what is due once."""

import logging
import os
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from taskflow.core import audit, clock
from taskflow.core.schedule import Job, refuses_unknown_years, workday_calendar, writes
from taskflow.enterprises import importer, operations, queries
from taskflow.enterprises.models import DispatchPeriod, DispatchPeriodState
from taskflow.extensions import db
from taskflow.notices import operations as notices

log = logging.getLogger("taskflow.enterprises.jobs")
# Folders of DATA_DIR that only ever hold temporary files: the copy of an upload while it is
# staged (imports/) and spill files (tmp/). A staged import lives in the database
# (EnterpriseImportRow); nothing refers to these files once the request ends, so backups skip
# them (core/backup.py SKIP_TOP_DIRS) and what a killed worker left there is swept.
TEMP_DIRS = ("imports", "tmp")


@refuses_unknown_years
@writes
def run_monthly_dispatch(today: date | None = None, *, commit: bool = True) -> Counter:
    """Open the month on its first working day, remind units that have not confirmed on the
    DISPATCH_REMIND_WORKING_DAY-th working day, and mark them late after the due date (the
    DISPATCH_LATE_AFTER_WORKING_DAY-th working day after the month's end, or a fair deadline for a
    month opened late: enterprises.operations.due_date)."""
    today, cal = workday_calendar(today)
    if cal is None:
        return Counter(day_off=1)
    counts: Counter = Counter()
    if operations.open_month_if_due(today) is not None:
        counts["opened"] += 1
    remind_on = int(current_app.config["DISPATCH_REMIND_WORKING_DAY"])
    number = cal.workday_number_in_month(today)
    periods = list(db.session.scalars(
        select(DispatchPeriod).where(DispatchPeriod.state == DispatchPeriodState.OPEN)
        .order_by(DispatchPeriod.id)
    ))
    reminders = []
    claimed_period: dict[int, int] = {}
    for period in periods:
        counts["marked_late"] += operations.mark_late(period, today)
        if number < remind_on or today > period.due_on:
            continue
        for unit in queries.units_not_confirmed(period):
            claimed = notices.claim("unit", unit.id, "dispatch_remind", period.label,
                                    unit_id=unit.id)
            if claimed is not None:
                reminders.append((unit, period.label, claimed))
                claimed_period[claimed.id] = period.id
    if reminders:
        people = notices.unit_users({unit.id for unit, *_r in reminders})
        for unit, label, claimed in reminders:
            notices.notify(people[unit.id], "dispatch_remind", {"unit": unit.name, "period": label},
                           operations.unit_page_link(claimed_period[claimed.id], unit.id),
                           claimed=claimed)
            counts["dispatch_remind"] += 1
    if commit:
        db.session.commit()
    return counts


def purge_stale_imports(now: datetime | None = None) -> dict:
    """Daily: drop the staged rows of import previews nobody confirmed or discarded within
    ENTERPRISE_IMPORT_KEEP_DAYS (a person who closed the page); idempotent. Returns
    {"discarded": n}."""
    days = int(current_app.config["ENTERPRISE_IMPORT_KEEP_DAYS"])
    discarded = importer.purge_stale(now or clock.utcnow(), days=days)
    if discarded:
        audit.record(None, "enterprise.import_purge", object_type="enterprise_imports",
                     after={"discarded": discarded, "older_than_days": days},
                     summary=f"{discarded} preview(s) older than {days} days")
    return {"discarded": discarded}


def sweep_import_files(now: datetime | None = None) -> dict:
    """Remove files under DATA_DIR/imports and DATA_DIR/tmp older than IMPORT_TEMP_MAX_AGE_HOURS:
    a killed worker's left-overs (an upload being staged is minutes old at most). Idempotent;
    returns {"removed": n}."""
    hours = int(current_app.config["IMPORT_TEMP_MAX_AGE_HOURS"])
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


# The enterprises area's scheduled jobs (collected by taskflow/scheduler.py; times Asia/Shanghai).
SCHEDULE = (
    # Opens last month, reminds and marks late; the days are settings, the hour a default.
    Job("monthly_dispatch", run_monthly_dispatch, "cron", {"hour": 8, "minute": 0},
        setting="DISPATCH_OPEN_DAY"),
    # Hourly: temporary files of imports a killed worker left.
    Job("import_temp_sweep", sweep_import_files, "cron", {"minute": 41},
        setting="IMPORT_TEMP_MAX_AGE_HOURS"),
    # Daily (default time, not set by law or plan): previews left neither confirmed nor
    # discarded; their staged rows would otherwise stay in the database for ever.
    Job("import_preview_purge", purge_stale_imports, "cron", {"hour": 3, "minute": 50},
        setting="ENTERPRISE_IMPORT_KEEP_DAYS"),
)
