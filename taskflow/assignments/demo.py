"""Demo data for `flask demo setup`: quarterly milestones for every assignment of the plan,
with this year's past quarters mostly completed (some late, some still open and overdue)."""

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from taskflow.assignments.models import Assignment, Milestone, MilestoneState
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
        past, _skipped = generate_milestones(
            task, start_year=today.year, end_year=today.year, frequency="quarterly",
            required_evidence=DEMO_EVIDENCE, weight=Decimal("1"), actor=None)
        created += past
    done, late, open_ = _complete_past_milestones(plan, today)
    echo(f"assignments: {created} quarterly milestones created; past ones: {done} on time, "
         f"{late} late, {open_} still open")


def _complete_past_milestones(plan, today) -> tuple[int, int, int]:
    """Record history for milestones already due: 75 % on time, 15 % late, the rest overdue."""
    rng = random.Random(2026)
    past = db.session.scalars(
        select(Milestone).join(Assignment).join(KeyTask)
        .where(KeyTask.plan_id == plan.id, Milestone.due_date < today,
               Milestone.state == MilestoneState.PENDING)
        .order_by(Milestone.id)
    ).all()
    counts = [0, 0, 0]
    for milestone in past:
        draw = rng.random()
        if draw < 0.75:
            completed = milestone.due_date - timedelta(days=rng.randint(0, 10))
        elif draw < 0.90:
            completed = min(today, milestone.due_date + timedelta(days=rng.randint(1, 20)))
        else:
            counts[2] += 1
            continue
        milestone.state = MilestoneState.ACCEPTED
        milestone.progress = 100
        milestone.completed_on = completed
        milestone.days_late = max(0, (completed - milestone.original_due_date).days)
        counts[0 if milestone.days_late == 0 else 1] += 1
    db.session.flush()
    return counts[0], counts[1], counts[2]
