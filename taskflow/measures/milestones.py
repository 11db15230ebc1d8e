"""Milestone measures: closed (办结), open, due date in force, overdue (逾期, in working days),
lateness, accepted progress, and the milestone / assignment / task lights (红黄绿灯).

Every page, export, bulletin, score rule and job that shows one of these figures calls this
module; none recomputes it. docs/measures.md ("Milestones and assignments") describes each one.

As-of rule: every measure takes a date `as_of` and answers with the state of the data at the end
of that day (Asia/Shanghai):
- closed on or before as_of: `Milestone.completed_on` (the closure date, 办结日期: the local date
  the office accepted a 100 % report, or closed the item off with a reason, 销号) <= as_of;
- the due date in force on as_of: the current due date, unless an extension was granted after
  as_of, in which case the due date as it stood when the first such extension was asked for;
- overdue on as_of: open on as_of and the due date in force < as_of. A report that is submitted
  (or signed off) but not yet accepted does NOT stop a milestone being overdue;
- working days overdue: the working days d with due < d <= as_of (taskflow.core.calendar).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import and_, case, func, or_, select

from taskflow.assignments.models import (
    CLOSED_STATES,
    REPORTABLE_STATES,
    Assignment,
    AssignmentRole,
    ExtensionRequest,
    ExtensionState,
    Milestone,
    MilestoneState,
)
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.plans.models import KeyTask
from taskflow.units.models import Unit

# ---------------------------------------------------------------- states
# The state sets (CLOSED_STATES, WAITING_STATES, REPORTABLE_STATES) are defined once, next to
# MilestoneState in taskflow.assignments.models.
# Setting: "due soon" (yellow) within this many working days. Not in the plan documents.
DEFAULT_YELLOW_WORKING_DAYS = 5

GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "grey"
# What the working-day calendar raises for a year whose holidays it does not know
# (UnknownCalendarYear, a LookupError) or a range it will not scan (ValueError). Figures here stop
# at the last known day instead of failing or guessing.
CALENDAR_ERRORS = (ValueError, LookupError)
_RANK = {GREY: 0, GREEN: 1, YELLOW: 2, RED: 3}


def is_closed_state(state: str) -> bool:
    """The milestone is closed now (办结 or 销号)."""
    return state in CLOSED_STATES


def is_reportable_state(state: str) -> bool:
    """A unit may report on it now."""
    return state in REPORTABLE_STATES


# ---------------------------------------------------------------- SQL clauses


def closed_clause(as_of: date):
    """SQL: the milestone was closed (办结 or 销号) on or before as_of."""
    return and_(Milestone.completed_on.is_not(None), Milestone.completed_on <= as_of)


def open_clause(as_of: date):
    """SQL: the milestone was not closed by the end of as_of."""
    return or_(Milestone.completed_on.is_(None), Milestone.completed_on > as_of)


def local_day_end_utc(day: date) -> datetime:
    """The first instant after `day` in Asia/Shanghai, in UTC (for comparing UTC timestamps)."""
    after = day + timedelta(days=1)
    return datetime(after.year, after.month, after.day,
                    tzinfo=clock.LOCAL_TZ).astimezone(timezone.utc)


def due_date_at(as_of: date):
    """SQL expression: the due date in force on as_of.

    An extension granted after as_of does not count yet. For as_of today or later no extension can
    have been granted after it, so the current due date is used directly (no subquery: the lists
    of today stay index-friendly). For a past as_of, a correlated subquery takes the due date that
    the first extension granted after as_of replaced (ExtensionRequest.current_due_date, recorded
    when the request was filed); without such an extension the current due date is in force. This
    equals "the latest extension granted by as_of, else the original due date" and also respects a
    plan edit of the due date made by the office.
    """
    if as_of >= clock.local_today():
        return Milestone.due_date
    replaced = (
        select(ExtensionRequest.current_due_date)
        .where(ExtensionRequest.milestone_id == Milestone.id,
               ExtensionRequest.state == ExtensionState.GRANTED,
               ExtensionRequest.decided_at >= local_day_end_utc(as_of))
        .order_by(ExtensionRequest.decided_at, ExtensionRequest.id)
        .limit(1)
        .correlate(Milestone)
        .scalar_subquery()
    )
    return func.coalesce(replaced, Milestone.due_date)


def overdue_clause(as_of: date):
    """SQL: open on as_of and its due date in force is before as_of (a submitted but unaccepted
    report does not stop it being overdue)."""
    return and_(open_clause(as_of), due_date_at(as_of) < as_of)


# ---------------------------------------------------------------- working days


def _calendar(cal=None):
    if cal is not None:
        return cal
    from taskflow.core.calendar import current

    return current()


def _last_known_day(cal, day: date) -> date | None:
    """The last day up to `day` that the calendar can answer for (None: none in 20 years)."""
    probe = day
    for _ in range(20):
        try:
            cal.is_workday(probe)
            return probe
        except CALENDAR_ERRORS:  # UnknownCalendarYear: that year's holidays are not known
            probe = date(probe.year - 1, 12, 31)
    return None


def _working_days_after(start: date, end: date, cal=None) -> int:
    """Working days d with start < d <= end; 0 when end <= start. A year whose holidays are not
    known is not guessed: the count stops at the last day the calendar knows."""
    if end <= start:
        return 0
    cal = _calendar(cal)
    try:
        return max(0, cal.working_days_between(start, end))
    except CALENDAR_ERRORS:
        known = _last_known_day(cal, end)
        if known is None or known <= start:
            return 0
        try:
            return max(0, cal.working_days_between(start, known))
        except CALENDAR_ERRORS:
            return 0


def working_days_overdue(due: date, as_of: date, cal=None) -> int:
    """Working days overdue on as_of: working days d with due < d <= as_of; 0 when not late."""
    return _working_days_after(due, as_of, cal)


def lateness_working_days(due: date, closed_on: date, cal=None) -> int:
    """Lateness recorded at closure: working days d with due < d <= closed_on; 0 when on time.
    `due` is the original due date: an extension never erases lateness."""
    return _working_days_after(due, closed_on, cal)


def yellow_working_days() -> int:
    """The setting LIGHT_YELLOW_WORKING_DAYS (方案未规定，默认值 5，可调整)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return DEFAULT_YELLOW_WORKING_DAYS
    return int(current_app.config["LIGHT_YELLOW_WORKING_DAYS"])


def yellow_cutoff(as_of: date, working_days: int | None = None, cal=None) -> date:
    """The last date counted as "due soon": as_of plus N working days.

    Where the calendar does not know a year's holidays (UnknownCalendarYear) the
    cut-off stops at the last day it knows, never later than the guess-free answer; it never
    fails."""
    if working_days is None:
        working_days = yellow_working_days()
    if working_days <= 0:
        return as_of
    cal = _calendar(cal)
    try:
        return cal.add_working_days(as_of, working_days)
    except CALENDAR_ERRORS:
        pass
    # Walk day by day (at most a few weeks) while the calendar knows the days.
    day, found = as_of, 0
    for _ in range(working_days * 3 + 40):
        nxt = day + timedelta(days=1)
        try:
            workday = cal.is_workday(nxt)
        except CALENDAR_ERRORS:
            return day
        day = nxt
        if workday:
            found += 1
            if found == working_days:
                return day
    return day


# ---------------------------------------------------------------- lights


def milestone_light(state: str, due_date: date, as_of: date, cutoff: date, *,
                    closed: bool | None = None) -> str:
    """The light of one milestone on as_of (due_date: the due date in force on as_of).

    red: open and overdue; yellow: open and returned, or due within the cut-off; green otherwise
    (closed, or on track). A submitted report waiting for review changes nothing.
    `closed` defaults to "closed now" (the state); pass it for a past as_of."""
    if closed is None:
        closed = is_closed_state(state)
    if closed:
        return GREEN
    if due_date < as_of:
        return RED
    if state == MilestoneState.RETURNED or due_date <= cutoff:
        return YELLOW
    return GREEN


@dataclass(frozen=True)
class LightFacts:
    """Per-assignment (or per-task) counts from one aggregate query (light_facts)."""

    total: int = 0
    overdue: int = 0
    returned: int = 0
    due_soon: int = 0
    next_due: date | None = None


def assignment_light(facts: LightFacts | None) -> str:
    """The light of an assignment (or a task): its worst milestone; grey with no milestones."""
    if facts is None or facts.total == 0:
        return GREY
    if facts.overdue:
        return RED
    if facts.returned or facts.due_soon:
        return YELLOW
    return GREEN


def worst(colours) -> str:
    """The worst of several lights (grey when there are none)."""
    result = GREY
    for colour in colours:
        if _RANK[colour] > _RANK[result]:
            result = colour
    return result


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _light_columns(as_of: date, cutoff: date):
    """total, overdue, returned, due soon, next open due date (same rules as milestone_light)."""
    due = due_date_at(as_of)
    is_open = open_clause(as_of)
    return (
        func.count(Milestone.id),
        _count_if(and_(is_open, due < as_of)),
        _count_if(and_(is_open, Milestone.state == MilestoneState.RETURNED)),
        _count_if(and_(is_open, due >= as_of, due <= cutoff)),
        func.min(case((is_open, due), else_=None)),
    )


def light_facts(assignment_ids, as_of: date, cutoff: date | None = None) -> dict[int, LightFacts]:
    """Per assignment: milestones, overdue, returned, due soon, next open due date (one query)."""
    ids = list(assignment_ids)
    if not ids:
        return {}
    if cutoff is None:
        cutoff = yellow_cutoff(as_of)
    rows = db.session.execute(
        select(Milestone.assignment_id, *_light_columns(as_of, cutoff))
        .where(Milestone.assignment_id.in_(ids))
        .group_by(Milestone.assignment_id)
    ).all()
    return {
        row[0]: LightFacts(total=int(row[1]), overdue=int(row[2] or 0), returned=int(row[3] or 0),
                           due_soon=int(row[4] or 0), next_due=row[5])
        for row in rows
    }


# ---------------------------------------------------------------- lists and counts


@dataclass(frozen=True)
class OverdueRow:
    """One overdue milestone on as_of."""

    milestone_id: int
    title: str
    due_date: date            # the due date in force on as_of
    original_due_date: date
    state: str
    unit_id: int
    unit_name: str
    role: str
    task_id: int
    task_number: int
    task_title: str
    working_days_overdue: int

    @property
    def extended(self) -> bool:
        return self.due_date != self.original_due_date


def overdue_select(as_of: date, *, plan_id: int | None = None, unit_id: int | None = None,
                   task_id: int | None = None):
    """The SELECT behind overdue_list (callers may add columns, e.g. notice counts), most overdue
    first. Columns: milestone id, title, due in force, original due, state, unit id, unit name,
    role, task id, task number, task title."""
    due = due_date_at(as_of).label("due_in_force")
    query = (
        select(Milestone.id, Milestone.title, due, Milestone.original_due_date, Milestone.state,
               Assignment.unit_id, Unit.name, Assignment.role, KeyTask.id, KeyTask.number,
               KeyTask.title)
        .join(Assignment, Milestone.assignment_id == Assignment.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .join(KeyTask, Assignment.task_id == KeyTask.id)
        .where(overdue_clause(as_of))
        .order_by(due, KeyTask.number, Unit.sort_order, Milestone.id)
    )
    if plan_id is not None:
        query = query.where(KeyTask.plan_id == plan_id)
    if unit_id is not None:
        query = query.where(Assignment.unit_id == unit_id)
    if task_id is not None:
        query = query.where(Assignment.task_id == task_id)
    return query


def overdue_row(row, as_of: date, cal) -> OverdueRow:
    """An OverdueRow from the first 11 columns of overdue_select."""
    return OverdueRow(*row[:11], working_days_overdue=working_days_overdue(row[2], as_of, cal))


def overdue_list(plan_id: int | None, as_of: date, *, unit_id: int | None = None,
                 task_id: int | None = None, limit: int | None = None,
                 cal=None) -> list[OverdueRow]:
    """Milestones overdue on as_of, most overdue first, with working days overdue counted to
    as_of (one query, plus one for the calendar's overrides when no calendar is given)."""
    query = overdue_select(as_of, plan_id=plan_id, unit_id=unit_id, task_id=task_id)
    if limit:
        query = query.limit(limit)
    rows = db.session.execute(query).all()
    if not rows:
        return []
    cal = _calendar(cal)
    return [overdue_row(row, as_of, cal) for row in rows]


class OverdueCount(NamedTuple):
    """Overdue milestones of one unit or one task (lead: of which in the lead role)."""

    id: int
    name: str
    count: int
    lead: int


def overdue_counts(plan_id: int | None, as_of: date, by: str = "unit",
                   limit: int | None = None) -> list[OverdueCount]:
    """Overdue milestones on as_of per unit or per task, most first (one query; every plan's
    when plan_id is None)."""
    if by == "unit":
        key, name, order = Unit.id, Unit.name, Unit.sort_order
    elif by == "task":
        key, name, order = KeyTask.id, KeyTask.title, KeyTask.number
    else:
        raise ValueError(f"unknown grouping {by!r}")
    query = (
        select(key, name, func.count(Milestone.id),
               _count_if(Assignment.role == AssignmentRole.LEAD))
        .select_from(Milestone)
        .join(Assignment, Milestone.assignment_id == Assignment.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .join(KeyTask, Assignment.task_id == KeyTask.id)
        .where(overdue_clause(as_of))
        .group_by(key, name, order)
        .order_by(func.count(Milestone.id).desc(), order, key)
    )
    if plan_id is not None:
        query = query.where(KeyTask.plan_id == plan_id)
    if limit:
        query = query.limit(limit)
    return [OverdueCount(k, n, int(c), int(lead or 0)) for k, n, c, lead in
            db.session.execute(query)]


@dataclass
class TaskProgress:
    """One key task's milestones on as_of: in all, closed, due by then, overdue (one light)."""

    task_id: int
    number: int
    title: str
    total: int
    closed: int
    due: int
    overdue: int
    returned: int = 0
    due_soon: int = 0

    @property
    def done(self) -> int:
        """"Completed" on the cockpit: closed milestones only."""
        return self.closed

    @property
    def done_pct(self) -> float:
        return round(self.closed / self.total * 100, 1) if self.total else 0.0

    @property
    def light(self) -> str:
        return assignment_light(LightFacts(total=self.total, overdue=self.overdue,
                                           returned=self.returned, due_soon=self.due_soon))


def task_progress(plan_id: int, as_of: date, cutoff: date | None = None) -> list[TaskProgress]:
    """Task by task on as_of: milestones in all, closed, due (due date in force before as_of),
    overdue, returned and due soon (one query, plus the calendar for the yellow cut-off)."""
    if cutoff is None:
        cutoff = yellow_cutoff(as_of)
    due = due_date_at(as_of)
    total, overdue, returned, due_soon, _next = _light_columns(as_of, cutoff)
    rows = db.session.execute(
        select(KeyTask.id, KeyTask.number, KeyTask.title, total,
               _count_if(closed_clause(as_of)), _count_if(due < as_of), overdue, returned,
               due_soon)
        .select_from(KeyTask)
        .outerjoin(Assignment, Assignment.task_id == KeyTask.id)
        .outerjoin(Milestone, Milestone.assignment_id == Assignment.id)
        .where(KeyTask.plan_id == plan_id)
        .group_by(KeyTask.id, KeyTask.number, KeyTask.title).order_by(KeyTask.number)
    ).all()
    return [TaskProgress(tid, number, title, *(int(v or 0) for v in rest))
            for tid, number, title, *rest in rows]


def overdue_total(plan_id: int, as_of: date) -> int:
    """How many milestones are overdue on as_of (one query)."""
    return db.session.scalar(
        select(func.count(Milestone.id))
        .join(Assignment, Milestone.assignment_id == Assignment.id)
        .join(KeyTask, Assignment.task_id == KeyTask.id)
        .where(KeyTask.plan_id == plan_id, overdue_clause(as_of))
    ) or 0


__all__ = [
    "GREEN", "YELLOW", "RED", "GREY",
    "closed_clause", "open_clause", "due_date_at", "overdue_clause", "working_days_overdue",
    "lateness_working_days", "yellow_cutoff", "yellow_working_days", "milestone_light",
    "LightFacts", "assignment_light", "worst", "light_facts", "OverdueRow", "overdue_select",
    "overdue_list", "OverdueCount", "overdue_counts", "TaskProgress", "task_progress",
    "overdue_total", "is_closed_state", "is_reportable_state",
]
