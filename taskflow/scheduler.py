"""The one scheduler process: `flask scheduler run` (APScheduler 3.x, Asia/Shanghai).

Web workers never import this module's `run`; `make run` (taskflow/devserver.py) starts it
beside gunicorn. A second scheduler refuses to start: a PostgreSQL advisory lock held on a
dedicated connection, or on SQLite a file lock under INSTANCE_DIR. Every job is idempotent and
also a command taking --now (see taskflow/notices/cli.py), so a missed run is caught up by the
next one and coalescing a backlog into one run loses nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

log = logging.getLogger("taskflow.scheduler")

TIMEZONE = "Asia/Shanghai"
SCHEDULER_LOCK_KEY = 7_310_050
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


class AlreadyRunning(RuntimeError):
    """Another scheduler process holds the lock."""


class SchedulerLock:
    """Held for the life of the scheduler process; released on exit."""

    def __init__(self, app: Flask):
        self.app = app
        self._connection = None
        self._file_lock = None

    def acquire(self) -> "SchedulerLock":
        from taskflow.extensions import db

        with self.app.app_context():
            engine = db.engine
            if engine.dialect.name == "postgresql":
                from sqlalchemy import text

                connection = engine.connect()
                got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                         {"key": SCHEDULER_LOCK_KEY}).scalar()
                connection.commit()
                if not got:
                    connection.close()
                    raise AlreadyRunning("PostgreSQL advisory lock is held")
                self._connection = connection
                return self
        from filelock import FileLock, Timeout

        path = Path(self.app.config["INSTANCE_DIR"]) / "scheduler.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise AlreadyRunning(f"file lock {path} is held") from exc
        self._file_lock = lock
        return self

    def release(self) -> None:
        if self._connection is not None:
            from sqlalchemy import text

            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": SCHEDULER_LOCK_KEY})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def run_job(app: Flask, name: str, func) -> None:
    """Run one job in its own app context; a failure is logged and rolled back, never fatal."""
    from taskflow.core.db import write_transaction
    from taskflow.extensions import db

    with app.app_context(), write_transaction():
        try:
            result = func()
            db.session.commit()
            log.info("job %s: %s", name, dict(result) if result else {})
        except Exception:  # noqa: BLE001 - the scheduler must keep running
            db.session.rollback()
            log.exception("job %s failed", name)
        finally:
            db.session.remove()


def recompute_time(app: Flask) -> tuple[int, int]:
    """(hour, minute) of the nightly score recompute: SCORES_RECOMPUTE_AT, "HH:MM" local time."""
    text = str(app.config.get("SCORES_RECOMPUTE_AT") or "01:30")
    try:
        hour, minute = (int(part) for part in text.split(":", 1))
        if 0 <= hour < 24 and 0 <= minute < 60:
            return hour, minute
    except ValueError:
        pass
    raise ValueError(f"SCORES_RECOMPUTE_AT must be HH:MM, not {text!r}")


def job_table(app: Flask) -> list[tuple[str, object, CronTrigger]]:
    """(id, function, trigger) of every scheduled job."""
    from taskflow.assignments import jobs as assignment_jobs
    from taskflow.notices import jobs
    from taskflow.scores import jobs as score_jobs

    table = [
        ("deadline_scan", jobs.scan_deadlines, CronTrigger(hour=8, minute=30, timezone=TIMEZONE)),
        ("update_requests", jobs.request_updates,
         CronTrigger(hour=9, minute=0, timezone=TIMEZONE)),
        ("outbox_delivery", jobs.deliver_outbox, CronTrigger(minute="*", timezone=TIMEZONE)),
        ("daily_digest", jobs.send_digests, CronTrigger(hour=17, minute=30, timezone=TIMEZONE)),
        # Files of an upload killed before its commit go within minutes (UPLOAD_ORPHAN_MINUTES);
        # any other unreferenced file after the grace period, at night.
        ("evidence_interrupted_sweep", assignment_jobs.sweep_interrupted_uploads,
         CronTrigger(minute="*/5", timezone=TIMEZONE)),
        ("evidence_orphan_sweep", assignment_jobs.sweep_orphaned_evidence,
         CronTrigger(hour=3, minute=15, timezone=TIMEZONE)),
    ]
    # Draft score periods (and the cockpit's ranking and the 五色图 built on them) are refreshed
    # every night; locked and published periods are left alone.
    hour, minute = recompute_time(app)
    table.append(("scores_recompute", score_jobs.nightly_recompute,
                  CronTrigger(hour=hour, minute=minute, timezone=TIMEZONE)))
    # The audit chain's head is anchored outside the database (default hourly); the security log
    # is pruned past its retention once a day (default time, not set by law or plan).
    from apscheduler.triggers.interval import IntervalTrigger

    from taskflow.audit import jobs as audit_jobs

    every = int(app.config.get("AUDIT_ANCHOR_INTERVAL_MINUTES") or 60)
    table.append(("audit_anchor", audit_jobs.anchor_chain_head,
                  IntervalTrigger(minutes=max(every, 1), timezone=TIMEZONE)))
    table.append(("security_log_prune", audit_jobs.prune_security_logs,
                  CronTrigger(hour=3, minute=40, timezone=TIMEZONE)))
    if jobs.enterprise_jobs() is not None:
        table.append(("monthly_dispatch", jobs.run_monthly_dispatch,
                      CronTrigger(hour=8, minute=0, timezone=TIMEZONE)))
        # Hourly: temporary files of imports a killed worker left (enterprises/jobs.py).
        table.append(("import_temp_sweep", jobs.enterprise_jobs()[0].sweep_import_files,
                      CronTrigger(minute=41, timezone=TIMEZONE)))
    return table


def build_scheduler(app: Flask) -> BlockingScheduler:
    """A BlockingScheduler with every job registered (not started)."""
    scheduler = BlockingScheduler(timezone=TIMEZONE, job_defaults=dict(JOB_DEFAULTS))
    for job_id, func, trigger in job_table(app):
        scheduler.add_job(run_job, trigger, args=(app, job_id, func), id=job_id, name=job_id,
                          replace_existing=True, **JOB_DEFAULTS)
    return scheduler


def run(app: Flask) -> None:
    """Take the single-instance lock, then run the scheduler until SIGINT/SIGTERM."""
    import signal

    lock = SchedulerLock(app).acquire()
    scheduler = build_scheduler(app)

    def stop(*_):
        if scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    try:
        names = ", ".join(job.id for job in scheduler.get_jobs())
        log.info("scheduler started (%s): %s", TIMEZONE, names)
        print(f"TaskFlow scheduler started ({TIMEZONE}): {names}", flush=True)
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()
        log.info("scheduler stopped")
