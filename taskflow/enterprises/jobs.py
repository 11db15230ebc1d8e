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
from taskflow.core.db import read_transaction, write_transaction
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


PROGRESS_EVERY = 5000  # rows between two progress updates of a running export


def _write_export(job_id: int, kind: str, params: dict, total: int) -> tuple[str, int]:
    """Write one export's file under DATA_DIR/exports (a .part file renamed when complete);
    progress goes to the job's row through its own short transactions."""
    import secrets

    from sqlalchemy import update

    from taskflow.enterprises import exports
    from taskflow.enterprises.models import ExportJob

    if kind != "register":
        raise ValueError(f"unknown export kind {kind!r}")
    name = f"{secrets.token_hex(16)}.xlsx"
    final = exports.export_dir() / name
    partial = final.with_suffix(".part")

    def progress(rows: int) -> None:
        if rows % PROGRESS_EVERY and rows < total:
            return
        with db.engine.begin() as connection:
            connection.execute(update(ExportJob).where(ExportJob.id == job_id)
                               .values(rows_done=rows))

    try:
        with read_transaction():
            count = exports.register_count(params)
            rows = exports.write_register(partial, params, count=count, progress=progress)
            db.session.rollback()  # ends the read snapshot
        with open(partial, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return name, rows


def run_export_jobs(now: datetime | None = None) -> dict:
    """Every minute: write the queued background exports, oldest first (one at a time: the
    scheduler is a single process). Idempotent: a job is claimed (queued → running) in its own
    transaction before its file is written; a job left running by a killed scheduler is
    written again. Returns {"done": n, "failed": n}."""
    from taskflow.enterprises.models import ExportJob, ExportState

    counts = {"done": 0, "failed": 0}
    while True:
        with write_transaction():
            job = db.session.scalar(
                select(ExportJob).where(ExportJob.state.in_(
                    [ExportState.QUEUED, ExportState.RUNNING]))
                .order_by(ExportJob.state == ExportState.QUEUED, ExportJob.id).limit(1))
            if job is None:
                db.session.rollback()
                return counts
            operations.start_export(job)
            # Read before the commit expires them: a reload after it would begin a transaction
            # that (on SQLite, in the scheduler) holds the write lock through the whole export.
            job_id, kind, params, total = job.id, job.kind, dict(job.params), job.rows_total
            db.session.commit()
        try:
            name, rows = _write_export(job_id, kind, params, total)
        except Exception as exc:  # the job fails, the next one still runs
            db.session.rollback()
            log.exception("export %s failed", job_id)
            with write_transaction():
                job = db.session.get(ExportJob, job_id)
                operations.fail_export(job, f"{type(exc).__name__}: {exc}")
                db.session.commit()
            counts["failed"] += 1
            continue
        with write_transaction():
            job = db.session.get(ExportJob, job_id)
            operations.finish_export(job, name, rows)
            db.session.commit()
        counts["done"] += 1


def sweep_exports(now: datetime | None = None) -> dict:
    """Hourly: remove the files of background exports past `expires_at` (EXPORT_KEEP_DAYS after
    they were written) and files under DATA_DIR/exports no job refers to (a killed worker's
    .part files, a day old). Idempotent; returns {"expired": n, "orphans": n}."""
    from taskflow.enterprises.models import ExportJob

    from taskflow.enterprises.exports import export_dir

    now = now or clock.utcnow()
    folder = export_dir()
    expired = list(db.session.scalars(select(ExportJob).where(
        ExportJob.storage_name != "", ExportJob.expires_at <= now)))
    for job in expired:
        (folder / job.storage_name).unlink(missing_ok=True)
        operations.expire_export(job)
    known = set(db.session.scalars(select(ExportJob.storage_name).where(
        ExportJob.storage_name != "")))
    cutoff = (now - timedelta(days=1)).timestamp()
    orphans = 0
    for path in folder.iterdir():
        if path.name in known or not path.is_file() or path.lstat().st_mtime > cutoff:
            continue
        path.unlink(missing_ok=True)
        orphans += 1
    return {"expired": len(expired), "orphans": orphans}


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
    # Every minute: the queued background exports (a register export above
    # EXPORT_BACKGROUND_ROWS rows), so the file is ready a minute or so after it is asked for.
    Job("export_jobs", run_export_jobs, "interval", {"minutes": 1},
        setting="EXPORT_BACKGROUND_ROWS"),
    # Hourly: background export files kept longer than EXPORT_KEEP_DAYS.
    Job("export_sweep", sweep_exports, "cron", {"minute": 47}, setting="EXPORT_KEEP_DAYS"),
)
