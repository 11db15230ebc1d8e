"""How an area declares its scheduled work, and what every job shares.

Each area's `jobs.py` lists its jobs in a module-level `SCHEDULE` of `Job` declarations;
taskflow/scheduler.py collects them from every area (no job is named anywhere else). This module
does not import APScheduler, so web workers that import an area's jobs never load it.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from taskflow.core import clock
from taskflow.core.calendar import UnknownCalendarYear, WorkCalendar
from taskflow.core.db import write_transaction
from taskflow.extensions import db

log = logging.getLogger("taskflow.jobs")

Timing = Mapping[str, Any] | Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Job:
    """One scheduled job: its id, the function run (no arguments), the APScheduler trigger kind
    and its arguments (Asia/Shanghai), and the setting that tunes it (None: fixed timing)."""

    id: str
    func: Callable[[], Any]
    trigger: Literal["cron", "interval"]
    # The trigger's arguments, or a function of the app's config returning them (when a
    # setting moves the time); called when the scheduler is built, so a bad setting fails then.
    timing: Timing
    setting: str | None = None

    def trigger_args(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The trigger's keyword arguments under this config."""
        return dict(self.timing(config) if callable(self.timing) else self.timing)


def workday_calendar(today: date | None = None) -> tuple[date, WorkCalendar | None]:
    """(today, the working calendar) for a job that acts on working days only; the calendar is
    None on a day off (weekend, public holiday, admin override): the job then does nothing."""
    today = today or clock.local_today()
    cal = WorkCalendar.load()
    return today, (cal if cal.is_workday(today) else None)


def writes(func):
    """Run a job with SQLite transactions that take the write lock at BEGIN: each job reads and
    then writes, and two jobs at once must queue rather than fail (a no-op on PostgreSQL)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with write_transaction():
            return func(*args, **kwargs)

    return wrapper


def _calendar_refusal(exc: BaseException | None) -> UnknownCalendarYear | None:
    """The UnknownCalendarYear behind an exception (itself, or the cause of a DispatchError)."""
    while exc is not None:
        if isinstance(exc, UnknownCalendarYear):
            return exc
        exc = exc.__cause__
    return None


def refuses_unknown_years(func):
    """A job that needs a day of a year nobody knows does nothing (its writes are rolled back),
    logs why, and returns Counter(unknown_calendar_year=<year>) with the exception attached as
    `.refusal`: the scheduler keeps running, and the command prints the message and fails."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            refusal = _calendar_refusal(exc)
            if refusal is None:
                raise
            db.session.rollback()
            log.warning("%s refused: %s", func.__name__, refusal)
            counts = Counter(unknown_calendar_year=refusal.year)
            counts.refusal = refusal
            return counts

    return wrapper


# ---------------------------------------------------------------- running a job by hand
# Every scheduled job is also a command taking --now (operators catching up, tests).


def _parse_now(_ctx, param, value: str | None):
    import click

    from taskflow.core.clock import parse_now

    try:
        return parse_now(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO time: {value}", param_hint="--now") from exc


def now_option(command):
    """The --now option of a job command: the parsed instant (None: the real time)."""
    import click

    return click.option(
        "--now", "now", default=None, metavar="ISO", callback=_parse_now,
        help="Run as of this time (ISO 8601; read as Asia/Shanghai when it has no zone).",
    )(command)


def report(name: str, counts) -> None:
    """One line of a job's counts; a job refused for an unknown calendar year prints why and
    exits non-zero."""
    import sys

    import click
    from flask import current_app

    from taskflow.core.clock import to_local, utcnow

    at = to_local(utcnow()).strftime("%Y-%m-%d %H:%M")
    items = ", ".join(f"{k}={v}" for k, v in sorted(dict(counts).items())) or "nothing to do"
    click.echo(f"{name} @ {at}: {items}")
    refusal = getattr(counts, "refusal", None)
    if refusal is not None:
        with current_app.test_request_context():  # translated (Chinese by default)
            click.echo(f"{name}: {refusal.message()}", err=True)
        sys.exit(1)
