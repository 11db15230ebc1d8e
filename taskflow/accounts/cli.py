"""`flask users …`: create and list accounts, and reset a second factor, from the command
line."""

import click
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from taskflow.accounts import bp
from taskflow.accounts.models import User
from taskflow.accounts.operations import (
    AccountError,
    create_user,
    prune_login_attempts,
    reset_second_factor,
)
from taskflow.accounts.queries import district_plans, find_district_units
from taskflow.core.roles import Role
from taskflow.extensions import db


def _fail(message) -> None:
    # Messages may be lazily translated, which needs a request context (default locale: zh_CN).
    with current_app.test_request_context():
        text = str(message)
    raise click.ClickException(text)


@bp.cli.command("create")
@click.option("--username", required=True, help="Sign-in name (letters, digits, . _ -).")
@click.option("--password", required=True, help="Initial password; the password rules apply.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--unit", "unit_name", default=None,
              help="Unit of a reporter or unit head: its name or alias in the district plan.")
@click.option("--display-name", default="", help="Name shown in the interface.")
@click.option("--email", default=None)
def create_command(username, password, role, unit_name, display_name, email):
    """Create an account."""
    unit = None
    if unit_name:
        if not district_plans():
            _fail(f"no district plan has been imported, so unit {unit_name!r} cannot be found")
        matches = find_district_units(unit_name)
        if not matches:
            _fail(f"unknown unit: {unit_name!r} (not a unit name or alias of the district plan)")
        if len(matches) > 1:
            _fail(f"unit {unit_name!r} is ambiguous: it is in {len(matches)} district plans")
        unit = matches[0]
    try:
        user = create_user(username, password, role, unit=unit, display_name=display_name,
                           email=email)
    except AccountError as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    where = f" in {unit.name}" if unit else ""
    click.echo(f"created {user.username} ({user.role}){where}")


@bp.cli.command("list")
def list_command():
    """List every account."""
    users = db.session.scalars(
        select(User).options(joinedload(User.unit)).order_by(User.role, User.username)
    )
    rows = [(u.username, u.role, u.unit.name if u.unit else "-", "active" if u.active else
             "disabled", u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "-")
            for u in users]
    if not rows:
        click.echo("no users")
        return
    header = ("username", "role", "unit", "status", "last sign-in (UTC)")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


@bp.cli.command("prune-attempts")
@click.option("--days", type=int, default=None,
              help="Keep this many days of attempts (default and minimum: the security log's "
                   "retention, SECURITY_LOG_RETENTION_DAYS).")
def prune_attempts_command(days):
    """Delete sign-in attempts older than the security log's retention."""
    from taskflow.audit.retention import retention_days

    keep = retention_days()
    if days is None:
        days = keep
    elif days < keep:
        # Sign-in attempts are part of the security log that the law keeps six months.
        _fail(f"--days {days} is shorter than the security log's retention of {keep} days")
    removed = prune_login_attempts(days)
    db.session.commit()
    click.echo(f"deleted {removed} sign-in attempts older than {days} days")


@bp.cli.command("reset-second-factor")
@click.argument("username")
def reset_second_factor_command(username):
    """Remove an account's authenticator app and recovery codes (audited).

    For the administrator who lost both: nobody else can reset it on the web (an administrator
    cannot reset their own), but whoever runs commands on the server can."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        _fail(f"unknown user: {username!r}")
    try:
        reset_second_factor(user, actor=None)
    except AccountError as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    click.echo(f"second factor of {user.username} reset; they enrol again at next sign-in "
               "where their role requires it")
