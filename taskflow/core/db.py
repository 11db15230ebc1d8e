"""Column types and helpers shared by all models."""

from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import current_app, has_app_context, has_request_context, request

from sqlalchemy import CheckConstraint, DateTime, TypeDecorator, event
from sqlalchemy.engine import Engine

from taskflow.core import clock


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as naive UTC and returns them aware (UTC) on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def now_default() -> datetime:
    """Default for created/occurred columns: the application clock, not the DB clock."""
    return clock.utcnow()


def enum_check(column: str, values: Iterable[str]) -> CheckConstraint:
    """A CHECK that `column` holds one of `values` (an enum class), named ck_<table>_<column>."""
    # The name is the column's: the metadata's naming convention (extensions.NAMING_CONVENTION)
    # prefixes ck_<table>_, so migration 0018_state_checks spells the same full names.
    allowed = [str(value) for value in values]
    if not allowed or any("'" in value for value in allowed):
        raise ValueError(f"enum_check({column!r}): values must be non-empty, without quotes")
    listed = ", ".join(f"'{value}'" for value in allowed)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


SQLITE_BUSY_TIMEOUT_MS = 30_000


def _is_pysqlite(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL, a busy timeout and enforced foreign keys for SQLite connections."""
    if not _is_pysqlite(dbapi_connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


# Set by write_transaction() / read_transaction(): how SQLite transactions begun in the block start.
_begin_override: ContextVar[str | None] = ContextVar("taskflow_sqlite_begin", default=None)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def sqlite_begin_mode() -> str:
    """How the next SQLite transaction starts here: "IMMEDIATE" or "DEFERRED".

    - inside write_transaction(): IMMEDIATE; inside read_transaction(): DEFERRED;
    - in a request: IMMEDIATE for POST/PUT/PATCH/DELETE (they read, then write), DEFERRED for
      GET/HEAD/OPTIONS (which never change state), so page views never wait for a writer;
    - elsewhere (CLI commands, the scheduler, scripts): IMMEDIATE, unless the app's config says
      SQLITE_IMMEDIATE_OUTSIDE_REQUESTS = False (the test suite, whose own session reads between
      requests and must not hold the write lock while the request under test runs).
    """
    override = _begin_override.get()
    if override is not None:
        return override
    if has_request_context():
        return "DEFERRED" if request.method in SAFE_METHODS else "IMMEDIATE"
    if has_app_context() and not current_app.config["SQLITE_IMMEDIATE_OUTSIDE_REQUESTS"]:
        return "DEFERRED"
    return "IMMEDIATE"


@contextmanager
def write_transaction():
    """with write_transaction(): ... — SQLite transactions begun in the block take the write lock
    at BEGIN. Use it around read-then-write work outside a request when the app's default for
    that place is DEFERRED. A no-op on PostgreSQL."""
    token = _begin_override.set("IMMEDIATE")
    try:
        yield
    finally:
        _begin_override.reset(token)


@contextmanager
def read_transaction():
    """with read_transaction(): ... — SQLite transactions begun in the block are plain (deferred)
    reads that never take the write lock (a long read, such as a backup, blocks no writer). In
    WAL mode such a transaction reads one consistent snapshot. A no-op on PostgreSQL."""
    token = _begin_override.set("DEFERRED")
    try:
        yield
    finally:
        _begin_override.reset(token)


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """Start SQLite transactions that will write with BEGIN IMMEDIATE.

    A deferred transaction that reads first and writes later must upgrade its lock; when another
    connection wrote in between, SQLite answers "database is locked" at once, whatever the busy
    timeout (waiting could deadlock). Taking the write lock at BEGIN makes a second writer wait
    (up to the busy timeout) for the first to commit instead: concurrent writers are serialised,
    never failed (SQLAlchemy's pysqlite recipe: emit our own BEGIN on the "begin" event).

    Where sqlite_begin_mode() says DEFERRED (page views, the test suite's own session) nothing
    is emitted and pysqlite keeps its default behaviour: reads run without holding a snapshot
    open and a transaction begins implicitly before the first write. So a read-only GET never
    waits for a writer, and a long-lived session never reads a stale snapshot.
    """
    if conn.dialect.name != "sqlite" or conn.dialect.driver != "pysqlite":
        return
    if sqlite_begin_mode() == "IMMEDIATE":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint(conn, name):
    """Open the real transaction before a SAVEPOINT when pysqlite has not yet.

    In pysqlite's default mode a SAVEPOINT issued before any write starts SQLite's outermost
    transaction itself, and releasing it commits: a later rollback of the whole transaction
    would not undo the savepoint's work (a claim that must vanish when a job fails).
    """
    if conn.dialect.name != "sqlite" or conn.dialect.driver != "pysqlite":
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        conn.exec_driver_sql(f"BEGIN {sqlite_begin_mode()}")


def is_postgres(session_or_bind) -> bool:
    """True when the session or engine talks to PostgreSQL."""
    bind = session_or_bind.get_bind() if hasattr(session_or_bind, "get_bind") else session_or_bind
    return bind.dialect.name == "postgresql"


def ensure_transaction(session) -> None:
    """Make sure an outer transaction is open before a SAVEPOINT.

    pysqlite opens transactions implicitly only before INSERT/UPDATE/DELETE: a SAVEPOINT issued
    first would itself start the transaction, and its RELEASE would commit it — a claim would
    then be committed before the messages it stands for. On SQLite this opens the transaction
    explicitly (taking the write lock: what follows writes); PostgreSQL needs nothing.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def next_in_series(session, sequence_column, *conditions, lock_key: int) -> int:
    """The next number of a document series (the largest so far + 1; 1 for a new year).

    Two writers must not take the same number: PostgreSQL serialises them with an advisory lock
    held to the end of the transaction (`lock_key` names the series); SQLite's write lock, taken
    by ensure_transaction, does the same. A unique constraint on the number stays the backstop."""
    from sqlalchemy import func, select, text

    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
    current = session.scalar(select(func.max(sequence_column)).where(*conditions))
    return (current or 0) + 1
