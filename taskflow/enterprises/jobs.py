"""Scheduled work of the monthly dispatch; every function is idempotent and commits nothing."""

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import insert, select, update

from taskflow.core import audit
from taskflow.enterprises import operations, queries
from taskflow.enterprises.models import DispatchConfirmation, DispatchPeriod, PeriodState
from taskflow.extensions import db
from taskflow.units.models import Unit


def open_month_if_due(today: date) -> DispatchPeriod | None:
    """Open the month that ended before `today` (from DISPATCH_OPEN_DAY of the next month) once.

    Returns the period it opened, or None when nothing was due (already open, too early, no
    district plan, or the month lies outside the plan's years)."""
    plan = queries.district_plan()
    if plan is None:
        return None
    open_day = int(current_app.config.get("DISPATCH_OPEN_DAY", 1))
    if today.day < open_day:
        return None
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if not plan.start_year <= month.year <= plan.end_year:
        return None
    exists = db.session.scalar(select(DispatchPeriod.id).where(
        DispatchPeriod.plan_id == plan.id, DispatchPeriod.month == month))
    if exists is not None:
        return None
    return operations.open_month(month, None, plan=plan)


def units_not_confirmed(period: DispatchPeriod) -> list[Unit]:
    """The period's units that have not confirmed yet, in table order (two queries)."""
    confirmed = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id,
        DispatchConfirmation.confirmed_at.is_not(None))))
    return [u for u in queries.dispatch_units(period.plan_id) if u.id not in confirmed]


def mark_late(period: DispatchPeriod, today: date) -> int:
    """After the due date, record every unconfirmed unit of an open period as late, once.

    Returns how many units were newly marked; a second run marks none."""
    if period.state != PeriodState.OPEN or today <= period.due_on:
        return 0
    missing = units_not_confirmed(period)
    if not missing:
        return 0
    have_row = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id)))
    already_late = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id, DispatchConfirmation.late.is_(True))))
    new_rows = [{"period_id": period.id, "unit_id": u.id, "late": True, "note": "", "version": 1}
                for u in missing if u.id not in have_row]
    to_flag = [u.id for u in missing if u.id in have_row and u.id not in already_late]
    if new_rows:
        db.session.execute(insert(DispatchConfirmation), new_rows)
    if to_flag:
        db.session.execute(
            update(DispatchConfirmation)
            .where(DispatchConfirmation.period_id == period.id,
                   DispatchConfirmation.unit_id.in_(to_flag))
            .values(late=True, version=DispatchConfirmation.version + 1)
            .execution_options(synchronize_session=False)
        )
    marked = len(new_rows) + len(to_flag)
    if marked:
        names = [u.name for u in missing if u.id not in already_late]
        audit.record(None, "dispatch.mark_late", period, after={"units": names},
                     summary=f"{period.label}: {marked}")
    return marked


def purge_stale_imports(now) -> int:
    """Drop import previews nobody confirmed within a week (idempotent); returns how many."""
    from taskflow.enterprises.importer import purge_stale

    return purge_stale(now, days=int(current_app.config.get("ENTERPRISE_IMPORT_KEEP_DAYS", 7)))
