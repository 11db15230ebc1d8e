"""Commands: every scheduled job of the notices area by hand, with --now for operators and tests.

    flask reminders scan --now 2024-10-08T09:00
    flask reminders request-updates --now 2024-10-08T09:00
    flask outbox digest --now 2024-10-08T17:30
    flask outbox deliver [--now …]
    flask scheduler run

The monthly dispatch's commands (`flask dispatch …`) belong to taskflow/enterprises/cli.py.
"""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from taskflow.core.clock import frozen_at
from taskflow.core.schedule import now_option, report


reminders_cli = AppGroup("reminders", help="Deadline reminders, escalation and update requests.")
outbox_cli = AppGroup("outbox", help="E-mail digests and delivery of queued messages.")
scheduler_cli = AppGroup("scheduler", help="The single scheduler process.")


@reminders_cli.command("scan")
@now_option
def scan_command(now):
    """Deadline scan: reminders, overdue notices, 催办 and 督办."""
    from taskflow.notices.jobs import scan_deadlines

    with frozen_at(now):
        report("scan", scan_deadlines())


@reminders_cli.command("request-updates")
@now_option
def request_updates_command(now):
    """Request (and re-request) monthly progress updates on open assignments."""
    from taskflow.notices.jobs import request_updates

    with frozen_at(now):
        report("request-updates", request_updates())


@outbox_cli.command("digest")
@now_option
def digest_command(now):
    """Queue today's e-mail digest per person (and the webhook summary)."""
    from taskflow.notices.jobs import send_digests

    with frozen_at(now):
        report("digest", send_digests())


@outbox_cli.command("deliver")
@now_option
@click.option("--limit", default=200, show_default=True, help="At most this many messages.")
def deliver_command(now, limit):
    """Deliver due outbox messages (e-mail over SMTP, webhook posts)."""
    from taskflow.notices.jobs import deliver_outbox

    with frozen_at(now):
        report("deliver", deliver_outbox(limit=limit))


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
    """Add the command groups to `flask`."""
    for group in (reminders_cli, outbox_cli, scheduler_cli):
        app.cli.add_command(group)
