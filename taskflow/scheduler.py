"""The one scheduler process: `flask scheduler run` (APScheduler 3.x, Asia/Shanghai).

Web workers never import this module's `run`; `make run` (taskflow/devserver.py) starts it
beside gunicorn. A second scheduler over the same database refuses to start, whatever its
instance folder or host: the lease in the scheduler_lease table (SchedulerLock). The jobs are
declared by each area (the SCHEDULE of taskflow/<area>/jobs.py) and collected here. Every job is
idempotent, so a missed run is caught up by the next one and coalescing a backlog into one run
loses nothing.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from taskflow.core import clock
from taskflow.core.schedule import Job

log = logging.getLogger("taskflow.scheduler")

TIMEZONE = "Asia/Shanghai"
PACKAGE_DIR = Path(__file__).resolve().parent
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


# Public functions of an area's jobs.py that are deliberately not scheduled, with the reason:
# {"taskflow.<area>.jobs.<name>": "why it runs by hand only"}. Every other public function of a
# jobs.py is in its area's SCHEDULE (tests/core/test_schedule.py checks both ways).
BY_HAND_ONLY: dict[str, str] = {}


def collect_schedule() -> list[Job]:
    """Every area's SCHEDULE (taskflow.<area>.jobs), in AREAS order; ids are unique."""
    from taskflow import AREAS

    collected: list[Job] = []
    seen: set[str] = set()
    for area in AREAS:
        if not (PACKAGE_DIR / area / "jobs.py").is_file():  # an area without scheduled work
            continue
        # Imported unconditionally: a broken area stops the scheduler instead of losing its jobs.
        for job in importlib.import_module(f"taskflow.{area}.jobs").SCHEDULE:
            if job.id in seen:
                raise ValueError(f"two scheduled jobs are called {job.id!r}")
            seen.add(job.id)
            collected.append(job)
    return collected


def _trigger(job: Job, app: Flask) -> BaseTrigger:
    kind = {"cron": CronTrigger, "interval": IntervalTrigger}[job.trigger]
    return kind(timezone=TIMEZONE, **job.trigger_args(app.config))


def job_table(app: Flask) -> list[tuple[str, object, BaseTrigger]]:
    """(id, function, trigger) of every scheduled job."""
    return [(job.id, job.func, _trigger(job, app)) for job in collect_schedule()]


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
