"""Concurrent writers on SQLite (immediate transactions) and on PostgreSQL."""

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from taskflow.core.db import sqlite_begin_mode, write_transaction
from taskflow.extensions import db


def _race(engine, workers=2, pause=0.3):
    """Each thread reads a counter, waits, writes counter+1 in one transaction."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS race_counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("DELETE FROM race_counter"))
        conn.execute(text("INSERT INTO race_counter (id, n) VALUES (1, 0)"))
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work():
        try:
            barrier.wait()
            with write_transaction(), engine.begin() as conn:
                n = conn.execute(text("SELECT n FROM race_counter WHERE id = 1")).scalar()
                time.sleep(pause)  # the other writer arrives while this one holds its read
                conn.execute(text("UPDATE race_counter SET n = :n WHERE id = 1"), {"n": n + 1})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.connect() as conn:
        final = conn.execute(text("SELECT n FROM race_counter WHERE id = 1")).scalar()
    return final, errors


def test_sqlite_is_in_wal_mode_with_busy_timeout_and_foreign_keys(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_two_sqlite_writers_at_once_are_serialised_not_failed(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'race.sqlite3'}")
    final, errors = _race(engine)
    engine.dispose()
    assert errors == []  # no "database is locked"
    assert final == 2  # and no lost update: the second writer read the first one's result


def test_deferred_sqlite_transactions_would_fail_the_same_race(tmp_path):
    """The failure the immediate transactions prevent, shown with pysqlite's default behaviour."""
    import sqlite3

    path = tmp_path / "deferred.sqlite3"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER)")
    setup.execute("INSERT INTO c VALUES (1, 0)")
    setup.close()
    barrier = threading.Barrier(2)
    errors = []

    def work():
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            barrier.wait()
            conn.execute("BEGIN")  # deferred: the write lock is wanted only at the UPDATE
            n = conn.execute("SELECT n FROM c").fetchone()[0]
            time.sleep(0.3)
            conn.execute("UPDATE c SET n = ?", (n + 1,))
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            errors.append(str(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors and "locked" in errors[0]


def test_begin_mode_follows_the_request_method(app):
    with app.test_request_context("/x", method="GET"):
        assert sqlite_begin_mode() == "DEFERRED"
    with app.test_request_context("/x", method="POST"):
        assert sqlite_begin_mode() == "IMMEDIATE"
        with write_transaction():
            assert sqlite_begin_mode() == "IMMEDIATE"
    # The test app keeps its own session deferred between requests; CLI and scheduler do not.
    assert sqlite_begin_mode() == "DEFERRED"
    with write_transaction():
        assert sqlite_begin_mode() == "IMMEDIATE"
    app.config["SQLITE_IMMEDIATE_OUTSIDE_REQUESTS"] = True
    assert sqlite_begin_mode() == "IMMEDIATE"


def test_the_app_database_takes_concurrent_writers(app):
    """Same race on the suite's database (SQLite file, or PostgreSQL in the PostgreSQL run)."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        # PostgreSQL: row locks serialise the writers when they lock the row they read.
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS race_counter (id INTEGER PRIMARY KEY, n INTEGER)"))
            conn.execute(text("DELETE FROM race_counter"))
            conn.execute(text("INSERT INTO race_counter (id, n) VALUES (1, 0)"))
        barrier = threading.Barrier(2)
        errors = []

        def work():
            try:
                barrier.wait()
                with engine.begin() as conn:
                    n = conn.execute(text("SELECT n FROM race_counter WHERE id = 1 FOR UPDATE")).scalar()
                    time.sleep(0.3)
                    conn.execute(text("UPDATE race_counter SET n = :n WHERE id = 1"), {"n": n + 1})
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with engine.begin() as conn:
            final = conn.execute(text("SELECT n FROM race_counter")).scalar()
            conn.execute(text("DROP TABLE race_counter"))
    else:
        final, errors = _race(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE race_counter"))
    assert errors == [] and final == 2


def test_rollback_undoes_work_done_in_a_released_savepoint(app, make_unit):
    """A nested transaction's work is part of the outer one: rolling the outer back undoes it."""
    from sqlalchemy import func, select

    from taskflow.units.models import Unit

    unit = make_unit()
    plan_id = unit.plan_id
    db.session.commit()
    with db.session.begin_nested():
        db.session.add(Unit(plan_id=plan_id, name="保存点内", kind="town", peer_group="street_town",
                            sort_order=2))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Unit)) == 1
