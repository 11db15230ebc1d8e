"""`flask audit verify`: check the audit trail's hash chain."""

import click

from taskflow.audit import bp
from taskflow.audit.queries import verify_chain


@bp.cli.command("verify")
def verify_command():
    """Walk the hash chain; exit 1 naming the first broken event."""
    report = verify_chain()
    if report.intact:
        click.echo(f"chain intact: {report.events} events")
        return
    click.echo(f"chain broken at event {report.broken_id}: {report.reason}", err=True)
    raise SystemExit(1)
