"""Traffic lights (红黄绿灯) for milestones and assignments (DESIGN.md §4).

green  on track (nothing overdue, nothing returned, next due date not close), or all done
yellow the next due date is within LIGHT_YELLOW_WORKING_DAYS working days, or a submission was
       returned to the unit
red    overdue: a milestone whose due date has passed and that is neither submitted nor accepted
grey   nothing due (no milestones)
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app

from taskflow.assignments.models import MilestoneState

# Milestones the unit has done its part on: they cannot be overdue for the unit.
DONE_OR_WAITING = frozenset({
    MilestoneState.SUBMITTED, MilestoneState.SIGNED_OFF, MilestoneState.ACCEPTED,
})
OPEN_STATES = frozenset({
    MilestoneState.PENDING, MilestoneState.IN_PROGRESS, MilestoneState.RETURNED,
})

GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "grey"
_RANK = {GREY: 0, GREEN: 1, YELLOW: 2, RED: 3}


def yellow_cutoff(today: date, working_days: int | None = None) -> date:
    """The last date counted as "due soon": today plus N working days.

    Uses taskflow.core.calendar (Chinese working days, holidays included) when it is available,
    plain calendar days otherwise.
    """
    if working_days is None:
        working_days = int(current_app.config.get("LIGHT_YELLOW_WORKING_DAYS", 5))
    try:
        from taskflow.core import calendar as work_calendar
    except ImportError:  # pragma: no cover - the calendar module ships with core
        return today + timedelta(days=working_days)
    try:
        return work_calendar.add_working_days(today, working_days)
    except ImportError:  # the admin overrides table (notices area) is not installed
        return work_calendar.WorkCalendar().add_working_days(today, working_days)


def milestone_light(state: str, due_date: date, today: date, cutoff: date) -> str:
    """The light of one milestone."""
    if state == MilestoneState.ACCEPTED:
        return GREEN
    if state not in DONE_OR_WAITING and due_date < today:
        return RED
    if state == MilestoneState.RETURNED:
        return YELLOW
    if state not in DONE_OR_WAITING and due_date <= cutoff:
        return YELLOW
    return GREEN


@dataclass(frozen=True)
class LightFacts:
    """Per-assignment counts from one aggregate query (see queries.assignment_light_facts)."""

    total: int = 0
    overdue: int = 0
    returned: int = 0
    due_soon: int = 0
    next_due: date | None = None


def assignment_light(facts: LightFacts | None) -> str:
    """The light of an assignment: its worst milestone."""
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
