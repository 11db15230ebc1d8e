"""The scheduler process: its jobs and settings, the single-instance guard, the dispatch wiring."""

import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from taskflow import scheduler
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.notices.models import Notification, ReminderClaim

ROOT = Path(__file__).resolve().parents[2]
D = date.fromisoformat


def test_jobs_run_in_shanghai_time_coalesced_never_dropped_one_at_a_time(app):
    sched = scheduler.build_scheduler(app)
    jobs = {job.id: job for job in sched.get_jobs()}
    assert {"deadline_scan", "update_requests", "outbox_delivery", "daily_digest"} <= set(jobs)
    assert str(sched.timezone) == "Asia/Shanghai"
    for job in jobs.values():
        assert job.coalesce is True
        assert job.misfire_grace_time is None
        assert job.max_instances == 1
    after = datetime(2024, 10, 8, 7, 0, tzinfo=clock.LOCAL_TZ)
    fire = jobs["deadline_scan"].trigger.get_next_fire_time(None, after)
    assert (fire.hour, fire.minute, fire.date()) == (8, 30, D("2024-10-08"))
    fire = jobs["daily_digest"].trigger.get_next_fire_time(None, after)
    assert (fire.hour, fire.minute) == (17, 30)
    fire = jobs["outbox_delivery"].trigger.get_next_fire_time(None, after)
    assert (fire - after).total_seconds() <= 60


def test_a_failing_job_is_logged_and_rolled_back(app, caplog):
    def broken():
        from taskflow.notices.operations import claim

        claim("system", 1, "test", "x")
        raise RuntimeError("boom")

    scheduler.run_job(app, "broken", broken)  # does not raise
    assert "job broken failed" in caplog.text
    assert db.session.scalar(select(ReminderClaim.id)) is None


def test_the_lock_admits_one_scheduler(app):
    first = scheduler.SchedulerLock(app).acquire()
    try:
        with pytest.raises(scheduler.AlreadyRunning):
            scheduler.SchedulerLock(app).acquire()
    finally:
        first.release()
    scheduler.SchedulerLock(app).acquire().release()  # free again


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env.update(FLASK_APP="taskflow:create_app", TASKFLOW_ENV="development",
               TASKFLOW_INSTANCE_DIR=str(tmp_path / "instance"), PYTHONUNBUFFERED="1",
               TASKFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'sched.sqlite3'}")
    env.pop("TASKFLOW_TEST_DATABASE_URL", None)
    return env


@pytest.mark.skipif(bool(os.environ.get("TASKFLOW_TEST_DATABASE_URL")),
                    reason="the subprocesses use a SQLite file of their own")
def test_a_second_scheduler_process_refuses_to_start(tmp_path):
    """Even with another instance folder: the lease is in the database, not in the folder."""
    flask = str(Path(sys.executable).parent / "flask")
    env = _env(tmp_path)
    upgraded = subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    first = subprocess.Popen([flask, "scheduler", "run"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "scheduler started" not in line and time.monotonic() < deadline:
            line = first.stdout.readline()
            assert line or first.poll() is None, "first scheduler exited"
        assert "Asia/Shanghai" in line and "deadline_scan" in line
        other = dict(env, TASKFLOW_INSTANCE_DIR=str(tmp_path / "other-instance"))
        second = subprocess.run([flask, "scheduler", "run"], cwd=ROOT, env=other,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "already running" in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert first.returncode == 0


def test_web_workers_never_start_the_scheduler(tmp_path):
    code = ("import sys, threading; from taskflow import create_app; app = create_app(); "
            "print('taskflow.scheduler' in sys.modules, "
            "any('APScheduler' in t.name for t in threading.enumerate()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_monthly_dispatch_is_wired_to_the_enterprise_jobs(app, runner, plan, world, sim):
    """October 2024's dispatch opens on November's first working day (11-01), units that have
    not confirmed are reminded on the 3rd working day (11-01, 11-04, 11-05), once, and are
    marked late after the due date: the 5th working day after 10-31 (11-01, 04, 05, 06, 07), not
    10-31 + 5 calendar days."""
    from taskflow.measures.indicators import TECH
    from taskflow.plans.models import Indicator, Target

    indicator = Indicator(code=TECH, name="科技型企业", measure="count")
    db.session.add(indicator)
    db.session.flush()
    db.session.add(Target(plan_id=plan.id, unit_id=world.town.id, indicator_id=indicator.id,
                          year=2024, kind="in_library", value=10))
    db.session.commit()
    outputs = {}
    for day in sim.days(D("2024-11-01"), D("2024-11-11")):
        result = runner.invoke(args=["dispatch", "run", "--now", f"{day.isoformat()}T08:00"])
        assert result.exit_code == 0, result.output
        outputs[day.isoformat()] = result.output
    assert "opened=1" in outputs["2024-11-01"]
    assert "dispatch_remind=1" in outputs["2024-11-05"]
    assert "marked_late=0" in outputs["2024-11-07"]  # the deadline itself
    assert "marked_late=1" in outputs["2024-11-08"]
    reminders = db.session.execute(
        select(ReminderClaim.item_id, ReminderClaim.period, ReminderClaim.created_at)
        .where(ReminderClaim.kind == "dispatch_remind")).all()
    assert [(i, p, clock.to_local(c).date()) for i, p, c in reminders] == [
        (world.town.id, "2024-10", D("2024-11-05"))]
    kinds = db.session.scalars(select(Notification.kind).where(
        Notification.user_id == world.users.reporter.id)).all()
    # Told when the month opened, and reminded once on the 3rd working day.
    assert kinds == ["dispatch_opened", "dispatch_remind"]
