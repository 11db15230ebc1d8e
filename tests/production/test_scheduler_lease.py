"""The scheduler's single-instance lease lives in the database (issue 12, A.10): a scheduler
with another instance folder over the same database is refused, an abandoned lease is taken
over after its TTL, a renewed one is not."""

import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from config import TestingConfig
from taskflow import create_app, scheduler
from taskflow.core import clock
from taskflow.core.models import SchedulerLease
from taskflow.extensions import db

T0 = datetime(2024, 10, 8, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def other_app(app, tmp_path):
    """A second app over the same database with an instance folder of its own (another
    checkout, another host)."""

    def build(**overrides):
        other = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                           INSTANCE_DIR=tmp_path / f"instance-{len(built)}",
                           DATA_DIR=tmp_path / f"data-{len(built)}", **overrides)
        built.append(other)
        return other

    built = []
    yield build
    for other in built:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def _lease():
    row = db.session.execute(select(SchedulerLease.holder, SchedulerLease.acquired_at,
                                    SchedulerLease.heartbeat_at)).one_or_none()
    db.session.commit()
    return row


def test_a_scheduler_with_another_instance_folder_is_refused(app, other_app):
    other = other_app()
    assert other.config["INSTANCE_DIR"] != app.config["INSTANCE_DIR"]
    first = scheduler.SchedulerLock(app).acquire()
    try:
        with pytest.raises(scheduler.AlreadyRunning, match=first.holder):
            scheduler.SchedulerLock(other).acquire()
        assert _lease().holder == first.holder
        assert first.holder.startswith(f"{socket.gethostname()}:")
    finally:
        first.release()
    assert _lease() is None


def test_a_lease_not_renewed_for_the_ttl_is_taken_over(app, other_app):
    other = other_app()
    with clock.frozen_at(T0):
        first = scheduler.SchedulerLock(app).acquire()
    second = scheduler.SchedulerLock(other)
    with clock.frozen_at(T0 + timedelta(seconds=119)), pytest.raises(scheduler.AlreadyRunning):
        second.acquire()
    with clock.frozen_at(T0 + timedelta(seconds=121)):
        second.acquire()
    row = _lease()
    assert row.holder == second.holder
    assert row.acquired_at == row.heartbeat_at == T0 + timedelta(seconds=121)
    # The first scheduler learns at its next heartbeat that the lease is gone, and its release
    # leaves the new holder's lease alone.
    with clock.frozen_at(T0 + timedelta(seconds=130)):
        assert first.renew() is False
    assert first.lost is True
    first.release()
    assert _lease().holder == second.holder
    second.release()
    assert _lease() is None


def test_a_renewed_lease_is_kept(app, other_app):
    other = other_app()
    with clock.frozen_at(T0):
        first = scheduler.SchedulerLock(app).acquire()
    with clock.frozen_at(T0 + timedelta(seconds=100)):
        assert first.renew() is True
    with clock.frozen_at(T0 + timedelta(seconds=200)), pytest.raises(scheduler.AlreadyRunning):
        scheduler.SchedulerLock(other).acquire()
    row = _lease()
    assert (row.holder, row.acquired_at, row.heartbeat_at) == (
        first.holder, T0, T0 + timedelta(seconds=100))
    with clock.frozen_at(T0 + timedelta(seconds=221)):
        scheduler.SchedulerLock(other).acquire().release()


def test_a_released_lease_is_free_at_once(app, other_app):
    scheduler.SchedulerLock(app).acquire().release()
    scheduler.SchedulerLock(other_app()).acquire().release()


def test_a_holder_process_gone_from_this_host_is_replaced_at_once(app, other_app):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = clock.utcnow()
    db.session.add(SchedulerLease(name=scheduler.LEASE_NAME, holder=f"{socket.gethostname()}:{gone.pid}:x",
                                  acquired_at=now, heartbeat_at=now))
    db.session.commit()
    lock = scheduler.SchedulerLock(other_app()).acquire()
    assert _lease().holder == lock.holder
    lock.release()
    # A live holder (this test's parent process) or one on another host keeps its lease.
    for holder in (f"{socket.gethostname()}:{__import__('os').getppid()}:x",
                   f"another-host:{gone.pid}:x"):
        db.session.add(SchedulerLease(name=scheduler.LEASE_NAME, holder=holder,
                                      acquired_at=now, heartbeat_at=now))
        db.session.commit()
        with pytest.raises(scheduler.AlreadyRunning, match=holder):
            scheduler.SchedulerLock(other_app()).acquire()
        db.session.query(SchedulerLease).delete()
        db.session.commit()


def test_schedulers_starting_together_get_one_lease(app, other_app):
    apps = [app] + [other_app() for _ in range(3)]
    winners, refused, errors = [], [], []
    start = threading.Barrier(len(apps))

    def contend(each):
        start.wait()
        try:
            winners.append(scheduler.SchedulerLock(each).acquire())
        except scheduler.AlreadyRunning:
            refused.append(each)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=(each,)) for each in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert (len(winners), len(refused)) == (1, len(apps) - 1)
    assert _lease().holder == winners[0].holder
    winners[0].release()


def test_the_heartbeat_renews_and_stops_the_scheduler_when_the_lease_is_lost(other_app):
    fast = other_app(SCHEDULER_HEARTBEAT_SECONDS=1, SCHEDULER_LEASE_TTL_SECONDS=5)
    lock = scheduler.SchedulerLock(fast).acquire()
    lost = threading.Event()
    try:
        first_beat = _lease().heartbeat_at
        lock.start_heartbeat(on_lost=lost.set)
        deadline = time.monotonic() + 10
        while _lease().heartbeat_at == first_beat and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _lease().heartbeat_at > first_beat
        assert not lost.is_set()
        # Another scheduler took the lease (this one's heartbeat had stalled past the TTL).
        db.session.execute(update(SchedulerLease).values(holder="elsewhere:1:x"))
        db.session.commit()
        assert lost.wait(timeout=10)
        assert lock.lost is True
    finally:
        lock.release()
    assert _lease().holder == "elsewhere:1:x"


def test_the_heartbeat_must_be_shorter_than_the_ttl(other_app):
    with pytest.raises(ValueError, match="SCHEDULER_HEARTBEAT_SECONDS"):
        scheduler.SchedulerLock(other_app(SCHEDULER_HEARTBEAT_SECONDS=120,
                                          SCHEDULER_LEASE_TTL_SECONDS=120))


def test_a_database_without_the_lease_table_asks_for_the_migration(app):
    SchedulerLease.__table__.drop(db.engine)
    with pytest.raises(RuntimeError, match="flask db upgrade"):
        scheduler.SchedulerLock(app).acquire()
