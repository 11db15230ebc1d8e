"""Demo data for `flask demo setup`: quarterly milestones for every assignment of the plan."""

from decimal import Decimal

from sqlalchemy import func, select

from taskflow.assignments.models import Assignment, Milestone
from taskflow.assignments.operations import generate_milestones
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.plans.models import KeyTask

DEMO_EVIDENCE = "季度工作进展情况说明及佐证材料（文件、照片、台账等）"


def setup_demo(plan, echo) -> None:
    """Quarterly milestones from the current quarter to the plan's end, once."""
    existing = db.session.scalar(
        select(func.count(Milestone.id)).join(Assignment).join(KeyTask)
        .where(KeyTask.plan_id == plan.id)
    )
    if existing:
        echo(f"assignments: {existing} milestones exist already")
        return
    today = clock.local_today()
    if today.year > plan.end_year:
        echo("assignments: the plan has ended; no milestones created")
        return
    created = 0
    tasks = db.session.scalars(select(KeyTask).where(KeyTask.plan_id == plan.id)
                               .order_by(KeyTask.number)).all()
    for task in tasks:
        if not db.session.scalar(select(func.count(Assignment.id))
                                 .where(Assignment.task_id == task.id)):
            continue
        made, _skipped = generate_milestones(
            task, start_year=max(today.year, plan.start_year), end_year=plan.end_year,
            frequency="quarterly", required_evidence=DEMO_EVIDENCE, weight=Decimal("1"),
            actor=None, not_before=today)
        created += made
    echo(f"assignments: {created} quarterly milestones created")
