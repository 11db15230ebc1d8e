"""`flask audit verify|anchor|prune-security-log`: the hash chain, its anchors, log retention."""

import click

from taskflow.audit import bp
from taskflow.audit.queries import verify_chain
from taskflow.extensions import db


@bp.cli.command("verify")
def verify_command():
    """Walk the hash chain and check the anchors; exit 1 naming the first problem."""
    report = verify_chain()
    for rejected in report.rejected_anchors:
        click.echo(f"anchor rejected: {rejected}", err=True)
    if report.broken_id is not None:
        click.echo(f"chain broken at event {report.broken_id}: {report.reason}", err=True)
    if not report.intact:
        raise SystemExit(1)
    click.echo(f"chain intact: {report.events} events ({report.anchors_checked} anchors checked)")


@bp.cli.command("anchor")
@click.option("--force", is_flag=True, help="Write an anchor even if the head has not moved.")
def anchor_command(force):
    """Anchor the chain's head outside the database (BACKUP_DIR/anchors)."""
    from taskflow.audit.anchor import write_anchor
    from taskflow.core.db import write_transaction

    with write_transaction():
        anchor = write_anchor(force=force)
        db.session.commit()
    if anchor is None:
        click.echo("no audit events yet: nothing to anchor")
        return
    click.echo(f"anchor {anchor.path}: event {anchor.event_id}, {anchor.event_count} events, "
               f"written {anchor.written_at.isoformat()}")


@bp.cli.command("prune-security-log")
def prune_security_log_command():
    """Delete security events and sign-in attempts older than SECURITY_LOG_RETENTION_DAYS."""
    from taskflow.audit.retention import prune_security_log, retention_days

    counts = prune_security_log()
    db.session.commit()
    click.echo(f"deleted {counts['security_events']} security events and "
               f"{counts['login_attempts']} sign-in attempts older than {retention_days()} days")
