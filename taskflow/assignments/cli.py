"""`flask evidence …`: maintenance of stored evidence files."""

from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select

from taskflow.assignments import bp
from taskflow.assignments.models import Evidence
from taskflow.extensions import db


@bp.cli.command("sweep")
@click.option("--grace-hours", default=6, show_default=True, type=int,
              help="Only files older than this are deleted (uploads in flight are kept).")
def sweep_command(grace_hours: int) -> None:
    """Delete stored files that no evidence row references (left by a crash before commit):
    those of an interrupted upload after UPLOAD_ORPHAN_MINUTES, any other after the grace."""
    from taskflow.core import storage

    removed = storage.sweep_interrupted(db.session, Evidence.storage_key)
    removed += storage.sweep(db.session, select(Evidence.storage_key),
                             older_than=timedelta(hours=grace_hours))
    click.echo(f"{len(removed)} orphaned file(s) removed")
    for key in removed:
        click.echo(f"  {key}")


@bp.cli.command("verify")
def verify_command() -> None:
    """Hash every stored evidence file again and report missing or altered ones."""
    from taskflow.core.storage import EvidenceStore

    store = EvidenceStore.for_app()
    bad = 0
    rows = db.session.execute(select(Evidence.id, Evidence.storage_key, Evidence.sha256)).all()
    for row in rows:
        try:
            actual = store.sha256_of(row.storage_key)
        except FileNotFoundError:
            click.echo(f"missing  evidence {row.id} ({row.storage_key})")
            bad += 1
            continue
        if actual != row.sha256:
            click.echo(f"altered  evidence {row.id} ({row.storage_key})")
            bad += 1
    click.echo(f"{len(rows)} file(s) checked, {bad} problem(s)")
    if bad:
        raise SystemExit(1)


milestones_cli = AppGroup("milestones", help="Maintenance of milestone records.")


@milestones_cli.command("recompute-lateness")
def recompute_lateness_command() -> None:
    """Record the lateness of every closed milestone again, in working days (run once after
    upgrading to 0011_milestone_closure, or after correcting the calendar)."""
    from taskflow.assignments.operations import recompute_lateness

    changed = recompute_lateness(None)
    db.session.commit()
    click.echo(f"{changed} milestone(s) changed")
