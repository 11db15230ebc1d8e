"""`flask plan import PATH` and `flask plan show [--json]`."""

import json
import sys

import click
from sqlalchemy import select

from taskflow.extensions import db
from taskflow.plans import bp, queries
from taskflow.plans.documents import PlanDocumentError
from taskflow.plans.models import Indicator, Plan, Target
from taskflow.plans.operations import PlanImportError, import_plan_file
from taskflow.units.directory import DirectoryError, UnknownUnitError
from taskflow.units.models import Unit


@bp.cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
def import_command(path: str) -> None:
    """Import a plan document (UTF-8 text or .docx); all or nothing."""
    try:
        result = import_plan_file(path)
        db.session.commit()
    except (PlanDocumentError, PlanImportError, UnknownUnitError, DirectoryError) as error:
        db.session.rollback()
        click.echo(f"error: {path}: {error}", err=True)
        sys.exit(1)
    except Exception:
        db.session.rollback()
        raise
    state = "created" if result.created else "imported"
    click.echo(f"{result.plan_code}: {state}; {result.summary}")


def plan_as_dict(plan: Plan) -> dict:
    """What was imported for one plan, units by canonical name (the `plan show --json` shape)."""
    assignments = queries.assignments_by_task(plan)
    goals = queries.plan_goals(plan)
    units = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.plan_id == plan.id)).all())
    targets = db.session.execute(
        select(Target.unit_id, Indicator.code, Target.year, Target.kind, Target.value, Target.source_row)
        .join(Indicator, Target.indicator_id == Indicator.id)
        .where(Target.plan_id == plan.id)
        .order_by(Indicator.sort_order, Target.source_row.is_(None), Target.source_row, Target.unit_id,
                  Target.year, Target.kind)
    ).all()

    def names(rows):
        return [a.unit.name for a in sorted(rows, key=lambda a: (a.position, a.unit.sort_order))]

    return {
        "code": plan.code,
        "title": plan.title,
        "level": plan.level,
        "parent": plan.parent.title if plan.parent else None,
        # The parent unit belongs to the parent plan, so it is not among this plan's units.
        "parent_unit": db.session.get(Unit, plan.parent_unit_id).name if plan.parent_unit_id else None,
        "goals": [
            {"indicator": g.indicator.code if g.indicator else None, "metric": g.metric,
             "scope": g.scope, "year": g.year, "every_year": g.every_year, "comparator": g.comparator,
             "value": float(g.value) if g.value is not None else None, "unit": g.unit,
             "task": g.task.number if g.task else None, "text": g.text}
            for g in goals
        ],
        "sections": [
            {
                "number": section.number,
                "title": section.title,
                "tasks": [
                    {
                        "number": task.number,
                        "title": task.title,
                        "units_open": task.units_open,
                        "lead_units": names(assignments.get(task.id, {}).get("lead", [])),
                        "responsible_units": names(assignments.get(task.id, {}).get("responsible", [])),
                    }
                    for task in section.tasks
                ],
            }
            for section in queries.plan_tree(plan)
        ],
        "targets": [
            {"unit": units.get(unit_id), "indicator": code, "year": year, "kind": kind, "value": value}
            for unit_id, code, year, kind, value, _row in targets
        ],
        # Cells written "-": not applicable, so no target (and no zero) for them.
        "not_applicable": [
            {"unit": units.get(unit_id), "indicator": code, "year": year, "kind": kind}
            for unit_id, code, year, kind in sorted(
                queries.not_applicable_cells(plan.id),
                key=lambda cell: (cell[0] is None, cell[0] or 0, cell[1], cell[2], cell[3]))
        ],
    }


@bp.cli.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a tree.")
def show_command(as_json: bool) -> None:
    """Print what was imported."""
    plans = queries.list_plans()
    data = {"plans": [plan_as_dict(plan) for plan in plans]}
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for plan in data["plans"]:
        click.echo(f"{plan['title']}  [{plan['code']}]" + (f"  ⊂ {plan['parent']}" if plan["parent"] else ""))
        for goal in plan["goals"]:
            year = goal["year"] or ("每年" if goal["every_year"] else "规划期内")
            what = goal["indicator"] or f"{goal['scope']}{goal['metric']}"
            if goal["value"] is None:
                click.echo(f"  目标 {year} {what}")
            else:
                click.echo(f"  目标 {year} {what} {goal['comparator']} {goal['value']:g}{goal['unit']}")
        for section in plan["sections"]:
            click.echo(f"  {section['title']}")
            for task in section["tasks"]:
                click.echo(f"    {task['number']}. {task['title']}")
                if task["lead_units"]:
                    click.echo(f"       牵头: {'、'.join(task['lead_units'])}")
                if task["responsible_units"]:
                    open_mark = " (open)" if task["units_open"] else ""
                    click.echo(f"       责任: {'、'.join(task['responsible_units'])}{open_mark}")
        totals = [t for t in plan["targets"] if t["unit"] is None]
        click.echo(f"  targets: {len(plan['targets']) - len(totals)} unit values, {len(totals)} totals")
