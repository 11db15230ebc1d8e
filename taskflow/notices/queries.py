"""Reads of the notices area: a bounded number of queries per page, roll-ups in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from taskflow.accounts.models import User
from taskflow.assignments.models import Assignment, Milestone
from taskflow.core.calendar import WorkCalendar
from taskflow.core.models import CalendarYear, WorkdayOverride
from taskflow.extensions import db
from taskflow.notices.models import (
    Notification,
    OutboxMessage,
    OutboxState,
    Robot,
    UrgeNotice,
    urge_notice_items,
)
from taskflow.plans.models import Plan

@dataclass
class Page:
    """One page of rows and how many there are in all."""

    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def iter_pages(self):
        return range(1, self.pages + 1)


def unread_count(user_id: int) -> int:
    """The inbox badge: one COUNT query."""
    return db.session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == user_id,
                                                  Notification.read_at.is_(None))
    ) or 0


def unread_count_column():
    """The inbox badge as a scalar subquery correlated to User (loaded with the signed-in user)."""
    return (select(func.count(Notification.id))
            .where(Notification.user_id == User.id, Notification.read_at.is_(None))
            .correlate(User).scalar_subquery())


def inbox(user_id: int, *, unread_only: bool = False, page: int = 1, per_page: int = 30) -> Page:
    """The user's inbox, newest first (two queries)."""
    where = [Notification.user_id == user_id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count(Notification.id)).where(*where)) or 0
    items = list(db.session.scalars(
        select(Notification).where(*where).order_by(Notification.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ))
    return Page(items, total, page, per_page)


def _item_count():
    return (select(func.count()).select_from(urge_notice_items)
            .where(urge_notice_items.c.notice_id == UrgeNotice.id).scalar_subquery())


def notices(*, unit_id: int | None = None, level: str | None = None, status: str | None = None,
            page: int = 1, per_page: int = 30) -> Page:
    """Urge notices (of one unit, or all), newest first, with their item counts (two queries)."""
    where = []
    if unit_id is not None:
        where.append(UrgeNotice.unit_id == unit_id)
    if level:
        where.append(UrgeNotice.level == level)
    if status == "issued":
        where.append(UrgeNotice.acknowledged_at.is_(None))
    elif status == "acknowledged":
        where += [UrgeNotice.acknowledged_at.is_not(None), UrgeNotice.responded_at.is_(None)]
    elif status == "answered":
        where.append(UrgeNotice.responded_at.is_not(None))
    total = db.session.scalar(select(func.count(UrgeNotice.id)).where(*where)) or 0
    rows = db.session.execute(
        select(UrgeNotice, _item_count().label("item_count"))
        .options(joinedload(UrgeNotice.unit))
        .where(*where).order_by(UrgeNotice.issued_at.desc(), UrgeNotice.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page([(notice, count) for notice, count in rows], total, page, per_page)


def notice_detail(notice_id: int) -> UrgeNotice | None:
    """A notice with its unit, people and items (their assignments and tasks) loaded."""
    return db.session.scalar(
        select(UrgeNotice).where(UrgeNotice.id == notice_id).options(
            joinedload(UrgeNotice.unit), joinedload(UrgeNotice.issued_by),
            joinedload(UrgeNotice.acknowledged_by), joinedload(UrgeNotice.responded_by),
            joinedload(UrgeNotice.items).joinedload(Milestone.assignment)
            .joinedload(Assignment.task),
        )
    )


@dataclass
class OverdueItem:
    """An overdue milestone as the office sees it (the measure's row plus its notice count)."""

    milestone_id: int
    title: str
    due_date: date            # the due date in force on the as-of date
    original_due_date: date
    state: str
    unit_id: int
    unit_name: str
    task_number: int
    task_title: str
    notice_count: int
    working_days_late: int    # working days overdue, counted to the as-of date
    task_id: int = 0

    @property
    def extended(self) -> bool:
        return self.due_date != self.original_due_date

    @property
    def working_days_overdue(self) -> int:
        return self.working_days_late


def overdue_items(today: date, *, unit_id: int | None = None,
                  task_id: int | None = None) -> list[OverdueItem]:
    """Milestones overdue on `today` (taskflow.measures.milestones: open, due date in force before
    it, a report waiting for review included), of one unit and/or task when given (in SQL), most
    overdue first, with their notice counts and working days overdue (one query, one for the
    calendar)."""
    from taskflow.measures import milestones as measures

    notices_for_item = (select(func.count()).select_from(urge_notice_items)
                        .where(urge_notice_items.c.milestone_id == Milestone.id)
                        .scalar_subquery())
    rows = db.session.execute(
        measures.overdue_select(today, unit_id=unit_id, task_id=task_id)
        .add_columns(notices_for_item)
    ).all()
    if not rows:
        return []
    cal = WorkCalendar.load()
    items = []
    for row in rows:
        measure = measures.overdue_row(row, today, cal)
        items.append(OverdueItem(
            measure.milestone_id, measure.title, measure.due_date, measure.original_due_date,
            measure.state, measure.unit_id, measure.unit_name, measure.task_number,
            measure.task_title, row[11], working_days_late=measure.working_days_overdue,
            task_id=measure.task_id))
    return items


def overdue_units(today: date) -> list[tuple[int, str]]:
    """(unit id, name) of every unit with milestones overdue on `today`, by name (one query)."""
    from taskflow.measures import milestones as measures

    return sorted(((c.id, c.name) for c in measures.overdue_counts(None, today, by="unit")),
                  key=lambda u: u[1])


def notice_facts(start: date, end: date, *, today: date) -> dict[int, dict]:
    """Per unit, notices issued between start and end (local issue dates, inclusive).

    {unit_id: {"blue": n, "yellow": n, "red": n, "answered": n, "answered_late": n,
    "unanswered_overdue": n}} — for the scores (one aggregate query).
    """
    from datetime import datetime, timedelta, timezone

    from taskflow.core.clock import LOCAL_TZ

    lo = datetime(start.year, start.month, start.day, tzinfo=LOCAL_TZ).astimezone(timezone.utc)
    after = end + timedelta(days=1)
    hi = datetime(after.year, after.month, after.day, tzinfo=LOCAL_TZ).astimezone(timezone.utc)

    def count_if(condition):
        return func.sum(case((condition, 1), else_=0))

    rows = db.session.execute(
        select(
            UrgeNotice.unit_id,
            count_if(UrgeNotice.level == "blue"), count_if(UrgeNotice.level == "yellow"),
            count_if(UrgeNotice.level == "red"), count_if(UrgeNotice.responded_at.is_not(None)),
            count_if(UrgeNotice.answered_late.is_(True)),
            count_if((UrgeNotice.responded_at.is_(None)) & (UrgeNotice.response_due < today)),
        ).where(UrgeNotice.issued_at >= lo, UrgeNotice.issued_at < hi)
        .group_by(UrgeNotice.unit_id)
    ).all()
    keys = ("blue", "yellow", "red", "answered", "answered_late", "unanswered_overdue")
    return {row[0]: dict(zip(keys, (int(v or 0) for v in row[1:]))) for row in rows}


def outbox_summary() -> dict[str, int]:
    """How many outbox messages are in each state (one query)."""
    rows = db.session.execute(
        select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(OutboxMessage.state)
    ).all()
    summary = {state.value: 0 for state in OutboxState}
    summary.update({state: count for state, count in rows})
    return summary


def outbox_problems(*, page: int = 1, per_page: int = 50) -> Page:
    """Failed messages and messages waiting for a retry after an error (two queries)."""
    where = [(OutboxMessage.state == OutboxState.FAILED)
             | ((OutboxMessage.state == OutboxState.PENDING) & OutboxMessage.last_error.is_not(None))]
    total = db.session.scalar(select(func.count(OutboxMessage.id)).where(*where)) or 0
    items = list(db.session.scalars(
        select(OutboxMessage).where(*where).order_by(OutboxMessage.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ))
    return Page(items, total, page, per_page)


def robots(unit_id: int | None = None, *, every_unit: bool = True) -> list[Robot]:
    """Robots with their units (one query): every robot, or one unit's only."""
    query = select(Robot).options(joinedload(Robot.unit)).order_by(Robot.unit_id.is_not(None),
                                                                   Robot.unit_id, Robot.id)
    if not every_unit:
        query = query.where(Robot.unit_id == unit_id)
    return list(db.session.scalars(query))


@dataclass
class RobotStatus:
    """A robot's outbox figures: waiting, failed, sent, and the latest problem."""

    waiting: int = 0
    failed: int = 0
    sent: int = 0
    last_error: str | None = None


def robot_status(robot_ids: list[int]) -> dict[int, RobotStatus]:
    """Outbox figures per robot (two queries)."""
    result = {robot_id: RobotStatus() for robot_id in robot_ids}
    if not robot_ids:
        return result
    rows = db.session.execute(
        select(OutboxMessage.robot_id, OutboxMessage.state, func.count(OutboxMessage.id))
        .where(OutboxMessage.robot_id.in_(robot_ids))
        .group_by(OutboxMessage.robot_id, OutboxMessage.state)
    ).all()
    for robot_id, state, count in rows:
        status = result[robot_id]
        if state in (OutboxState.PENDING, OutboxState.SENDING):
            status.waiting += count
        elif state == OutboxState.FAILED:
            status.failed += count
        else:
            status.sent += count
    latest = (select(OutboxMessage.robot_id, func.max(OutboxMessage.id).label("id"))
              .where(OutboxMessage.robot_id.in_(robot_ids), OutboxMessage.last_error.is_not(None),
                     OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.FAILED]))
              .group_by(OutboxMessage.robot_id).subquery())
    for robot_id, error in db.session.execute(
            select(OutboxMessage.robot_id, OutboxMessage.last_error)
            .join(latest, OutboxMessage.id == latest.c.id)):
        result[robot_id].last_error = error
    return result


def workday_overrides() -> list[WorkdayOverride]:
    """Every override, latest date first."""
    return list(db.session.scalars(select(WorkdayOverride).order_by(WorkdayOverride.day.desc())))


# ---------------------------------------------------------------- which calendar years are known


def entered_years_column():
    """The years the admin entered, as "2027,2028" (a scalar subquery loaded with the signed-in
    user, so the banner costs no query of its own)."""
    from sqlalchemy import String, cast

    return select(func.aggregate_strings(cast(CalendarYear.year, String), ",")).scalar_subquery()


def plan_first_year_column():
    """The first year of any plan (scalar subquery, loaded with the signed-in user)."""
    return select(func.min(Plan.start_year)).scalar_subquery()


def plan_last_year_column():
    """The last year of any plan (scalar subquery, loaded with the signed-in user)."""
    return select(func.max(Plan.end_year)).scalar_subquery()


def years_needed(first_plan_year: int | None, last_plan_year: int | None, today: date) -> tuple[int, int]:
    """The years the calendar must know: every plan year, and at least up to the year after
    today (deadlines of December reach into January)."""
    first = min(first_plan_year or today.year, today.year)
    last = max(last_plan_year or today.year, today.year + 1)
    return first, last


def parse_entered_years(value: str | None) -> set[int]:
    return {int(part) for part in (value or "").split(",") if part.strip().isdigit()}


def unknown_years_from(first: int, last: int, entered: set[int]) -> list[int]:
    """The years from first to last that neither the package nor the admin knows."""
    from taskflow.core.calendar import library_knows

    return [y for y in range(first, last + 1) if not library_knows(y) and y not in entered]


def unknown_plan_years(today: date) -> list[int]:
    """The years the plans (and the next year) need that nobody knows (two queries)."""
    first, last = db.session.execute(select(func.min(Plan.start_year), func.max(Plan.end_year))).one()
    first, last = years_needed(first, last, today)
    entered = set(db.session.scalars(select(CalendarYear.year)))
    return unknown_years_from(first, last, entered)


@dataclass
class YearStatus:
    """One year on the calendar page: who knows its arrangement."""

    year: int
    source: str  # "library", "notice" (entered by the admin) or "unknown"
    entry: CalendarYear | None


def calendar_years_status(today: date) -> list[YearStatus]:
    """Every year the plans need (and any year entered), with its source (three queries)."""
    from sqlalchemy.orm import joinedload

    from taskflow.core.calendar import library_knows

    first, last = db.session.execute(select(func.min(Plan.start_year), func.max(Plan.end_year))).one()
    first, last = years_needed(first, last, today)
    entries = {row.year: row for row in db.session.scalars(
        select(CalendarYear).options(joinedload(CalendarYear.entered_by)))}
    years = sorted(set(range(first, last + 1)) | set(entries))
    return [YearStatus(y, "notice" if y in entries else ("library" if library_knows(y) else "unknown"),
                       entries.get(y)) for y in years]
