"""`flask scores recompute --period 2024-03` and `flask scores show --period 2024-03 --json`."""

import json

import click
from flask import current_app

from taskflow.core import clock
from taskflow.core.schedule import now_option
from taskflow.extensions import db
from taskflow.plans.queries import district_plan
from taskflow.scores import bp, operations, queries
from taskflow.scores.rules import PeriodError, parse_period_key


def _plan_or_fail():
    plan = district_plan()
    if plan is None:
        raise click.ClickException("no district plan: run `flask demo setup` or import a plan first")
    return plan


def _key_or_fail(value: str) -> str:
    try:
        return parse_period_key(value).key
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="--period")


@bp.cli.command("recompute")
@click.option("--period", "period_key", required=True, help="2024-03, 2024Q1 or 2024")
@click.option("--rules-version", type=int, default=None, help="Score with this rule version.")
@now_option
def recompute_command(period_key: str, rules_version: int | None, now) -> None:
    """Recompute a draft period's scores (refused for a locked or published period)."""
    plan = _plan_or_fail()
    key = _key_or_fail(period_key)
    # Messages are translated, which needs a request context (the default locale applies).
    with clock.frozen_at(now), current_app.test_request_context():
        try:
            period = operations.recompute(plan.id, key, None, today=clock.local_today(),
                                          rule_version=rules_version)
        except operations.ScoreError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc))
        db.session.commit()
    click.echo(f"{period.key} revision {period.revision}: recomputed with rules "
               f"v{period.rule_set.version} as of {period.as_of.isoformat()}")


def period_payload(period) -> dict:
    """Each unit's components, total, grade and rank (JSON-able)."""
    units = []
    for group, cards in queries.ranking(period).items():
        for card in cards:
            units.append({
                "unit_id": card.unit_id, "unit": card.unit.name, "peer_group": group,
                "components": {name: float(card.component(name)) for name in
                               ("execution", "indicators", "responsiveness", "quality", "incentive")},
                "base": float(card.base), "computed_total": float(card.computed_total),
                "adjustment": float(card.adjustment), "total": float(card.total),
                "grade": card.grade, "rank": card.rank, "group_size": card.group_size,
                "previous_rank": card.previous_rank, "movement": card.movement,
            })
    return {"period": period.key, "revision": period.revision, "state": period.state,
            "rules_version": period.rule_set.version if period.rule_set else None,
            "as_of": period.as_of.isoformat() if period.as_of else None, "units": units}


@bp.cli.command("show")
@click.option("--period", "period_key", required=True, help="2024-03, 2024Q1 or 2024")
@click.option("--revision", type=int, default=None, help="A given revision (default: the newest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(period_key: str, revision: int | None, as_json: bool) -> None:
    """Print each unit's components, total, grade and rank."""
    plan = _plan_or_fail()
    key = _key_or_fail(period_key)
    period = (queries.period_revision(plan.id, key, revision) if revision
              else queries.latest_period(plan.id, key))
    if period is None:
        raise click.ClickException(f"no scores for {key}: run `flask scores recompute --period {key}`")
    with current_app.test_request_context():
        payload = period_payload(period)
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(f"{payload['period']} r{payload['revision']} {payload['state']} "
               f"(rules v{payload['rules_version']}, as of {payload['as_of']})")
    for row in payload["units"]:
        c = row["components"]
        click.echo(f"{row['peer_group']:16} #{row['rank'] or '-':<3} {row['total']:7.2f} "
                   f"{row['grade']:7} {row['unit']}  [exec {c['execution']:+.2f} ind "
                   f"{c['indicators']:+.2f} resp {c['responsiveness']:+.2f} qual {c['quality']:+.2f} "
                   f"inc {c['incentive']:+.2f} adj {row['adjustment']:+.2f}]")
