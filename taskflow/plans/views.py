"""Plan pages: the plan's sections, tasks and units; the target table and the city comparison."""

from flask import abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from taskflow.core.permissions import can_view_plan, require
from taskflow.extensions import db
from taskflow.plans import bp, queries
from taskflow.plans.models import KeyTask, Plan


def _plan_or_404(code: str) -> Plan:
    plan = queries.plan_by_code(code)
    if plan is None:
        abort(404)
    return plan


@bp.route("/")
@login_required
def plan_list():
    """Every imported plan."""
    require(can_view_plan(current_user))
    return render_template("plans/list.html", plans=queries.list_plans())


@bp.route("/<code>")
@login_required
def plan_detail(code: str):
    """Goals, then sections → tasks → lead and responsible units."""
    require(can_view_plan(current_user))
    plan = _plan_or_404(code)
    return render_template(
        "plans/detail.html",
        plan=plan,
        sections=queries.plan_tree(plan),
        assignments=queries.assignments_by_task(plan),
        goals=queries.plan_goals(plan),
    )


@bp.route("/<code>/tasks/<int:number>")
@login_required
def task_detail(code: str, number: int):
    """One key task's full text and its units."""
    require(can_view_plan(current_user))
    plan = _plan_or_404(code)
    task = db.session.scalar(select(KeyTask).where(KeyTask.plan_id == plan.id, KeyTask.number == number))
    if task is None:
        abort(404)
    return render_template(
        "plans/task.html", plan=plan, task=task,
        goals=[goal for goal in queries.plan_goals(plan) if goal.task_id == task.id],
        assignments=queries.assignments_by_task(plan).get(task.id, {"lead": [], "responsible": []}),
    )


@bp.route("/<code>/targets")
@login_required
def targets(code: str):
    """The target table with totals checked in SQL, and the comparison with the parent plan."""
    require(can_view_plan(current_user))
    plan = _plan_or_404(code)
    return render_template(
        "plans/targets.html",
        plan=plan,
        table=queries.target_table(plan),
        comparison=queries.city_comparison(plan),
    )
