"""Reads of the assignments area: every page loads in a fixed number of queries."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select, union_all
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload, selectinload

from taskflow.assignments.lights import (
    LightFacts,
    assignment_light,
    milestone_light,
    yellow_cutoff,
)
from taskflow.assignments.models import (
    CLOSED_STATES,
    WAITING_STATES,
    Assignment,
    AssignmentRole,
    ConsolidatedReport,
    Evidence,
    ExtensionRequest,
    ExtensionState,
    Milestone,
    MilestoneState,
    StatusUpdate,
    UpdateState,
    awaiting_office_clause,
)
from taskflow.core import calendar as work_calendar
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.measures import milestones as measures
from taskflow.plans.models import KeyTask, Section
from taskflow.units.models import Unit

# ---------------------------------------------------------------- lights


def assignment_light_facts(assignment_ids, today: date, cutoff: date) -> dict[int, LightFacts]:
    """Per assignment: milestone count, overdue, returned, due soon, next open due date."""
    return measures.light_facts(assignment_ids, today, cutoff)


def next_open_milestones(assignment_ids, today: date | None = None) -> dict[int, Milestone]:
    """The next open milestone of each assignment (one windowed query)."""
    today = today or clock.local_today()
    ids = list(assignment_ids)
    if not ids:
        return {}
    ranked = (
        select(
            Milestone.id.label("id"),
            func.row_number().over(
                partition_by=Milestone.assignment_id,
                order_by=(Milestone.due_date, Milestone.id),
            ).label("rank"),
        )
        .where(Milestone.assignment_id.in_(ids), measures.open_clause(today))
        .subquery()
    )
    milestones = db.session.scalars(
        select(Milestone).join(ranked, ranked.c.id == Milestone.id).where(ranked.c.rank == 1)
    ).all()
    return {m.assignment_id: m for m in milestones}


@dataclass
class AssignmentRow:
    """One line of the unit workspace."""

    assignment: Assignment
    light: str
    facts: LightFacts | None
    next_milestone: Milestone | None
    # Working days the next milestone is overdue (0 when it is not).
    overdue_days: int = 0


def light_context(today: date | None = None, cal=None) -> tuple[date, date]:
    """(today, last date counted as due soon)."""
    today = today or clock.local_today()
    return today, yellow_cutoff(today, cal=cal)


def workspace_rows(unit_id: int, today: date | None = None) -> list[AssignmentRow]:
    """The unit's assignments with lights and next milestone: four queries (one the calendar)."""
    cal = work_calendar.current()
    today, cutoff = light_context(today, cal)
    assignments = db.session.scalars(
        select(Assignment)
        .join(KeyTask, KeyTask.id == Assignment.task_id)
        .join(Section, Section.id == KeyTask.section_id)
        .where(Assignment.unit_id == unit_id)
        .options(joinedload(Assignment.task).joinedload(KeyTask.section))
        .order_by(Section.number, KeyTask.number, Assignment.id)
    ).unique().all()
    ids = [a.id for a in assignments]
    facts = assignment_light_facts(ids, today, cutoff)
    upcoming = next_open_milestones(ids, today)
    rows = []
    for a in assignments:
        nxt = upcoming.get(a.id)
        days = measures.working_days_overdue(nxt.due_date, today, cal) if nxt else 0
        rows.append(AssignmentRow(a, assignment_light(facts.get(a.id)), facts.get(a.id), nxt,
                                  days))
    return rows


def returned_updates(unit_id: int) -> list[StatusUpdate]:
    """The unit's returned reports still waiting to be resubmitted, with their reasons.

    The latest report of each of the unit's returned milestones: the aggregate is restricted to
    the unit's milestones first, so it reads that unit's rows, never the whole city's history.
    """
    latest = (
        select(func.max(StatusUpdate.id).label("id"))
        .join(Milestone, Milestone.id == StatusUpdate.milestone_id)
        .join(Assignment, Assignment.id == Milestone.assignment_id)
        .where(Assignment.unit_id == unit_id, Milestone.state == MilestoneState.RETURNED)
        .group_by(StatusUpdate.milestone_id)
        .subquery()
    )
    return db.session.scalars(
        select(StatusUpdate)
        .join(latest, latest.c.id == StatusUpdate.id)
        .where(StatusUpdate.state == UpdateState.RETURNED)
        .options(joinedload(StatusUpdate.milestone).joinedload(Milestone.assignment)
                 .joinedload(Assignment.task),
                 joinedload(StatusUpdate.reviewer))
        .order_by(StatusUpdate.reviewed_at.desc())
    ).unique().all()


def _update_options():
    return (
        joinedload(StatusUpdate.milestone).joinedload(Milestone.assignment)
        .joinedload(Assignment.task),
        joinedload(StatusUpdate.milestone).joinedload(Milestone.assignment)
        .joinedload(Assignment.unit),
        joinedload(StatusUpdate.author),
        selectinload(StatusUpdate.evidence),
    )


def sign_off_queue(unit_id: int) -> list[StatusUpdate]:
    """Submissions of a unit waiting for its head's sign-off, oldest first."""
    return db.session.scalars(
        select(StatusUpdate)
        .join(Milestone, Milestone.id == StatusUpdate.milestone_id)
        .join(Assignment, Assignment.id == Milestone.assignment_id)
        .where(Assignment.unit_id == unit_id, StatusUpdate.state == UpdateState.SUBMITTED,
               StatusUpdate.needs_sign_off.is_(True))
        .options(*_update_options())
        .order_by(StatusUpdate.created_at, StatusUpdate.id)
    ).unique().all()


QUEUE_STATES = ("waiting", "submitted", "signed_off", "returned", "accepted", "all")


def review_queue(*, task_id: int | None = None, unit_id: int | None = None,
                 state: str = "waiting", page: int = 1, per_page: int = 50):
    """Submissions for the office, oldest first, filtered by task, unit and state (paginated)."""
    query = (
        select(StatusUpdate)
        .join(Milestone, Milestone.id == StatusUpdate.milestone_id)
        .join(Assignment, Assignment.id == Milestone.assignment_id)
    )
    if state == "waiting":
        query = query.where(awaiting_office_clause())
    elif state in {s.value for s in UpdateState}:
        query = query.where(StatusUpdate.state == state)
    if task_id:
        query = query.where(Assignment.task_id == task_id)
    if unit_id:
        query = query.where(Assignment.unit_id == unit_id)
    query = query.options(*_update_options()).order_by(StatusUpdate.created_at, StatusUpdate.id)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def queue_filter_choices():
    """Tasks and units that have at least one submission (two small queries).

    A correlated EXISTS per task and per unit walks the foreign-key indexes and stops at the
    first report, instead of collecting the task and unit of every report in the city.
    """
    def has_reports(column, outer):
        return (select(StatusUpdate.id)
                .join(Milestone, Milestone.id == StatusUpdate.milestone_id)
                .join(Assignment, Assignment.id == Milestone.assignment_id)
                .where(column == outer)
                .exists())

    tasks = db.session.execute(
        select(KeyTask.id, KeyTask.number, KeyTask.title)
        .where(has_reports(Assignment.task_id, KeyTask.id))
        .order_by(KeyTask.number)
    ).all()
    units = db.session.execute(
        select(Unit.id, Unit.name)
        .where(has_reports(Assignment.unit_id, Unit.id))
        .order_by(Unit.sort_order, Unit.name)
    ).all()
    return tasks, units


def pending_extensions():
    """Extension requests waiting for the office, oldest first."""
    return db.session.scalars(
        select(ExtensionRequest)
        .where(ExtensionRequest.state == ExtensionState.PENDING)
        .options(joinedload(ExtensionRequest.milestone).joinedload(Milestone.assignment)
                 .joinedload(Assignment.unit),
                 joinedload(ExtensionRequest.milestone).joinedload(Milestone.assignment)
                 .joinedload(Assignment.task),
                 joinedload(ExtensionRequest.requested_by))
        .order_by(ExtensionRequest.created_at, ExtensionRequest.id)
    ).unique().all()


def pending_extension_count() -> int:
    """How many extension requests wait for the office."""
    return db.session.scalar(select(func.count(ExtensionRequest.id))
                             .where(ExtensionRequest.state == ExtensionState.PENDING)) or 0


def counts_for_nav(user) -> dict[str, int]:
    """Badges for the navigation: review queue size, sign-off queue size."""
    from taskflow.core.permissions import can_review, can_use_sign_off_queue

    counts = {}
    if can_review(user):
        counts["review"] = db.session.scalar(
            select(func.count(StatusUpdate.id)).where(awaiting_office_clause())) or 0
    if can_use_sign_off_queue(user):
        counts["sign_off"] = db.session.scalar(
            select(func.count(StatusUpdate.id))
            .join(Milestone, Milestone.id == StatusUpdate.milestone_id)
            .join(Assignment, Assignment.id == Milestone.assignment_id)
            .where(Assignment.unit_id == user.unit_id,
                   StatusUpdate.state == UpdateState.SUBMITTED,
                   StatusUpdate.needs_sign_off.is_(True))) or 0
    return counts


# ---------------------------------------------------------------- the assignment page


@dataclass
class AssignmentPage:
    """Everything the assignment page shows."""

    assignment: Assignment
    milestones: list[Milestone]
    lights: dict[int, str]
    light: str
    updates: list[StatusUpdate]
    extensions: list[ExtensionRequest]
    evidence: list[Evidence]
    timeline: list[tuple]
    team_updates: list[StatusUpdate]
    reports: list[ConsolidatedReport]
    # A lead's page shows the team's updates one page at a time (None for a responsible unit).
    team: Pagination | None = None
    overdue_days: dict[int, int] | None = None


def load_assignment(assignment_id: int) -> Assignment | None:
    """An assignment with its task and unit."""
    return db.session.scalars(
        select(Assignment).where(Assignment.id == assignment_id)
        .options(joinedload(Assignment.task), joinedload(Assignment.unit))
    ).first()


def assignment_page(assignment: Assignment, today: date | None = None, *,
                    team_page: int = 1) -> AssignmentPage:
    """Milestones with lights, updates with evidence and reviews, extensions, team updates."""
    cal = work_calendar.current()
    today, cutoff = light_context(today, cal)
    milestones = db.session.scalars(
        select(Milestone).where(Milestone.assignment_id == assignment.id)
        .order_by(Milestone.due_date, Milestone.id)
    ).all()
    lights = {m.id: milestone_light(m.state, m.due_date, today, cutoff) for m in milestones}
    overdue_days = {m.id: measures.working_days_overdue(m.due_date, today, cal)
                    for m in milestones if lights[m.id] == measures.RED}
    facts = assignment_light_facts([assignment.id], today, cutoff)
    updates = db.session.scalars(
        select(StatusUpdate).join(Milestone, Milestone.id == StatusUpdate.milestone_id)
        .where(Milestone.assignment_id == assignment.id)
        .options(joinedload(StatusUpdate.author), joinedload(StatusUpdate.reviewer),
                 joinedload(StatusUpdate.signed_off_by), joinedload(StatusUpdate.milestone),
                 selectinload(StatusUpdate.evidence))
        .order_by(StatusUpdate.created_at.desc(), StatusUpdate.id.desc())
    ).unique().all()
    extensions = db.session.scalars(
        select(ExtensionRequest).join(Milestone, Milestone.id == ExtensionRequest.milestone_id)
        .where(Milestone.assignment_id == assignment.id)
        .options(joinedload(ExtensionRequest.requested_by),
                 joinedload(ExtensionRequest.decided_by),
                 joinedload(ExtensionRequest.milestone))
        .order_by(ExtensionRequest.created_at.desc())
    ).unique().all()
    # A file kept on a resubmission is listed once (its first upload), not once per report.
    evidence = [item for update in updates for item in update.evidence
                if item.kept_from_id is None]
    timeline = build_timeline(updates, extensions)
    team = None
    reports: list[ConsolidatedReport] = []
    if assignment.role == AssignmentRole.LEAD:
        team = task_team_updates(assignment.task_id, page=team_page)
        reports = db.session.scalars(
            select(ConsolidatedReport).where(ConsolidatedReport.assignment_id == assignment.id)
            .options(joinedload(ConsolidatedReport.author),
                     selectinload(ConsolidatedReport.citations)
                     .joinedload(StatusUpdate.milestone).joinedload(Milestone.assignment)
                     .joinedload(Assignment.unit))
            .order_by(ConsolidatedReport.created_at.desc())
        ).unique().all()
    return AssignmentPage(assignment, list(milestones), lights,
                          assignment_light(facts.get(assignment.id)), list(updates),
                          list(extensions), evidence, timeline,
                          list(team.items) if team else [], list(reports), team, overdue_days)


def lead_unit_ids(task_id: int) -> set[int]:
    """The units leading a key task (one indexed query)."""
    return set(db.session.scalars(
        select(Assignment.unit_id).where(
            Assignment.task_id == task_id, Assignment.role == AssignmentRole.LEAD
        )
    ))


TEAM_PER_PAGE = 50


def task_team_updates(task_id: int, *, page: int = 1, per_page: int = TEAM_PER_PAGE):
    """Updates of a task's responsible units, newest first (what the lead unit reads), one page
    at a time: a pagination with .items, .total, .page, .pages (two queries)."""
    return db.paginate(
        select(StatusUpdate)
        .join(Milestone, Milestone.id == StatusUpdate.milestone_id)
        .join(Assignment, Assignment.id == Milestone.assignment_id)
        .where(Assignment.task_id == task_id, Assignment.role == AssignmentRole.RESPONSIBLE)
        .options(*_update_options())
        .order_by(StatusUpdate.created_at.desc(), StatusUpdate.id.desc()),
        page=max(page, 1), per_page=per_page, error_out=False,
    )


def team_updates_by_id(task_id: int, update_ids) -> list[StatusUpdate]:
    """Given updates of a task's responsible units (the ones a consolidated-report form cites),
    newest first; ids of other tasks or units are left out."""
    ids = sorted({int(i) for i in update_ids})
    if not ids:
        return []
    return db.session.scalars(
        select(StatusUpdate)
        .join(Milestone, Milestone.id == StatusUpdate.milestone_id)
        .join(Assignment, Assignment.id == Milestone.assignment_id)
        .where(StatusUpdate.id.in_(ids), Assignment.task_id == task_id,
               Assignment.role == AssignmentRole.RESPONSIBLE)
        .options(*_update_options())
        .order_by(StatusUpdate.created_at.desc(), StatusUpdate.id.desc())
    ).unique().all()


def build_timeline(updates, extensions) -> list[tuple]:
    """(time, kind, object) events: submissions, sign-offs, reviews, extension requests."""
    events = []
    for update in updates:
        events.append((update.created_at, "submitted", update))
        if update.signed_off_at and update.signed_off_by_id != update.author_id:
            events.append((update.signed_off_at, "signed_off", update))
        if update.reviewed_at:
            events.append((update.reviewed_at, update.state, update))
    for request in extensions:
        events.append((request.created_at, "extension_requested", request))
        if request.decided_at:
            events.append((request.decided_at, "extension_" + request.state, request))
    events.sort(key=lambda e: e[0], reverse=True)
    return events


def load_milestone(milestone_id: int) -> Milestone | None:
    """A milestone with its assignment, task and unit."""
    return db.session.scalars(
        select(Milestone).where(Milestone.id == milestone_id)
        .options(joinedload(Milestone.assignment).joinedload(Assignment.task),
                 joinedload(Milestone.assignment).joinedload(Assignment.unit))
    ).first()


@dataclass
class MilestoneFacts:
    """The measures the milestone page shows, as of today."""

    today: date
    light: str
    overdue_days: int
    closed_by: object = None


def milestone_facts(milestone: Milestone, today: date | None = None) -> MilestoneFacts:
    """Light and working days overdue of one milestone (one query for the calendar, one for the
    person who closed it off, if any)."""
    from taskflow.accounts.models import User

    cal = work_calendar.current()
    today, cutoff = light_context(today, cal)
    light = milestone_light(milestone.state, milestone.due_date, today, cutoff)
    days = (measures.working_days_overdue(milestone.due_date, today, cal)
            if light == measures.RED else 0)
    closed_by = (db.session.get(User, milestone.closed_by_id)
                 if milestone.closed_by_id else None)
    return MilestoneFacts(today, light, days, closed_by)


def milestone_history(milestone: Milestone):
    """(updates newest first with evidence, extension requests newest first)."""
    updates = db.session.scalars(
        select(StatusUpdate).where(StatusUpdate.milestone_id == milestone.id)
        .options(joinedload(StatusUpdate.author), joinedload(StatusUpdate.reviewer),
                 joinedload(StatusUpdate.signed_off_by), selectinload(StatusUpdate.evidence))
        .order_by(StatusUpdate.created_at.desc(), StatusUpdate.id.desc())
    ).unique().all()
    extensions = db.session.scalars(
        select(ExtensionRequest).where(ExtensionRequest.milestone_id == milestone.id)
        .options(joinedload(ExtensionRequest.requested_by),
                 joinedload(ExtensionRequest.decided_by))
        .order_by(ExtensionRequest.created_at.desc())
    ).unique().all()
    return list(updates), list(extensions)


def load_update(update_id: int) -> StatusUpdate | None:
    """A status update with its milestone, assignment, people and evidence."""
    return db.session.scalars(
        select(StatusUpdate).where(StatusUpdate.id == update_id)
        .options(*_update_options(), joinedload(StatusUpdate.reviewer),
                 joinedload(StatusUpdate.signed_off_by))
    ).unique().first()


def returned_report(milestone_id: int) -> StatusUpdate | None:
    """The milestone's latest report if it was returned (its files loaded), else None: the
    report whose files a resubmission keeps."""
    latest = db.session.scalars(
        select(StatusUpdate).where(StatusUpdate.milestone_id == milestone_id)
        .options(selectinload(StatusUpdate.evidence))
        .order_by(StatusUpdate.created_at.desc(), StatusUpdate.id.desc()).limit(1)
    ).first()
    return latest if latest is not None and latest.state == UpdateState.RETURNED else None


def load_evidence(evidence_id: int) -> Evidence | None:
    """An evidence file with the assignment it belongs to."""
    return db.session.scalars(
        select(Evidence).where(Evidence.id == evidence_id)
        .options(joinedload(Evidence.status_update).joinedload(StatusUpdate.milestone)
                 .joinedload(Milestone.assignment))
    ).first()


def load_extension(request_id: int) -> ExtensionRequest | None:
    """An extension request with its milestone and assignment."""
    return db.session.scalars(
        select(ExtensionRequest).where(ExtensionRequest.id == request_id)
        .options(joinedload(ExtensionRequest.milestone).joinedload(Milestone.assignment))
    ).first()


# ---------------------------------------------------------------- planning


def planning_tasks():
    """Every key task with its number of units and milestones (one aggregate query)."""
    from taskflow.plans.models import Plan

    units = (select(func.count(Assignment.id)).where(Assignment.task_id == KeyTask.id)
             .correlate(KeyTask).scalar_subquery())
    milestones = (select(func.count(Milestone.id)).join(Assignment)
                  .where(Assignment.task_id == KeyTask.id).correlate(KeyTask).scalar_subquery())
    signoff = (select(func.count(Assignment.id))
               .where(Assignment.task_id == KeyTask.id, Assignment.requires_sign_off.is_(True))
               .correlate(KeyTask).scalar_subquery())
    return db.session.execute(
        select(KeyTask, Plan.title.label("plan_title"), units.label("units"),
               milestones.label("milestones"), signoff.label("sign_off"))
        .join(Plan, Plan.id == KeyTask.plan_id)
        .order_by(Plan.level.desc(), Plan.id, KeyTask.number)
    ).all()


def task_assignments(task_id: int) -> list[Assignment]:
    """A task's assignments with their units and milestones, leads first."""
    return db.session.scalars(
        select(Assignment).where(Assignment.task_id == task_id)
        .options(joinedload(Assignment.unit), selectinload(Assignment.milestones))
        .order_by(case((Assignment.role == AssignmentRole.LEAD, 0), else_=1), Assignment.id)
    ).unique().all()


def reported_counts(assignment_ids) -> dict[int, int]:
    """{assignment id: records the unit filed on it} for those with any (one query).

    The removal rule: a unit that has filed anything on a task (a status update, an extension
    request, a consolidated report) has history to keep and cannot be taken off it. The planning
    page and operations.remove_assignment both read this."""
    ids = list(assignment_ids)
    if not ids:
        return {}
    filed = union_all(
        select(Milestone.assignment_id.label("assignment_id"))
        .join(StatusUpdate, StatusUpdate.milestone_id == Milestone.id)
        .where(Milestone.assignment_id.in_(ids)),
        select(Milestone.assignment_id.label("assignment_id"))
        .join(ExtensionRequest, ExtensionRequest.milestone_id == Milestone.id)
        .where(Milestone.assignment_id.in_(ids)),
        select(ConsolidatedReport.assignment_id.label("assignment_id"))
        .where(ConsolidatedReport.assignment_id.in_(ids)),
    ).subquery()
    rows = db.session.execute(
        select(filed.c.assignment_id, func.count()).group_by(filed.c.assignment_id)
    ).all()
    return {assignment_id: int(count) for assignment_id, count in rows}


def plan_units(plan_id: int) -> list[Unit]:
    """The units of a plan, in directory order."""
    return db.session.scalars(
        select(Unit).where(Unit.plan_id == plan_id).order_by(Unit.sort_order, Unit.name)
    ).all()


# ---------------------------------------------------------------- the lead unit's overview

# Where a responsible unit stands on one milestone, as its lead unit sees it (已报送 / 未报送 /
# 已退回). The only definition: the page, its counts and the reminder read these. Reported: a
# report is on record and not sent back — waiting for the unit head or the office, accepted
# below 100 % (in progress for the rest), or closed (办结 / 销号).
LEAD_REPORTED = "reported"
LEAD_NOT_REPORTED = "not_reported"
LEAD_RETURNED = "returned"
LEAD_STATUSES = (LEAD_NOT_REPORTED, LEAD_RETURNED, LEAD_REPORTED)
LEAD_REPORTED_STATES = WAITING_STATES | CLOSED_STATES | {MilestoneState.IN_PROGRESS}


def lead_status(state: str) -> str:
    """A milestone state as the lead unit reads it."""
    if state == MilestoneState.RETURNED:
        return LEAD_RETURNED
    if state in LEAD_REPORTED_STATES:
        return LEAD_REPORTED
    return LEAD_NOT_REPORTED


def lead_status_column():
    """lead_status() in SQL (same sets)."""
    return case((Milestone.state == MilestoneState.RETURNED, LEAD_RETURNED),
                (Milestone.state.in_([str(s) for s in LEAD_REPORTED_STATES]), LEAD_REPORTED),
                else_=LEAD_NOT_REPORTED)


def remindable(state: str) -> bool:
    """The lead unit can remind a unit that has not reported, or whose report came back."""
    return lead_status(state) != LEAD_REPORTED


@dataclass
class LeadRow:
    """One responsible unit's milestone of a period."""

    milestone: Milestone
    unit: Unit
    status: str
    light: str
    reminded_today: bool


@dataclass
class LeadPeriod:
    """A milestone period of the task (the responsible units' milestones of the same original due
    date and title): its counts per status (aggregate SQL) and the rows shown."""

    due: date
    title: str
    counts: dict[str, int]
    rows: list[LeadRow]

    @property
    def key(self) -> str:
        return self.due.isoformat()


@dataclass
class QuarterCover:
    """A quarter of the plan up to now, and the lead unit's consolidated reports covering it."""

    year: int
    quarter: int
    reports: list[ConsolidatedReport]
    current: bool

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.quarter}"


@dataclass
class LeadOverview:
    """Everything the lead unit's page shows."""

    task: KeyTask
    periods: list[LeadPeriod]
    quarters: list[QuarterCover]
    lead_assignments: list[Assignment]
    unfiled: list[ConsolidatedReport]
    today: date


def plan_quarters(start_year: int, end_year: int, today: date) -> list[tuple[int, int]]:
    """The plan's quarters from its first through today's (none after the plan's end)."""
    last = min(work_calendar.quarter_of(today), (end_year, 4))
    return [(year, quarter) for year in range(start_year, end_year + 1)
            for quarter in range(1, 5) if (year, quarter) <= last]


def lead_overview(task: KeyTask, *, lead_unit_id: int | None = None, due: date | None = None,
                  status: str | None = None, today: date | None = None) -> LeadOverview:
    """Per milestone period, each responsible unit as reported / not reported / returned, with
    the counts per status, and the lead units' consolidated reports by quarter.

    `due` and `status` narrow the rows (the list behind a count, with as many rows as it says);
    the counts are always the period's. A fixed number of queries whatever the units and periods:
    the calendar, the counts, the rows, today's reminders, the lead assignments, their reports.
    `lead_unit_id`: the quarters are of that lead unit's reports (every lead unit's when None).
    """
    from taskflow.notices.operations import existing_claims
    from taskflow.plans.models import Plan

    cal = work_calendar.current()
    today, cutoff = light_context(today, cal)
    responsible = (Assignment.task_id == task.id,
                   Assignment.role == AssignmentRole.RESPONSIBLE)
    status_col = lead_status_column()
    count_rows = db.session.execute(
        select(Milestone.original_due_date, Milestone.title, status_col.label("status"),
               func.count(Milestone.id))
        .join(Assignment, Assignment.id == Milestone.assignment_id)
        .where(*responsible)
        .group_by(Milestone.original_due_date, Milestone.title, status_col)
    ).all()
    periods: dict[tuple[date, str], LeadPeriod] = {}
    for row_due, title, row_status, count in count_rows:
        period = periods.setdefault((row_due, title), LeadPeriod(
            row_due, title, {s: 0 for s in LEAD_STATUSES}, []))
        period.counts[row_status] = int(count)
    query = (
        select(Milestone, Unit)
        .join(Assignment, Assignment.id == Milestone.assignment_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(*responsible)
        .order_by(Milestone.original_due_date, Milestone.title, Unit.sort_order, Unit.name,
                  Milestone.id)
    )
    if due is not None:
        query = query.where(Milestone.original_due_date == due)
    if status in LEAD_STATUSES:
        query = query.where(status_col == status)
    rows = db.session.execute(query).all()
    reminded = {item_id for item_id, kind, period in existing_claims(
        "milestone", [m.id for m, _u in rows]) if kind == LEAD_REMIND_KIND
        and period == today.isoformat()}
    for milestone, unit in rows:
        period = periods.get((milestone.original_due_date, milestone.title))
        if period is None:  # changed between the two reads: counted on the next load
            continue
        period.rows.append(LeadRow(
            milestone, unit, lead_status(milestone.state),
            milestone_light(milestone.state, milestone.due_date, today, cutoff),
            milestone.id in reminded))
    lead_where = [Assignment.task_id == task.id, Assignment.role == AssignmentRole.LEAD]
    if lead_unit_id is not None:
        lead_where.append(Assignment.unit_id == lead_unit_id)
    leads = db.session.scalars(
        select(Assignment).where(*lead_where).options(joinedload(Assignment.unit))
        .order_by(Assignment.id)
    ).unique().all()
    reports = db.session.scalars(
        select(ConsolidatedReport)
        .where(ConsolidatedReport.assignment_id.in_([a.id for a in leads]))
        .options(joinedload(ConsolidatedReport.author))
        .order_by(ConsolidatedReport.created_at, ConsolidatedReport.id)
    ).unique().all() if leads else []
    plan = db.session.get(Plan, task.plan_id)
    by_quarter: dict[tuple[int, int], list[ConsolidatedReport]] = {}
    unfiled = []
    for report in reports:
        if report.quarter_year and report.quarter:
            by_quarter.setdefault((report.quarter_year, report.quarter), []).append(report)
        else:
            unfiled.append(report)
    current = work_calendar.quarter_of(today)
    listed = plan_quarters(plan.start_year, plan.end_year, today)
    quarters = [QuarterCover(y, q, by_quarter.get((y, q), []), (y, q) == current)
                for y, q in listed]
    shown = set(listed)
    unfiled += [r for key, group in by_quarter.items() if key not in shown for r in group]
    return LeadOverview(task, sorted(periods.values(), key=lambda p: (p.due, p.title)),
                        quarters, list(leads), unfiled, today)


# The claim kind of a lead unit's reminder (notices.operations.claim): once a day per milestone.
LEAD_REMIND_KIND = "lead_remind"
