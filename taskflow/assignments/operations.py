"""Every write of the assignments area: planning, reporting, sign-off, review, extensions.

Each function changes objects in the current session, records an audit event with before/after,
and flushes; the caller (a view or a job) commits once. A request that cannot be carried out
raises ReportingError with a message for the user, before anything is changed.
"""

from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select

from taskflow.assignments.models import (
    REPORTABLE_STATES,
    WAITING_STATES,
    Assignment,
    AssignmentRole,
    ConsolidatedReport,
    Evidence,
    ExtensionRequest,
    ExtensionState,
    Milestone,
    MilestoneState,
    ReturnReason,
    StatusUpdate,
    UpdateState,
)
from taskflow.assignments.queries import reported_counts
from taskflow.core import audit, clock
from taskflow.core.audit import snapshot
from taskflow.core.calendar import quarter_of
from taskflow.core.errors import EditConflict, Refusal
from taskflow.core.permissions import can_sign_off
from taskflow.extensions import db
from taskflow.measures import milestones as measures

MILESTONE_FIELDS = ("title", "due_date", "original_due_date", "weight", "required_evidence",
                    "state", "progress", "accepted_progress", "completed_on", "days_late")
CLOSURE_FIELDS = ("state", "progress", "accepted_progress", "completed_on", "days_late",
                  "closed_by_id", "closure_reason")
UPDATE_FIELDS = ("state", "reviewer_id", "reviewed_at", "reason_code", "comment",
                 "signed_off_by_id", "signed_off_at")


class ReportingError(Refusal):
    """A request that cannot be carried out; str(error) is the message for the user."""


class StaleEdit(EditConflict):
    """Someone else saved the milestone since the form was loaded; names who and when (the
    edit form shows that person's version under the user's input)."""

    def __init__(self, milestone: Milestone):
        who = milestone_editor_name(milestone)
        when = clock.to_local(milestone.updated_at)
        super().__init__(_("This milestone was changed by %(who)s at %(when)s. Please reload and "
                           "try again.", who=who, when=when.strftime("%Y-%m-%d %H:%M")))
        self.milestone = milestone


def milestone_editor_name(milestone: Milestone) -> str:
    """Who last changed a milestone, for messages."""
    from taskflow.accounts.models import User

    if milestone.updated_by_id is None:
        return _("the system")
    user = db.session.get(User, milestone.updated_by_id)
    return (user.display_name or user.username) if user else _("the system")


def _touch(milestone: Milestone, actor) -> None:
    milestone.updated_at = clock.utcnow()
    milestone.updated_by_id = getattr(actor, "id", None)


# ---------------------------------------------------------------- inbox items


def milestone_link(milestone: Milestone) -> str:
    """The page an inbox item about a milestone opens (notices.links decides which)."""
    from taskflow.notices import links

    return links.milestone_path({"id": milestone.id, "assignment_id": milestone.assignment_id})


def _milestone_params(milestone: Milestone) -> dict:
    assignment = milestone.assignment
    return {"milestone_id": milestone.id, "milestone": milestone.title,
            "task": assignment.task.title, "unit": assignment.unit.name,
            "due_date": milestone.due_date.isoformat()}


def _tell_unit(milestone: Milestone, kind: str, params: dict, actor, *, event_key: str,
               also=()) -> list:
    """One inbox item for each of the milestone's unit's reporters and heads, and for `also`
    (the reporter who filed the report, the person who asked), never for the actor himself.
    In the caller's transaction: the item exists exactly when the change it tells of commits."""
    from taskflow.notices.operations import notify, unit_users

    unit_id = milestone.assignment.unit_id
    people = [u for u in also if u is not None and u.active] + unit_users([unit_id])[unit_id]
    actor_id = getattr(actor, "id", None)
    return notify([u for u in people if u.id != actor_id], kind,
                  {**_milestone_params(milestone), **params}, milestone_link(milestone),
                  event_key=event_key)


def _acted_on(milestone: Milestone, actor) -> None:
    """The unit reported (or asked for more time) on the milestone: the actor's unread inbox items
    about it — due and overdue reminders, a return, a lead's reminder, the month's update
    request of the assignment — are read now."""
    from taskflow.notices import links
    from taskflow.notices.operations import mark_read_about

    mark_read_about(actor, links=[
        milestone_link(milestone),
        links.build_path("assignments.assignment_detail", assignment_id=milestone.assignment_id),
    ])


# ---------------------------------------------------------------- planning (the office)


def add_assignment(task, unit, role: str, actor) -> Assignment:
    """Give a key task to a unit as lead or responsible unit."""
    if role not in {r.value for r in AssignmentRole}:
        raise ReportingError(_("Unknown role."))
    if unit.plan_id != task.plan_id:
        raise ReportingError(_("%(unit)s is not a unit of this plan.", unit=unit.name))
    existing = db.session.scalar(
        select(Assignment).where(Assignment.task_id == task.id, Assignment.unit_id == unit.id)
    )
    if existing is not None:
        raise ReportingError(_("%(unit)s is already assigned to this task.", unit=unit.name))
    assignment = Assignment(task_id=task.id, unit_id=unit.id, role=role, added_by_office=True)
    db.session.add(assignment)
    db.session.flush()
    audit.record(actor, "assignment.add", assignment,
                 after={"task_id": task.id, "unit": unit.name, "role": role},
                 summary=f"{task.title} + {unit.name} ({role})")
    return assignment


def remove_assignment(assignment: Assignment, actor) -> None:
    """Take a unit off a task; refused once the unit has reported on it (history is kept)."""
    count = reported_counts([assignment.id]).get(assignment.id, 0)
    if count:
        raise ReportingError(_(
            "%(unit)s has already reported on this task (%(count)s records), so it cannot be "
            "removed: its history must be kept.", unit=assignment.unit.name, count=count))
    before = {"task_id": assignment.task_id, "unit": assignment.unit.name,
              "role": assignment.role, "milestones": len(assignment.milestones)}
    audit.record(actor, "assignment.remove", assignment, before=before,
                 summary=f"{assignment.task.title} - {assignment.unit.name}")
    db.session.delete(assignment)
    db.session.flush()


def set_requires_sign_off(assignments, value: bool, actor) -> int:
    """Ask (or stop asking) for the unit head's sign-off on these assignments; returns changes."""
    changed = 0
    for assignment in assignments:
        if assignment.requires_sign_off == value:
            continue
        before = snapshot(assignment, "requires_sign_off")
        assignment.requires_sign_off = value
        audit.record(actor, "assignment.sign_off_rule", assignment, before=before,
                     after=snapshot(assignment, "requires_sign_off"))
        changed += 1
    db.session.flush()
    return changed


QUARTER_END = {1: (3, 31), 2: (6, 30), 3: (9, 30), 4: (12, 31)}
HALF_END = {1: (6, 30), 2: (12, 31)}


def milestone_schedule(start_year: int, end_year: int, frequency: str) -> list[tuple[str, date]]:
    """(title, due date) for each period: quarterly, half-yearly or yearly.

    Titles are plan data in the plan's language (Chinese), whatever the interface language.
    """
    if start_year > end_year:
        raise ReportingError(_("The first year must not be after the last year."))
    if end_year - start_year > 20:
        raise ReportingError(_("At most 20 years at once."))
    schedule = []
    for year in range(start_year, end_year + 1):
        if frequency == "quarterly":
            for quarter, (month, day) in QUARTER_END.items():
                schedule.append((f"{year}年第{quarter}季度进展", date(year, month, day)))
        elif frequency == "half_yearly":
            for half, (month, day) in HALF_END.items():
                schedule.append((f"{year}年{'上' if half == 1 else '下'}半年进展",
                                 date(year, month, day)))
        elif frequency == "yearly":
            schedule.append((f"{year}年度进展", date(year, 12, 31)))
        else:
            raise ReportingError(_("Unknown frequency."))
    return schedule


def generate_milestones(task, *, start_year: int, end_year: int, frequency: str,
                        required_evidence: str, weight: Decimal, actor,
                        not_before: date | None = None) -> tuple[int, int]:
    """Milestones for every assignment of a task; running it again adds nothing twice.

    A period is skipped for an assignment that already has a milestone with the same title or the
    same original due date. With not_before, periods ending before that date are left out (and
    not counted). Returns (created, skipped).
    """
    schedule = milestone_schedule(start_year, end_year, frequency)
    if not_before is not None:
        schedule = [(title, due) for title, due in schedule if due >= not_before]
    assignments = db.session.scalars(
        select(Assignment).where(Assignment.task_id == task.id).order_by(Assignment.id)
    ).all()
    if not assignments:
        raise ReportingError(_("This task has no units yet: add units first."))
    existing = db.session.execute(
        select(Milestone.assignment_id, Milestone.title, Milestone.original_due_date)
        .join(Assignment).where(Assignment.task_id == task.id)
    ).all()
    titles = {(row.assignment_id, row.title) for row in existing}
    dates = {(row.assignment_id, row.original_due_date) for row in existing}
    created = skipped = 0
    now = clock.utcnow()
    for assignment in assignments:
        for title, due in schedule:
            if (assignment.id, title) in titles or (assignment.id, due) in dates:
                skipped += 1
                continue
            db.session.add(Milestone(
                assignment_id=assignment.id, title=title, due_date=due, original_due_date=due,
                weight=weight, required_evidence=required_evidence,
                state=MilestoneState.PENDING, progress=0, updated_at=now,
                updated_by_id=getattr(actor, "id", None),
            ))
            created += 1
    db.session.flush()
    audit.record(actor, "milestone.generate", task, object_type="key_tasks",
                 after={"start_year": start_year, "end_year": end_year, "frequency": frequency,
                        "created": created, "skipped": skipped},
                 summary=f"{task.title}: {created} milestones")
    return created, skipped


def edit_milestone(milestone: Milestone, *, expected_version: int, title: str, due_date: date,
                   weight: Decimal, required_evidence: str, actor) -> Milestone:
    """Change a milestone's plan; StaleEdit when someone saved it after the form was loaded.

    The due date edits the planned (original) date too, unless an extension was granted: then
    only the current due date moves and the original stays, so lateness is still counted from it.
    """
    if milestone.version_id != expected_version:
        raise StaleEdit(milestone)
    before = snapshot(milestone, *MILESTONE_FIELDS)
    extended = milestone.due_date != milestone.original_due_date
    milestone.title = title
    milestone.weight = weight
    milestone.required_evidence = required_evidence
    if due_date != milestone.due_date:
        milestone.due_date = due_date
        if not extended:
            milestone.original_due_date = due_date
    _touch(milestone, actor)
    db.session.flush()
    audit.record(actor, "milestone.edit", milestone, before=before,
                 after=snapshot(milestone, *MILESTONE_FIELDS), summary=milestone.title)
    return milestone


# ---------------------------------------------------------------- reporting (the unit)


def _evidence_from(validated, blob, update: StatusUpdate, actor) -> Evidence:
    return Evidence(
        status_update=update,
        original_name=validated.safe_display_name,
        size=blob.size,
        detected_type=validated.detected_type,
        content_type=validated.content_type,
        sha256=blob.sha256,
        storage_key=blob.storage_key,
        uploaded_by_id=actor.id,
        uploaded_at=clock.utcnow(),
    )


def check_report(milestone: Milestone, *, progress: int, narrative: str) -> None:
    """Refuse (ReportingError) a report the milestone cannot take; reads only, changes nothing.
    The view asks before storing any file; submit_update asks again in its write transaction."""
    if measures.is_closed_state(milestone.state):
        raise ReportingError(_("This milestone is closed; nothing more to report."))
    if milestone.state not in REPORTABLE_STATES:
        raise ReportingError(_("A report on this milestone is already waiting for review."))
    if not 0 <= progress <= 100:
        raise ReportingError(_("Progress must be between 0 and 100."))
    if progress < milestone.accepted_progress:
        raise ReportingError(_("The office has already accepted %(pct)s%% progress: report at "
                               "least that much.", pct=milestone.accepted_progress))
    if not narrative.strip():
        raise ReportingError(_("Describe the progress made."))


def submit_update(milestone: Milestone, actor, *, progress: int, narrative: str, problems: str,
                  next_steps: str, files=(), stored=(), returned: StatusUpdate | None = None,
                  removed_ids=frozenset()) -> StatusUpdate:
    """A unit reports on a milestone, with evidence files (already validated).

    `stored`: (ValidatedUpload, StoredBlob) pairs the caller already wrote (an UploadBatch, so
    the write transaction stays short; the caller discards them if this transaction fails).
    `files`: ValidatedUploads written here by core.storage, fsynced before the caller commits
    and removed again if the commit fails. Where the assignment asks for the unit head's
    sign-off, the update waits for it (a unit head's own submission counts as signed off).
    `returned`: the milestone's returned report, whose files the new one keeps except those in
    `removed_ids` (see keep_evidence).
    """
    from taskflow.core.storage import store

    check_report(milestone, progress=progress, narrative=narrative)
    if returned is not None and (returned.milestone_id != milestone.id
                                 or returned.state != UpdateState.RETURNED):
        raise ReportingError(_("Only the files of this milestone's returned report can be kept."))
    assignment = milestone.assignment
    before = snapshot(milestone, "state", "progress")
    now = clock.utcnow()
    update = StatusUpdate(
        milestone=milestone, author_id=actor.id, progress=progress, narrative=narrative.strip(),
        problems=problems.strip(), next_steps=next_steps.strip(), created_at=now,
        state=UpdateState.SUBMITTED, needs_sign_off=assignment.requires_sign_off, comment="",
    )
    if assignment.requires_sign_off and can_sign_off(actor, assignment):
        update.state = UpdateState.SIGNED_OFF
        update.signed_off_by_id = actor.id
        update.signed_off_at = now
    db.session.add(update)
    for validated, blob in stored:
        db.session.add(_evidence_from(validated, blob, update, actor))
    for validated in files:
        blob = store(validated, session=db.session)
        db.session.add(_evidence_from(validated, blob, update, actor))
    if returned is not None:
        keep_evidence(returned, update, actor, removed_ids=removed_ids)
    milestone.state = (MilestoneState.SIGNED_OFF if update.state == UpdateState.SIGNED_OFF
                       else MilestoneState.SUBMITTED)
    milestone.progress = progress
    _touch(milestone, actor)
    db.session.flush()
    _acted_on(milestone, actor)
    audit.record(actor, "status_update.submit", update,
                 before={"milestone": before},
                 after={"milestone": snapshot(milestone, "state", "progress"),
                        "update": snapshot(update, "state", "progress", "needs_sign_off"),
                        "evidence": [e.original_name for e in update.evidence]},
                 summary=milestone.title)
    return update


def keep_evidence(returned: StatusUpdate, update: StatusUpdate, actor, *,
                  removed_ids=frozenset()) -> list[Evidence]:
    """A resubmission keeps the returned report's files, except those the reporter removed.

    Each kept file gets a new row on the new report pointing at the same stored file
    (`kept_from_id` names the row it copies): the returned report keeps its own list, the new
    report has its own, no byte is stored twice, and no stored file is overwritten or deleted
    (a removed file stays on the returned report). Records one audit event with both lists."""
    kept, removed = [], []
    for source in returned.evidence:
        if source.id in removed_ids:
            removed.append(source)
            continue
        kept.append(Evidence(
            status_update=update, original_name=source.original_name, size=source.size,
            detected_type=source.detected_type, content_type=source.content_type,
            sha256=source.sha256, storage_key=source.storage_key,
            uploaded_by_id=source.uploaded_by_id, uploaded_at=source.uploaded_at,
            kept_from_id=source.id))
    db.session.add_all(kept)
    if returned.evidence:
        db.session.flush()
        audit.record(actor, "evidence.keep", update,
                     before={"returned_update": returned.id,
                             "evidence": [e.original_name for e in returned.evidence]},
                     after={"kept": [e.original_name for e in kept],
                            "removed": [e.original_name for e in removed]},
                     summary=update.milestone.title)
    return kept


def sign_off_update(update: StatusUpdate, actor, *, approve: bool, reason_code: str | None = None,
                    comment: str = "") -> StatusUpdate:
    """The unit head passes a submission on to the office, or returns it to the reporter."""
    if not update.awaiting_sign_off:
        raise ReportingError(_("This report is not waiting for sign-off (it may have been "
                               "handled already)."))
    if approve:
        return _transition(update, actor, UpdateState.SIGNED_OFF, MilestoneState.SIGNED_OFF,
                           "status_update.sign_off", comment=comment)
    return _return(update, actor, reason_code, comment, "status_update.sign_off_return")


def review_update(update: StatusUpdate, actor, *, accept: bool, reason_code: str | None = None,
                  comment: str = "") -> StatusUpdate:
    """The office accepts a submission or returns it with a reason.

    Accepting records the accepted progress. Only a 100 % report closes the milestone (办结):
    its closure date is the local date of the acceptance and its lateness the working days from
    the original due date to the date the accepted report was submitted (an extension never erases
    it; the office's review time is not the unit's lateness). Below 100 % the milestone stays open
    ("in progress") for the unit to report the rest.
    """
    if not update.awaiting_office:
        raise ReportingError(_("This report is not waiting for review (it may have been "
                               "handled already)."))
    if not accept:
        return _return(update, actor, reason_code, comment, "status_update.return")
    milestone = update.milestone
    before = snapshot(milestone, *CLOSURE_FIELDS)
    milestone.accepted_progress = update.progress
    milestone.progress = update.progress
    if update.progress >= 100:
        submitted_on = clock.to_local(update.created_at).date()
        milestone.completed_on = clock.local_today()
        milestone.days_late = measures.lateness_working_days(milestone.original_due_date,
                                                             submitted_on)
        milestone_state = MilestoneState.ACCEPTED
    else:
        milestone_state = MilestoneState.IN_PROGRESS
    _transition(update, actor, UpdateState.ACCEPTED, milestone_state,
                "status_update.accept", comment=comment, milestone_before=before)
    _tell_unit(milestone, "report_accepted",
               {"update_id": update.id, "progress": update.progress}, actor,
               event_key=f"update:{update.id}:accepted", also=[update.author])
    return update


def close_milestone(milestone: Milestone, actor, *, expected_version: int,
                    reason: str) -> Milestone:
    """The office closes a milestone off (销号) with a written reason, whatever its progress.

    StaleEdit when the milestone changed since the form was loaded. The closure date is today;
    the lateness is the working days from the original due date to today (0 when closed before
    it). A report still waiting for sign-off or review stays on record as it is.
    """
    if milestone.version_id != expected_version:
        raise StaleEdit(milestone)
    if measures.is_closed_state(milestone.state):
        raise ReportingError(_("This milestone is already closed."))
    if milestone.state in WAITING_STATES:
        raise ReportingError(_("A report on this milestone is waiting for sign-off or review: "
                               "review it first."))
    reason = (reason or "").strip()
    if not reason:
        raise ReportingError(_("Give the reason for closing this milestone off."))
    before = snapshot(milestone, *CLOSURE_FIELDS)
    today = clock.local_today()
    milestone.state = MilestoneState.CLOSED
    milestone.completed_on = today
    milestone.days_late = measures.lateness_working_days(milestone.original_due_date, today)
    milestone.closed_by_id = actor.id
    milestone.closure_reason = reason
    _touch(milestone, actor)
    db.session.flush()
    audit.record(actor, "milestone.close_off", milestone, before=before,
                 after=snapshot(milestone, *CLOSURE_FIELDS), summary=milestone.title)
    return milestone


def _return(update, actor, reason_code, comment, action):
    if reason_code not in {r.value for r in ReturnReason}:
        raise ReportingError(_("Choose the reason for returning the report."))
    if not comment.strip():
        raise ReportingError(_("Say what the unit should correct."))
    _transition(update, actor, UpdateState.RETURNED, MilestoneState.RETURNED, action,
                reason_code=reason_code, comment=comment)
    _tell_unit(update.milestone, "report_returned",
               {"update_id": update.id, "reason": reason_code, "comment": update.comment,
                "by": "head" if action == "status_update.sign_off_return" else "office"},
               actor, event_key=f"update:{update.id}:returned", also=[update.author])
    return update


def _transition(update: StatusUpdate, actor, update_state: str, milestone_state: str,
                action: str, *, reason_code: str | None = None, comment: str = "",
                milestone_before: dict | None = None) -> StatusUpdate:
    milestone = update.milestone
    before = {"update": snapshot(update, *UPDATE_FIELDS),
              "milestone": milestone_before or snapshot(milestone, "state")}
    now = clock.utcnow()
    update.state = update_state
    if action == "status_update.sign_off":
        update.signed_off_by_id = actor.id
        update.signed_off_at = now
        if comment.strip():
            update.comment = comment.strip()
    else:
        update.reviewer_id = actor.id
        update.reviewed_at = now
        update.reason_code = reason_code
        update.comment = comment.strip()
    milestone.state = milestone_state
    _touch(milestone, actor)
    db.session.flush()
    audit.record(actor, action, update, before=before,
                 after={"update": snapshot(update, *UPDATE_FIELDS),
                        "milestone": snapshot(milestone, "state", "progress", "accepted_progress",
                                              "completed_on", "days_late")},
                 summary=milestone.title)
    return update


# ---------------------------------------------------------------- extensions


def request_extension(milestone: Milestone, actor, *, requested_due_date: date, reason: str,
                      today: date | None = None) -> ExtensionRequest:
    """Ask for a later due date; only before the due date has passed, with a reason."""
    today = today or clock.local_today()
    if measures.is_closed_state(milestone.state):
        raise ReportingError(_("This milestone is closed; it needs no extension."))
    if today > milestone.due_date:
        raise ReportingError(_(
            "The due date (%(due)s) has passed: an extension must be requested before the due "
            "date.", due=milestone.due_date.isoformat()))
    if requested_due_date <= milestone.due_date:
        raise ReportingError(_("The new date must be later than the current due date "
                               "(%(due)s).", due=milestone.due_date.isoformat()))
    if not reason.strip():
        raise ReportingError(_("Give the reason for the extension."))
    pending = db.session.scalar(
        select(ExtensionRequest.id).where(ExtensionRequest.milestone_id == milestone.id,
                                          ExtensionRequest.state == ExtensionState.PENDING)
    )
    if pending is not None:
        raise ReportingError(_("An extension request for this milestone is already waiting for "
                               "a decision."))
    request = ExtensionRequest(
        milestone_id=milestone.id, requested_by_id=actor.id, reason=reason.strip(),
        current_due_date=milestone.due_date, requested_due_date=requested_due_date,
        created_at=clock.utcnow(), state=ExtensionState.PENDING, comment="",
    )
    db.session.add(request)
    db.session.flush()
    _acted_on(milestone, actor)
    audit.record(actor, "extension.request", request,
                 after=snapshot(request, "milestone_id", "current_due_date",
                                "requested_due_date", "reason", "state"),
                 summary=milestone.title)
    return request


def decide_extension(request: ExtensionRequest, actor, *, grant: bool,
                     comment: str = "") -> ExtensionRequest:
    """The office grants (the due date moves, the original stays) or refuses with a comment."""
    if request.state != ExtensionState.PENDING:
        raise ReportingError(_("This extension request has already been decided."))
    if not grant and not comment.strip():
        raise ReportingError(_("Say why the extension is refused."))
    milestone = request.milestone
    before = {"request": snapshot(request, "state", "comment"),
              "milestone": snapshot(milestone, "due_date", "original_due_date")}
    request.state = ExtensionState.GRANTED if grant else ExtensionState.REFUSED
    request.decided_by_id = actor.id
    request.decided_at = clock.utcnow()
    request.comment = comment.strip()
    if grant:
        milestone.due_date = request.requested_due_date
        _touch(milestone, actor)
    db.session.flush()
    _tell_unit(milestone, "extension_granted" if grant else "extension_refused",
               {"extension_id": request.id,
                "previous_due_date": request.current_due_date.isoformat(),
                "requested_due_date": request.requested_due_date.isoformat(),
                "comment": request.comment}, actor,
               event_key=f"extension:{request.id}:decided", also=[request.requested_by])
    audit.record(actor, "extension.grant" if grant else "extension.refuse", request,
                 before=before,
                 after={"request": snapshot(request, "state", "comment"),
                        "milestone": snapshot(milestone, "due_date", "original_due_date")},
                 summary=milestone.title)
    return request


# ---------------------------------------------------------------- consolidated reports


def write_consolidated_report(assignment: Assignment, actor, *, title: str, body: str,
                              cited_update_ids,
                              quarter: tuple[int, int] | None = None) -> ConsolidatedReport:
    """A lead unit's report on its task for one quarter, citing updates of the task's
    responsible units.

    `quarter` (year, 1..4) is the quarter it covers: within the plan's years and begun by today.
    Without one (imports, older callers), the quarter of the latest original due date among the
    cited milestones, else today's quarter."""
    if assignment.role != AssignmentRole.LEAD:
        raise ReportingError(_("Only a lead unit writes a consolidated report."))
    if not title.strip() or not body.strip():
        raise ReportingError(_("Give the report a title and a text."))
    if quarter is not None:
        from taskflow.plans.models import Plan

        plan = db.session.get(Plan, assignment.task.plan_id)
        year, number = quarter
        if not (1 <= number <= 4 and plan.start_year <= year <= plan.end_year):
            raise ReportingError(_("Choose a quarter of the plan's years."))
        if (year, number) > quarter_of(clock.local_today()):
            raise ReportingError(_("That quarter has not begun."))
    ids = sorted({int(i) for i in cited_update_ids})
    cited = []
    if ids:
        cited = db.session.scalars(
            select(StatusUpdate).join(Milestone).join(Assignment)
            .where(StatusUpdate.id.in_(ids), Assignment.task_id == assignment.task_id,
                   Assignment.role == AssignmentRole.RESPONSIBLE)
        ).all()
        if len(cited) != len(ids):
            raise ReportingError(_("A report can only cite updates of this task's responsible "
                                   "units."))
    if quarter is None:
        dues = [update.milestone.original_due_date for update in cited]
        quarter = quarter_of(max(dues) if dues else clock.local_today())
    report = ConsolidatedReport(assignment_id=assignment.id, author_id=actor.id,
                                title=title.strip(), body=body.strip(),
                                created_at=clock.utcnow(), citations=list(cited),
                                quarter_year=quarter[0], quarter=quarter[1])
    db.session.add(report)
    db.session.flush()
    audit.record(actor, "consolidated_report.create", report,
                 after={"title": report.title, "cited_updates": ids,
                        "quarter": report.quarter_label},
                 summary=f"{report.quarter_label} {report.title}")
    return report


# ---------------------------------------------------------------- the lead unit's reminders


def remind_as_lead(milestone: Milestone, actor, *, lead_unit) -> list:
    """A lead unit reminds a responsible unit to report on a milestone of its task: one inbox
    item for each of that unit's reporters and heads, at most once per milestone and day (the
    claim (milestone, lead_remind, date) of notices.operations.claim), audited. Refused when the
    unit has reported, or was reminded of this milestone today."""
    from taskflow.assignments.queries import LEAD_REMIND_KIND, remindable
    from taskflow.notices.operations import claim, notify, unit_users

    assignment = milestone.assignment
    if assignment.role != AssignmentRole.RESPONSIBLE:
        raise ReportingError(_("Only a responsible unit can be reminded."))
    if not remindable(milestone.state):
        raise ReportingError(_("%(unit)s has already reported on this milestone.",
                               unit=assignment.unit.name))
    today = clock.local_today()
    claimed = claim("milestone", milestone.id, LEAD_REMIND_KIND, today.isoformat(),
                    unit_id=assignment.unit_id)
    if claimed is None:
        raise ReportingError(_("%(unit)s has already been reminded of this milestone today.",
                               unit=assignment.unit.name))
    people = unit_users([assignment.unit_id])[assignment.unit_id]
    items = notify(people, "lead_remind", {**_milestone_params(milestone), "lead": lead_unit.name},
                   milestone_link(milestone), claimed=claimed)
    audit.record(actor, "milestone.lead_remind", milestone,
                 after={"unit": assignment.unit.name, "lead_unit": lead_unit.name,
                        "state": milestone.state, "recipients": len(items),
                        "day": today.isoformat()},
                 summary=f"{lead_unit.name} → {assignment.unit.name}: {milestone.title}")
    return items


# ---------------------------------------------------------------- maintenance


def recompute_lateness(actor=None) -> int:
    """Record again the lateness of every closed milestone in working days (after upgrading from
    calendar-day lateness, or after the admin corrected the calendar); returns how many changed.

    A milestone closed at a 100 % acceptance is late by the working days from its original due
    date to the submission of the accepted report; one closed off (销号), to its closure date.
    """
    latest_accepted = (
        select(StatusUpdate.milestone_id, func.max(StatusUpdate.created_at).label("at"))
        .where(StatusUpdate.state == UpdateState.ACCEPTED)
        .group_by(StatusUpdate.milestone_id).subquery()
    )
    rows = db.session.execute(
        select(Milestone, latest_accepted.c.at)
        .outerjoin(latest_accepted, latest_accepted.c.milestone_id == Milestone.id)
        .where(Milestone.completed_on.is_not(None))
        .order_by(Milestone.id)
    ).all()
    from taskflow.core.calendar import current

    cal = current()
    changes = {}
    for milestone, accepted_at in rows:
        delivered = milestone.completed_on
        if milestone.state == MilestoneState.ACCEPTED and accepted_at is not None:
            delivered = clock.to_local(accepted_at).date()
        late = measures.lateness_working_days(milestone.original_due_date, delivered, cal)
        if milestone.days_late != late:
            changes[milestone.id] = {"before": milestone.days_late, "after": late}
            milestone.days_late = late
    db.session.flush()
    if changes:
        audit.record(actor, "milestone.recompute_lateness", None, object_type="milestones",
                     after={"changed": len(changes), "milestones": changes},
                     summary=f"{len(changes)} milestones: lateness in working days")
    return len(changes)
