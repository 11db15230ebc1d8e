"""Commands: every scheduled job by hand, with --now for operators and tests.

    flask reminders scan --now 2024-10-08T09:00
    flask reminders request-updates --now 2024-10-08T09:00
    flask outbox digest --now 2024-10-08T17:30
    flask outbox deliver [--now …]
    flask dispatch run --now …          (when the monthly dispatch exists)
    flask scheduler run
"""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from taskflow.core.clock import frozen_at, parse_now, to_local, utcnow

now_option = click.option(
    "--now", "now", default=None, metavar="ISO",
    help="Run as of this time (ISO 8601; read as Asia/Shanghai when it has no zone).",
)


def _parse(value: str | None):
    try:
        return parse_now(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO time: {value}", param_hint="--now") from exc


def _report(name: str, counts) -> None:
    """One line of counts; a job refused for an unknown calendar year prints why and fails."""
    at = to_local(utcnow()).strftime("%Y-%m-%d %H:%M")
    items = ", ".join(f"{k}={v}" for k, v in sorted(dict(counts).items())) or "nothing to do"
    click.echo(f"{name} @ {at}: {items}")
    refusal = getattr(counts, "refusal", None)
    if refusal is not None:
        with current_app.test_request_context():  # translated (Chinese by default)
            click.echo(f"{name}: {refusal.message()}", err=True)
        sys.exit(1)


reminders_cli = AppGroup("reminders", help="Deadline reminders, escalation and update requests.")
outbox_cli = AppGroup("outbox", help="E-mail digests and delivery of queued messages.")
scheduler_cli = AppGroup("scheduler", help="The single scheduler process.")
dispatch_cli = AppGroup("dispatch", help="Monthly dispatch (月调度) jobs.")


@reminders_cli.command("scan")
@now_option
def scan_command(now):
    """Deadline scan: reminders, overdue notices, 催办 and 督办."""
    from taskflow.notices.jobs import scan_deadlines

    with frozen_at(_parse(now)):
        _report("scan", scan_deadlines())


@reminders_cli.command("request-updates")
@now_option
def request_updates_command(now):
    """Request (and re-request) monthly progress updates on open assignments."""
    from taskflow.notices.jobs import request_updates

    with frozen_at(_parse(now)):
        _report("request-updates", request_updates())


@outbox_cli.command("digest")
@now_option
def digest_command(now):
    """Queue today's e-mail digest per person (and the webhook summary)."""
    from taskflow.notices.jobs import send_digests

    with frozen_at(_parse(now)):
        _report("digest", send_digests())


@outbox_cli.command("deliver")
@now_option
@click.option("--limit", default=200, show_default=True, help="At most this many messages.")
def deliver_command(now, limit):
    """Deliver due outbox messages (e-mail over SMTP, webhook posts)."""
    from taskflow.notices.jobs import deliver_outbox

    with frozen_at(_parse(now)):
        _report("deliver", deliver_outbox(limit=limit))


@dispatch_cli.command("run")
@now_option
def dispatch_run_command(now):
    """Open the month, remind units that have not confirmed, mark late ones."""
    from taskflow.notices.jobs import run_monthly_dispatch

    with frozen_at(_parse(now)):
        _report("dispatch", run_monthly_dispatch())


@scheduler_cli.command("run")
def scheduler_run_command():
    """Run the scheduler in the foreground (only one may run)."""
    from taskflow import scheduler

    app = current_app._get_current_object()
    try:
        scheduler.run(app)
    except scheduler.AlreadyRunning as exc:
        click.echo(f"Another TaskFlow scheduler is already running ({exc}); not starting a second one.",
                   err=True)
        sys.exit(1)


def register(app: Flask) -> None:
    """Add the command groups to `flask` (the dispatch command only when the dispatch exists)."""
    from taskflow.notices.jobs import enterprise_jobs

    for group in (reminders_cli, outbox_cli, scheduler_cli):
        app.cli.add_command(group)
    if enterprise_jobs() is None:
        return
    existing = app.cli.commands.get("dispatch")
    if existing is None:
        app.cli.add_command(dispatch_cli)
    elif isinstance(existing, click.Group) and "run" not in existing.commands:
        existing.add_command(dispatch_run_command)
