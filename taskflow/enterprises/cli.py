"""Commands: `flask enterprises import|demo` and `flask dispatch open|late`."""

from pathlib import Path

import click
from tqdm import tqdm

from taskflow.core import clock
from taskflow.enterprises import bp, dispatch_bp, importer, jobs, operations, queries
from taskflow.extensions import db


def _messages():
    """A request context, so translated messages work in commands (Chinese by default).

    core.i18n.select_locale reads the session and the request, which a command does not have."""
    from flask import current_app

    return current_app.test_request_context()


def _plan(code: str | None):
    from sqlalchemy import select

    from taskflow.plans.models import Plan

    plan = (db.session.scalar(select(Plan).where(Plan.code == code)) if code
            else queries.district_plan())
    if plan is None:
        raise click.ClickException(f"no plan {code}" if code else "there is no district plan yet")
    return plan


@bp.cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", "unit_name", required=True, help="The unit the list belongs to.")
@click.option("--plan", "plan_code", default=None, help="Plan code (default: the district plan).")
@click.option("--yes", is_flag=True, help="Confirm without asking.")
def import_command(path: Path, unit_name: str, plan_code: str | None, yes: bool):
    """Import a unit's Excel list of enterprises: preview counts, then confirm."""
    with _messages():
        plan = _plan(plan_code)
        unit = queries.unit_by_name(plan.id, unit_name)
        if unit is None:
            raise click.ClickException(f"unknown unit: {unit_name}")
        total = None
        try:
            importer.check_file(path)
            total = importer.count_rows(path)
        except importer.FileRefused as exc:
            raise click.ClickException(str(exc)) from None
        except Exception:  # noqa: BLE001 - the count is only for the progress bar
            total = None
        try:
            with tqdm(total=max((total or 1) - 1, 0) or None, unit="row", desc="check") as bar:
                batch = importer.stage(path, path.name, unit, None, progress=bar.update)
        except importer.FileRefused as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        counts = batch.counts
        click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
        if counts.get("invalid"):
            rows = db.session.scalars(
                db.select(importer.EnterpriseImportRow)
                .where(importer.EnterpriseImportRow.import_id == batch.id,
                       importer.EnterpriseImportRow.outcome == "invalid")
                .order_by(importer.EnterpriseImportRow.row_number).limit(20))
            for row in rows:
                click.echo(f"  row {row.row_number}: {row.message}", err=True)
            db.session.rollback()
            raise click.ClickException("invalid rows: nothing was imported")
        if not yes:
            # The preview is kept while a person answers, so no write lock is held meanwhile.
            db.session.commit()
            if not click.confirm("Write these rows to the register?"):
                importer.discard(batch, None)
                db.session.commit()
                click.echo("nothing was written")
                return
        with tqdm(total=sum(counts.values()), unit="row", desc="import") as bar:
            counts = importer.confirm(batch, None, progress=bar.update)
        db.session.commit()
        click.echo("imported: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


@bp.cli.command("demo")
@click.option("--plan", "plan_code", default=None, help="Plan code (default: the district plan).")
@click.option("--seed", default=2023, show_default=True)
def demo_command(plan_code: str | None, seed: int):
    """Generate the demo register for the district plan's units."""
    with _messages():
        from taskflow.enterprises.demo import generate_demo_register

        count = generate_demo_register(_plan(plan_code), seed=seed)
        db.session.commit()
        click.echo(f"{count} enterprises generated")


@dispatch_bp.cli.command("open")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--now", "now", default=None, help="Pretend it is this ISO time (Asia/Shanghai).")
def open_command(month: str, now: str | None):
    """Open a month of the monthly dispatch."""
    with _messages():
        with clock.frozen_at(clock.parse_now(now)):
            try:
                period = operations.open_month(month, None)
            except operations.DispatchError as exc:
                db.session.rollback()
                raise click.ClickException(str(exc)) from None
            db.session.commit()
        click.echo(f"opened {period.label}, confirm by {period.due_on.isoformat()}")


@dispatch_bp.cli.command("late")
@click.option("--now", "now", default=None, help="Pretend it is this ISO time (Asia/Shanghai).")
def late_command(now: str | None):
    """Open the month that is due and mark units late on open months (idempotent)."""
    with _messages():
        from sqlalchemy import select

        from taskflow.enterprises.models import DispatchPeriod, DispatchPeriodState

        from taskflow.core.calendar import UnknownCalendarYear

        with clock.frozen_at(clock.parse_now(now)):
            today = clock.local_today()
            try:
                opened = jobs.open_month_if_due(today)
                if opened:
                    click.echo(f"opened {opened.label}")
                for period in db.session.scalars(select(DispatchPeriod).where(
                        DispatchPeriod.state == DispatchPeriodState.OPEN)).all():
                    marked = jobs.mark_late(period, today)
                    if marked:
                        click.echo(f"{period.label}: {marked} units late")
            except UnknownCalendarYear as exc:  # no guessed deadline: the admin enters the year
                db.session.rollback()
                raise click.ClickException(exc.message()) from None
            except operations.DispatchError as exc:
                db.session.rollback()
                raise click.ClickException(str(exc)) from None
            db.session.commit()
