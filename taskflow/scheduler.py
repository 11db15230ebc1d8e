"""The one scheduler process: `flask scheduler run` (APScheduler 3.x, Asia/Shanghai).

Web workers never import this module's `run`; `make run` (taskflow/devserver.py) starts it
beside gunicorn. A second scheduler over the same database refuses to start, whatever its
instance folder or host: the lease in the scheduler_lease table (SchedulerLock). Every job is idempotent and
also a command taking --now (see taskflow/notices/cli.py), so a missed run is caught up by the
next one and coalescing a backlog into one run loses nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from taskflow.core import clock

log = logging.getLogger("taskflow.scheduler")

TIMEZONE = "Asia/Shanghai"
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


class AlreadyRunning(RuntimeError):
    """Another scheduler process holds the lease."""


LEASE_NAME = "scheduler"


def _holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


def _holder_is_dead(holder: str) -> bool:
    """True when `holder` was a process on this host that no longer exists (killed with -9 or
    crashed without releasing): its lease may be taken at once instead of after the TTL."""
    try:
        host, pid_text, _token = holder.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname() or pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: the process exists (another user's)
        return False
    return False


class SchedulerLock:
    """The scheduler's lease: a row of scheduler_lease, held for the life of the process.

    The same mechanism on SQLite and PostgreSQL (no advisory lock beside it: one rule to reason
    about). It is taken by one atomic UPDATE ... WHERE heartbeat_at < now - TTL OR holder = me
    (an INSERT when the row is absent; the primary key lets only one INSERT win), renewed by a
    heartbeat thread every SCHEDULER_HEARTBEAT_SECONDS and deleted on exit. A scheduler that was
    killed leaves its row behind: another takes it once the heartbeat is SCHEDULER_LEASE_TTL_SECONDS
    old, or at once on the same host when the holder's pid no longer exists. Times come from
    taskflow/core/clock, so the hosts' clocks must agree to well within the TTL (NTP).
    """

    def __init__(self, app: Flask, holder: str | None = None):
        self.app = app
        self.holder = holder or _holder_id()
        self.ttl = timedelta(seconds=int(app.config["SCHEDULER_LEASE_TTL_SECONDS"]))
        self.interval = float(app.config["SCHEDULER_HEARTBEAT_SECONDS"])
        if not 0 < self.interval < self.ttl.total_seconds():
            raise ValueError("SCHEDULER_HEARTBEAT_SECONDS must be above 0 and below "
                             "SCHEDULER_LEASE_TTL_SECONDS")
        self.held = False
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def _transaction(self):
        """A short write transaction on a connection of its own (never the jobs' session)."""
        from taskflow.core.db import write_transaction
        from taskflow.extensions import db

        with self.app.app_context(), write_transaction(), db.engine.begin() as connection:
            yield connection

    def acquire(self) -> "SchedulerLock":
        """Take the lease, or raise AlreadyRunning naming its live holder."""
        from taskflow.core.models import SchedulerLease

        table = SchedulerLease.__table__
        now = clock.utcnow()
        mine = table.c.name == LEASE_NAME
        take = dict(holder=self.holder, acquired_at=now, heartbeat_at=now)
        current = None
        try:
            with self._transaction() as connection:
                taken = connection.execute(update(table).where(
                    mine, or_(table.c.heartbeat_at < now - self.ttl, table.c.holder == self.holder)
                ).values(**take)).rowcount == 1
                if not taken:
                    current = connection.execute(
                        select(table.c.holder, table.c.heartbeat_at).where(mine)).first()
                    if current is None:
                        connection.execute(insert(table).values(name=LEASE_NAME, **take))
                        taken = True
                    elif _holder_is_dead(current.holder):
                        log.warning("scheduler lease of %s taken over: that process is gone",
                                    current.holder)
                        taken = connection.execute(update(table).where(
                            mine, table.c.holder == current.holder).values(**take)).rowcount == 1
        except IntegrityError as exc:  # another scheduler inserted the row first
            raise AlreadyRunning("another scheduler took the lease at the same moment") from exc
        except (OperationalError, ProgrammingError) as exc:
            if self._table_missing():
                raise RuntimeError("the scheduler_lease table is missing: run `flask db upgrade` "
                                   "first") from exc
            raise
        if not taken:
            beat = clock.to_local(current.heartbeat_at) if current is not None else None
            raise AlreadyRunning(f"the lease is held by {current.holder if current else '?'}, "
                                 f"last heartbeat {beat:%Y-%m-%d %H:%M:%S}" if beat else
                                 "the lease is held")
        self.held = True
        log.info("scheduler lease taken by %s", self.holder)
        return self

    def _table_missing(self) -> bool:
        from sqlalchemy import inspect

        from taskflow.extensions import db

        with self.app.app_context():
            return not inspect(db.engine).has_table("scheduler_lease")

    def renew(self) -> bool:
        """Move the heartbeat to now; False when the lease is no longer ours."""
        from taskflow.core.models import SchedulerLease

        table = SchedulerLease.__table__
        with self._transaction() as connection:
            renewed = connection.execute(update(table).where(
                table.c.name == LEASE_NAME, table.c.holder == self.holder
            ).values(heartbeat_at=clock.utcnow())).rowcount == 1
        if not renewed:
            self.held = False
            self.lost = True
        return renewed

    def start_heartbeat(self, on_lost=None) -> None:
        """Renew the lease every SCHEDULER_HEARTBEAT_SECONDS in a daemon thread; call on_lost()
        (stop the scheduler) if another scheduler has taken it meanwhile."""

        def beat():
            while not self._stop.wait(self.interval):
                try:
                    if self.renew():
                        continue
                except Exception:  # noqa: BLE001 - a busy or unreachable database: retry
                    log.exception("scheduler lease heartbeat failed; retrying")
                    continue
                log.error("scheduler lease lost to another scheduler; stopping")
                if on_lost is not None:
                    on_lost()
                return

        self._stop.clear()
        self._thread = threading.Thread(target=beat, name="scheduler-lease-heartbeat",
                                        daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop the heartbeat and delete the lease if it is still ours."""
        from taskflow.core.models import SchedulerLease

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
            self._thread = None
        if not self.held:
            return
        table = SchedulerLease.__table__
        with self._transaction() as connection:
            connection.execute(delete(table).where(table.c.name == LEASE_NAME,
                                                   table.c.holder == self.holder))
        self.held = False
        log.info("scheduler lease released by %s", self.holder)

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
    text = str(app.config["SCORES_RECOMPUTE_AT"])
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

    every = int(app.config["AUDIT_ANCHOR_INTERVAL_MINUTES"])
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
    """Take the single-instance lease, then run the scheduler until SIGINT/SIGTERM (or until
    another scheduler has taken the lease: then raise AlreadyRunning)."""
    import signal

    lock = SchedulerLock(app).acquire()
    scheduler = build_scheduler(app)

    def stop(*_):
        if scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    lock.start_heartbeat(on_lost=stop)
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
    if lock.lost:
        raise AlreadyRunning("the lease was taken over by another scheduler")
