"""`flask demo setup`: import both plans, create demo accounts and demo data, once."""

import importlib
import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from taskflow.extensions import db

demo_cli = AppGroup("demo", help="Demo set-up for a first run.")

# Seed documents in import order: the parent (city) plan first.
PLAN_DOCUMENTS = ("chongqing-action-plan-2023-2027.txt", "qijiang-work-plan-2023-2027.txt")
# Areas that add demo data, in order; each defines setup_demo(plan, echo) in <area>/demo.py.
DEMO_AREAS = ("assignments", "enterprises", "notices", "scores")


@demo_cli.command("setup")
def setup_command() -> None:
    """Import the plans and create demo accounts and data (safe to run again)."""
    from taskflow.plans.operations import import_plan_file
    from taskflow.plans.queries import district_plan

    seeds = Path(current_app.config["SEEDS_DIR"])
    for name in PLAN_DOCUMENTS:
        result = import_plan_file(seeds / name)
        db.session.commit()
        click.echo(f"plan {result.plan_code}: {result.summary}")
    plan = district_plan()

    from taskflow.accounts.demo import create_demo_accounts

    accounts = create_demo_accounts(plan)
    db.session.commit()
    if accounts:
        lines = [f"{username:20} {password:26} {role:11} {unit or ''}"
                 for username, password, role, unit in accounts]
        path = Path(current_app.config["INSTANCE_DIR"]) / "demo-accounts.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
        click.echo("Demo accounts (shown once; also saved to %s):" % path)
        for line in lines:
            click.echo("  " + line)
    else:
        click.echo("Demo accounts exist already (see instance/demo-accounts.txt).")

    for area in DEMO_AREAS:
        importlib.import_module(f"taskflow.{area}.demo").setup_demo(plan, click.echo)
        db.session.commit()

    # The audit chain's head anchored outside the database from the start (the scheduler keeps
    # anchoring it hourly), so the security page and `flask audit verify` show a real anchor.
    from taskflow.audit.anchor import write_anchor

    anchor = write_anchor()
    if anchor is not None:
        click.echo(f"audit: chain head anchored at event {anchor.event_id} ({anchor.path.name})")
