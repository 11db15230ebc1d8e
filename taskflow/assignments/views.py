"""Pages of the assignments area: workspace, assignment and milestone pages, reporting, sign-off,
review, extensions, consolidated reports, and the office's planning tools.

Every handler: load → permission check (404 for another unit's object, 403 for a forbidden
action) → validate → call an operation → commit once → flash → redirect.
"""

from datetime import date, timedelta
from decimal import Decimal

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError
from wtforms.fields.choices import SelectChoice

from taskflow.assignments import bp, operations, queries
from taskflow.assignments.forms import (
    AddUnitForm,
    CloseMilestoneForm,
    ActionForm,
    ConsolidatedReportForm,
    ExtensionDecisionForm,
    ExtensionRequestForm,
    GenerateMilestonesForm,
    MilestoneEditForm,
    ReviewForm,
    SignOffForm,
    SignOffRuleForm,
    StatusUpdateForm,
)
from taskflow.assignments.models import (
    REPORTABLE_STATES,
    WAITING_STATES,
    Assignment,
    Milestone,
    UpdateState,
)
from taskflow.assignments.operations import ReportingError
from taskflow.core import clock
from taskflow.core.calendar import quarter_of
from taskflow.core.errors import EditConflict, Refusal, commit_or_refuse
from taskflow.core.http import attachment_headers
from taskflow.core.security import (
    INLINE_FILE_POLICY,
    PDF_VIEWER_POLICY,
    content_security_policy,
)
from taskflow.core.input_guard import (
    bounded_int,
    form_int,
    page_number,
    plan_window,
    plan_years,
)
from taskflow.core.permissions import (
    can_close_milestone,
    can_decide_extension,
    can_edit_plan,
    can_remind_as_lead,
    can_report,
    can_request_extension,
    can_review,
    can_sign_off,
    can_use_sign_off_queue,
    can_use_workspace,
    can_view_assignment,
    can_view_lead_overview,
    can_view_review_queue,
    can_write_consolidated_report,
    require,
    require_visible,
)
from taskflow.extensions import db
from taskflow.measures import milestones as measures
from taskflow.plans.models import KeyTask, Plan

# ---------------------------------------------------------------- loading helpers


def _assignment_or_404(assignment_id: int) -> Assignment:
    assignment = queries.load_assignment(assignment_id)
    require_visible(assignment is not None
                    and can_view_assignment(current_user, assignment, queries.lead_unit_ids))
    return assignment


def _milestone_or_404(milestone_id: int) -> Milestone:
    milestone = queries.load_milestone(milestone_id)
    require_visible(milestone is not None
                    and can_view_assignment(current_user, milestone.assignment,
                                            queries.lead_unit_ids))
    return milestone


def _update_or_404(update_id: int):
    update = queries.load_update(update_id)
    require_visible(update is not None
                    and can_view_assignment(current_user, update.milestone.assignment,
                                            queries.lead_unit_ids))
    return update


# A report that lost the race for its milestone (the files were stored outside the transaction).
REPORTED_MEANWHILE = _l("Someone else reported on this milestone at the same time. Nothing was "
                       "saved; please reload and try again.")


def _task_or_404(task_id: int) -> KeyTask:
    task = db.session.get(KeyTask, task_id)
    if task is None:
        abort(404)
    return task


def _upload_limits() -> dict:
    config = current_app.config
    return {
        "max_bytes": int(config["MAX_UPLOAD_MB"]) * 1024 * 1024,
        "zip_max_entries": int(config["ZIP_MAX_ENTRIES"]),
        "zip_max_uncompressed": int(config["ZIP_MAX_UNCOMPRESSED_MB"]) * 1024 * 1024,
    }


# ---------------------------------------------------------------- the unit workspace


@bp.route("/my")
@login_required
def my_tasks():
    """我的任务: the unit's assignments with lights, next milestones, returned reports."""
    require(can_use_workspace(current_user))
    rows = queries.workspace_rows(current_user.unit_id)
    returned = queries.returned_updates(current_user.unit_id)
    sign_off = (queries.sign_off_queue(current_user.unit_id)
                if can_use_sign_off_queue(current_user) else [])
    summary = {colour: sum(1 for r in rows if r.light == colour)
               for colour in ("red", "yellow", "green", "grey")}
    return render_template("assignments/my_tasks.html", rows=rows, returned=returned,
                           sign_off=sign_off, summary=summary, today=clock.local_today(),
                           yellow_days=measures.yellow_working_days())


@bp.route("/assignments/<int:assignment_id>")
@login_required
def assignment_detail(assignment_id: int):
    """An assignment: milestones with lights, timeline, evidence; the team's updates for a lead."""
    assignment = _assignment_or_404(assignment_id)
    page = queries.assignment_page(assignment,
                                   team_page=page_number("team_page"))
    return render_template(
        "assignments/assignment.html", page=page, assignment=assignment,
        may_report=can_report(current_user, assignment),
        may_consolidate=can_write_consolidated_report(current_user, assignment),
        today=clock.local_today(),
    )


def _plan_of(milestone: Milestone) -> Plan:
    return db.session.get(Plan, milestone.assignment.task.plan_id)


def _extension_form(milestone: Milestone) -> ExtensionRequestForm:
    """The extension form, its date within the plan's window (no later than the end of the year
    after the plan ends); "later than the current due date" is the operation's own check."""
    form = ExtensionRequestForm()
    form.date_window = plan_window(_plan_of(milestone))
    form.requested_due_date.render_kw = {
        "min": (milestone.due_date + timedelta(days=1)).isoformat(),
        "max": form.date_window[1].isoformat()}
    return form


def _render_milestone(milestone: Milestone, *, form=None, extension_form=None, close_form=None,
                      status=200):
    updates, extensions = queries.milestone_history(milestone)
    facts = queries.milestone_facts(milestone)
    today = facts.today
    assignment = milestone.assignment
    closed = measures.is_closed_state(milestone.state)
    may_report = can_report(current_user, assignment) and (
        milestone.state in REPORTABLE_STATES or form is not None)  # a refused form keeps its input
    may_extend = can_request_extension(current_user, assignment) and (
        extension_form is not None
        or (not closed and today <= milestone.due_date
            and not any(e.state == "pending" for e in extensions)))
    may_close = can_close_milestone(current_user) and (
        close_form is not None
        or (not closed and milestone.state not in WAITING_STATES))
    returned = updates[0] if updates and updates[0].state == UpdateState.RETURNED else None
    if form is None and may_report:
        form = StatusUpdateForm()
        if updates:  # a resubmission starts from the last report
            last = updates[0]
            form.progress.data = last.progress
            form.narrative.data = last.narrative
            form.problems.data = last.problems
            form.next_steps.data = last.next_steps
        form.kept_from.data = str(returned.id) if returned else ""
    if extension_form is None and may_extend:
        extension_form = _extension_form(milestone)
    if close_form is None and may_close:
        close_form = CloseMilestoneForm()
        close_form.version_id.data = str(milestone.version_id)
    return render_template(
        "assignments/milestone.html", milestone=milestone, assignment=assignment,
        light=facts.light, overdue_days=facts.overdue_days,
        closed_by=facts.closed_by,
        updates=updates, extensions=extensions, form=form if may_report else None,
        extension_form=extension_form if may_extend else None,
        close_form=close_form if may_close else None,
        extension_closed=(can_request_extension(current_user, assignment)
                          and not closed and today > milestone.due_date),
        today=today, returned_report=returned if may_report else None, **_upload_limits(),
    ), status


@bp.route("/milestones/<int:milestone_id>")
@login_required
def milestone_detail(milestone_id: int):
    """A milestone: what is due, its reports and reviews, the report and extension forms."""
    milestone = _milestone_or_404(milestone_id)
    return _render_milestone(milestone)


@bp.route("/milestones/<int:milestone_id>/updates", methods=["POST"])
@login_required
def submit_update(milestone_id: int):
    """A unit reports on a milestone with evidence files.

    SQLite has one writer at a time and a POST takes the write lock at its first query, so the
    slow part (reading, checking and storing up to REPORT_MAX_FILES files) runs outside any
    write transaction: permission and state are read in a plain read, the files are validated
    and stored (fsynced, in an UploadBatch), and only then a short write transaction checks that
    the milestone is unchanged (its version) and inserts the rows. If that fails the stored files
    are deleted at once (or, if the process died, by the sweep within UPLOAD_ORPHAN_MINUTES).
    """
    from taskflow.core import storage
    from taskflow.core.db import read_transaction, write_transaction
    from taskflow.core.uploads import UploadRejected, validate_evidence_set

    # The sign-in check has read the user in a transaction begun IMMEDIATE (this is a POST):
    # end it, so the write lock is not held while the files are read.
    db.session.rollback()
    with read_transaction():
        milestone = _milestone_or_404(milestone_id)
        require(can_report(current_user, milestone.assignment))
        form = StatusUpdateForm()
        if not form.validate_on_submit():
            flash(_("The report was not submitted: please correct the marked fields."), "danger")
            return _render_milestone(milestone, form=form, status=400)
        try:
            operations.check_report(milestone, progress=form.progress.data,
                                    narrative=form.narrative.data or "")
        except ReportingError as exc:
            flash(exc.message, "danger")
            return _render_milestone(milestone, form=form, status=409)
        seen_version = milestone.version_id
        # After a return the form listed that report's files: they are kept unless removed. A
        # form that listed another report's files (or none) is stale: refused, nothing stored.
        # A form without the field (a page from before files were kept) keeps nothing.
        listed = form.kept_from.name in request.form
        returned = queries.returned_report(milestone.id) if listed else None
        seen_returned = returned.id if returned else None
        if listed and str(seen_returned or "") != (form.kept_from.data or ""):
            flash(_("The report on this milestone changed since you opened this page. Check "
                    "the files listed and submit again."), "danger")
            form.kept_from.data = str(seen_returned or "")
            return _render_milestone(milestone, form=form, status=409)
        removed_ids = set(form.remove_evidence.data or ())
        kept = [e for e in returned.evidence if e.id not in removed_ids] if returned else []
        kept_names = {e.sha256: e.original_name for e in kept}
        kept_bytes = sum(e.size for e in kept)
    db.session.rollback()  # end the read: no transaction is open while the files are handled

    config = current_app.config
    try:
        evidence = validate_evidence_set(
            request.files.getlist(form.files.name),
            max_files=max(0, int(config["REPORT_MAX_FILES"]) - len(kept)),
            max_total_bytes=max(0, int(config["REPORT_MAX_TOTAL_MB"]) * 1024 * 1024 - kept_bytes),
            **_upload_limits())
    except UploadRejected as exc:
        form.files.errors.append(exc.message)
        return _refused_report(milestone_id, form)
    for upload in list(evidence.accepted):  # the same file as a kept one: attached once
        if upload.sha256 in kept_names:
            evidence.accepted.remove(upload)
            evidence.duplicates.append((upload.safe_display_name, kept_names[upload.sha256]))
            upload.close()
    if evidence.errors:
        evidence.close()
        for error in evidence.errors:
            form.files.errors.append(
                _("%(name)s: %(message)s", name=error.filename, message=error.message)
                if error.filename else error.message)
        return _refused_report(milestone_id, form)

    batch = storage.UploadBatch.for_app()
    refusal = None
    try:
        stored = [(upload, batch.add(upload)) for upload in evidence.accepted]
        with write_transaction():
            milestone = queries.load_milestone(milestone_id)
            require_visible(milestone is not None)
            require(can_report(current_user, milestone.assignment))
            if milestone.version_id != seen_version:
                raise EditConflict(REPORTED_MEANWHILE)
            returned = queries.returned_report(milestone.id) if listed else None
            if (returned.id if returned else None) != seen_returned:
                raise EditConflict(REPORTED_MEANWHILE)
            update = operations.submit_update(
                milestone, current_user, progress=form.progress.data,
                narrative=form.narrative.data or "", problems=form.problems.data or "",
                next_steps=form.next_steps.data or "", stored=stored, returned=returned,
                removed_ids=removed_ids)
            waits_for_sign_off = update.awaiting_sign_off
            db.session.commit()
        batch.committed()
    except (Refusal, StaleDataError) as exc:
        db.session.rollback()
        batch.discard()
        refusal = exc
    except BaseException:
        db.session.rollback()
        batch.discard()
        raise
    finally:
        evidence.close()
    if refusal is not None:
        flash(refusal.message if isinstance(refusal, Refusal) else REPORTED_MEANWHILE, "danger")
        with read_transaction():
            return _render_milestone(_milestone_or_404(milestone_id), form=form, status=409)
    for dropped, kept in evidence.duplicates:
        flash(_("%(name)s is identical to %(other)s: the file was attached once.",
                name=dropped, other=kept), "info")
    if waits_for_sign_off:
        flash(_("Report submitted. It now waits for your unit head's sign-off."), "success")
    else:
        flash(_("Report submitted to the joint-meeting office for review."), "success")
    return redirect(url_for("assignments.milestone_detail", milestone_id=milestone_id))


def _refused_report(milestone_id: int, form):
    """The milestone page again with the form's input and its file errors (400)."""
    from taskflow.core.db import read_transaction

    flash(_("The report was not submitted: a file was refused. Your text is kept; choose the "
            "files again."), "danger")
    with read_transaction():
        return _render_milestone(_milestone_or_404(milestone_id), form=form, status=400)


@bp.route("/milestones/<int:milestone_id>/extensions", methods=["POST"])
@login_required
def request_extension(milestone_id: int):
    """Ask for a later due date, before the due date."""
    milestone = _milestone_or_404(milestone_id)
    require(can_request_extension(current_user, milestone.assignment))
    form = _extension_form(milestone)
    if not form.validate_on_submit():
        flash(_("The extension request was not sent: please correct the marked fields."),
              "danger")
        return _render_milestone(milestone, extension_form=form, status=400)
    with commit_or_refuse() as done:
        operations.request_extension(milestone, current_user,
                                     requested_due_date=form.requested_due_date.data,
                                     reason=form.reason.data or "")
    if not done:
        return _render_milestone(milestone, extension_form=form, status=409)
    flash(_("Extension request sent to the joint-meeting office."), "success")
    return redirect(url_for("assignments.milestone_detail", milestone_id=milestone_id))


@bp.route("/milestones/<int:milestone_id>/close", methods=["POST"])
@login_required
def close_milestone(milestone_id: int):
    """The office closes a milestone off (销号) with a reason, after an explicit confirmation."""
    milestone = _milestone_or_404(milestone_id)
    require(can_close_milestone(current_user))
    form = CloseMilestoneForm()
    if not form.validate_on_submit():
        flash(_("The milestone was not closed off: give the reason and confirm."), "danger")
        return _render_milestone(milestone, close_form=form, status=400)
    try:
        expected = int(form.version_id.data or 0)
    except ValueError:
        expected = 0
    with commit_or_refuse() as done:
        operations.close_milestone(milestone, current_user, expected_version=expected,
                                   reason=form.reason.data or "")
    if not done:
        milestone = queries.load_milestone(milestone_id) or milestone
        form.version_id.data = str(milestone.version_id)
        return _render_milestone(milestone, close_form=form, status=409)
    flash(_("The milestone is closed off (销号)."), "success")
    return redirect(url_for("assignments.milestone_detail", milestone_id=milestone_id))


@bp.route("/updates/<int:update_id>")
@login_required
def update_detail(update_id: int):
    """One report with its evidence, and the sign-off or review form where it is due."""
    update = _update_or_404(update_id)
    return _render_update(update)


def _render_update(update, *, review_form=None, sign_off_form=None, status=200):
    assignment = update.milestone.assignment
    may_review = can_review(current_user) and update.awaiting_office
    may_sign_off = can_sign_off(current_user, assignment) and update.awaiting_sign_off
    history, _extensions = queries.milestone_history(update.milestone)
    return render_template(
        "assignments/update.html", update=update, milestone=update.milestone,
        assignment=assignment, history=history,
        review_form=(review_form or ReviewForm()) if may_review else None,
        sign_off_form=(sign_off_form or SignOffForm()) if may_sign_off else None,
    ), status


@bp.route("/updates/<int:update_id>/sign-off", methods=["POST"])
@login_required
def sign_off(update_id: int):
    """The unit head signs a report off, or returns it to the reporter."""
    update = _update_or_404(update_id)
    require(can_sign_off(current_user, update.milestone.assignment))
    form = SignOffForm()
    if not form.validate_on_submit():
        return _render_update(update, sign_off_form=form, status=400)
    approve = form.decision.data == "approve"
    with commit_or_refuse() as done:
        operations.sign_off_update(update, current_user, approve=approve,
                                   reason_code=form.reason_code.data or None,
                                   comment=form.comment.data or "")
    if not done:
        return _render_update(update, sign_off_form=form, status=409)
    flash(_("Signed off: the report goes to the joint-meeting office.") if approve
          else _("Report returned to the reporter."), "success")
    return redirect(url_for("assignments.sign_off_queue"))


@bp.route("/updates/<int:update_id>/review", methods=["POST"])
@login_required
def review(update_id: int):
    """The office accepts a report or returns it with a reason and a comment."""
    update = _update_or_404(update_id)
    require(can_review(current_user))
    form = ReviewForm()
    if not form.validate_on_submit():
        return _render_update(update, review_form=form, status=400)
    accept = form.decision.data == "accept"
    with commit_or_refuse() as done:
        operations.review_update(update, current_user, accept=accept,
                                 reason_code=form.reason_code.data or None,
                                 comment=form.comment.data or "")
    if not done:
        return _render_update(update, review_form=form, status=409)
    if not accept:
        flash(_("Report returned to the unit."), "success")
    elif update.progress >= 100:
        flash(_("Report accepted: the milestone is closed (办结)."), "success")
    else:
        flash(_("Report accepted at %(pct)s%%: the milestone stays open for the rest.",
                pct=update.progress), "success")
    return redirect(url_for("assignments.review_queue"))


def _evidence_or_404(evidence_id: int):
    """An evidence row, for those who may see its assignment (404 for anyone else)."""
    evidence = queries.load_evidence(evidence_id)
    require_visible(evidence is not None and can_view_assignment(
        current_user, evidence.status_update.milestone.assignment, queries.lead_unit_ids))
    return evidence


def _stream(handle):
    with handle:
        while chunk := handle.read(64 * 1024):
            yield chunk


@bp.route("/evidence/<int:evidence_id>/download")
@login_required
def download_evidence(evidence_id: int):
    """An evidence file, only for those who may see its assignment; the Chinese name survives."""
    from taskflow.core import storage

    evidence = _evidence_or_404(evidence_id)
    try:
        handle = storage.open_blob(evidence.storage_key)
    except (FileNotFoundError, storage.InvalidStorageKey):
        abort(404)
    headers = attachment_headers(evidence.original_name)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Content-Length"] = str(evidence.size)
    return Response(_stream(handle), mimetype=evidence.content_type, headers=headers)


def _open_inline(evidence, kind: str | None = None):
    """The stored file of an evidence row that may be shown inline (of `kind` if given),
    opened; 404 if the file is gone, 415 if its recorded type is not a PDF or an image or its
    bytes no longer start as that type (a tampered row or file is never shown)."""
    from taskflow.core import storage
    from taskflow.core.uploads import inline_kind

    try:
        handle = storage.open_blob(evidence.storage_key)
    except (FileNotFoundError, storage.InvalidStorageKey):
        abort(404)
    head = handle.read(64)
    handle.seek(0)
    found = inline_kind(evidence.detected_type, head)
    if found is None or (kind is not None and found != kind):
        handle.close()
        abort(415)
    return handle


@bp.route("/evidence/<int:evidence_id>/inline")
@login_required
@content_security_policy(INLINE_FILE_POLICY)
def inline_evidence(evidence_id: int):
    """A PDF or an image shown in the page (the pdf.js viewer, a thumbnail): same permission as
    the download. The type is the one sniffed at upload, and the stored bytes must still start
    as that type; anything else (Office files, archives, a row whose file does not match) is
    refused with 415 and stays download-only. Served with the type's own Content-Type, nosniff
    and a sandboxing CSP, so nothing in the file can run as a page of this site."""
    from taskflow.core.uploads import CONTENT_TYPES

    evidence = _evidence_or_404(evidence_id)
    handle = _open_inline(evidence)
    headers = attachment_headers(evidence.original_name, inline=True)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Content-Length"] = str(evidence.size)
    return Response(_stream(handle), mimetype=CONTENT_TYPES[evidence.detected_type],
                    headers=headers)


@bp.route("/evidence/<int:evidence_id>/view")
@login_required
@content_security_policy(PDF_VIEWER_POLICY)
def view_evidence(evidence_id: int):
    """A PDF evidence file in the pdf.js viewer (pages drawn on a canvas, page by page, with
    zoom); other kinds have no viewer (404): images open full size in the page, the rest is
    downloaded."""
    evidence = _evidence_or_404(evidence_id)
    if evidence.preview != "pdf":
        abort(404)
    _open_inline(evidence, "pdf").close()
    update = evidence.status_update
    # pdf.js fetches CMaps and standard fonts from these folders (PDFs without embedded fonts).
    asset_folders = {name: url_for("core.asset", package=package, filename="_")[:-1]
                     for name, package in (("cmaps", "pdfjs-cmaps"), ("fonts", "pdfjs-fonts"))}
    return render_template("assignments/evidence_viewer.html", evidence=evidence, update=update,
                           milestone=update.milestone, assignment=update.milestone.assignment,
                           asset_folders=asset_folders)


# ---------------------------------------------------------------- queues


@bp.route("/sign-off")
@login_required
def sign_off_queue():
    """The unit head's queue: the unit's reports waiting for sign-off."""
    require(can_use_sign_off_queue(current_user))
    return render_template("assignments/sign_off_queue.html",
                           updates=queries.sign_off_queue(current_user.unit_id))


@bp.route("/review")
@login_required
def review_queue():
    """The office's review queue, oldest first, filtered by task, unit and state."""
    require(can_view_review_queue(current_user))
    state = request.args.get("state", "waiting")
    if state not in queries.QUEUE_STATES:
        state = "waiting"
    task_id = request.args.get("task", type=bounded_int)
    unit_id = request.args.get("unit", type=bounded_int)
    page = queries.review_queue(task_id=task_id, unit_id=unit_id, state=state,
                                page=page_number())
    tasks, units = queries.queue_filter_choices()
    return render_template("assignments/review_queue.html", page=page, tasks=tasks, units=units,
                           state=state, task_id=task_id, unit_id=unit_id,
                           extensions_waiting=queries.pending_extension_count())


@bp.route("/extensions")
@login_required
def extension_queue():
    """Extension requests waiting for the office."""
    require(can_view_review_queue(current_user))
    return render_template("assignments/extension_queue.html",
                           requests=queries.pending_extensions(),
                           form=ExtensionDecisionForm() if can_decide_extension(current_user)
                           else None)


@bp.route("/extensions/<int:request_id>/decide", methods=["POST"])
@login_required
def decide_extension(request_id: int):
    """The office grants or refuses an extension request."""
    extension = queries.load_extension(request_id)
    require_visible(extension is not None
                    and can_view_assignment(current_user, extension.milestone.assignment,
                                            queries.lead_unit_ids))
    require(can_decide_extension(current_user))
    form = ExtensionDecisionForm()
    if not form.validate_on_submit():
        flash(_("Choose grant or refuse."), "danger")
        return redirect(url_for("assignments.extension_queue"))
    grant = form.decision.data == "grant"
    with commit_or_refuse() as done:
        operations.decide_extension(extension, current_user, grant=grant,
                                    comment=form.comment.data or "")
    if done:
        flash(_("Extension granted: the due date has moved; the original date is kept.") if grant
              else _("Extension refused."), "success")
    return redirect(url_for("assignments.extension_queue"))


# ---------------------------------------------------------------- consolidated reports


@bp.route("/assignments/<int:assignment_id>/reports/new", methods=["GET", "POST"])
@login_required
def new_consolidated_report(assignment_id: int):
    """A lead unit's consolidated report citing its responsible units' updates."""
    assignment = _assignment_or_404(assignment_id)
    require(can_write_consolidated_report(current_user, assignment))
    form = ConsolidatedReportForm()
    plan = db.session.get(Plan, assignment.task.plan_id)
    today = clock.local_today()
    form.set_quarters(queries.plan_quarters(plan.start_year, plan.end_year, today),
                      quarter_of(today))
    team = queries.task_team_updates(assignment.task_id,
                                     page=page_number("team_page"))
    cited = [n for n in (form_int(i) for i in request.form.getlist("cite")) if n > 0]
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            with commit_or_refuse() as done:
                operations.write_consolidated_report(
                    assignment, current_user, title=form.title.data, body=form.body.data,
                    cited_update_ids=cited, quarter=form.chosen_quarter())
            if not done:
                status = 409
            else:
                flash(_("Consolidated report saved."), "success")
                return redirect(url_for("assignments.assignment_detail",
                                        assignment_id=assignment.id))
        else:
            status = 400
    # A refused form keeps what was ticked, even updates that are not on the page shown.
    shown = {u.id for u in team.items}
    cited_elsewhere = queries.team_updates_by_id(assignment.task_id,
                                                 [i for i in cited if i not in shown])
    return render_template("assignments/consolidated_form.html", assignment=assignment,
                           form=form, team=team, team_updates=list(team.items),
                           cited_elsewhere=cited_elsewhere, cited=set(cited)), status


# ---------------------------------------------------------------- the lead unit's overview


def _lead_filters(values) -> dict[str, str]:
    """The valid filters of the lead page among `values`: due (an ISO date) and status."""
    chosen = {}
    try:
        if values.get("due"):
            chosen["due"] = date.fromisoformat(values["due"]).isoformat()
    except ValueError:
        pass
    if values.get("status") in queries.LEAD_STATUSES:
        chosen["status"] = values["status"]
    return chosen


@bp.route("/tasks/<int:task_id>/lead")
@login_required
def lead_overview(task_id: int):
    """Who has reported: per milestone period, each responsible unit as reported / not reported
    / returned, with a reminder button, and the consolidated reports by quarter.

    ?due=YYYY-MM-DD&status=… lists the rows behind one count (as many as the count says)."""
    task = _task_or_404(task_id)
    require(can_view_lead_overview(current_user, task.id, queries.lead_unit_ids))
    chosen = _lead_filters(request.args)
    if ((request.args.get("due") and "due" not in chosen)
            or (request.args.get("status") is not None and "status" not in chosen)):
        abort(404)
    due = date.fromisoformat(chosen["due"]) if "due" in chosen else None
    status = chosen.get("status")
    own_lead = can_remind_as_lead(current_user, task.id, queries.lead_unit_ids)
    overview = queries.lead_overview(task, due=due, status=status,
                                     lead_unit_id=current_user.unit_id if own_lead else None)
    return render_template("assignments/lead_overview.html", overview=overview, task=task,
                           due=due, status=status, may_remind=own_lead, form=ActionForm())


@bp.route("/tasks/<int:task_id>/lead/remind/<int:milestone_id>", methods=["POST"])
@login_required
def lead_remind(task_id: int, milestone_id: int):
    """The lead unit reminds one responsible unit to report on a milestone (once a day)."""
    milestone = _milestone_or_404(milestone_id)
    require_visible(milestone.assignment.task_id == task_id)
    require(can_remind_as_lead(current_user, task_id, queries.lead_unit_ids))
    if not ActionForm().validate_on_submit():
        abort(400)
    unit_name = milestone.assignment.unit.name
    with commit_or_refuse(category="warning") as done:
        operations.remind_as_lead(milestone, current_user, lead_unit=current_user.unit)
    if done:
        flash(_("%(unit)s has been reminded to report on %(milestone)s.", unit=unit_name,
                milestone=milestone.title), "success")
    return redirect(url_for("assignments.lead_overview", task_id=task_id,
                            **_lead_filters(request.form)))


# ---------------------------------------------------------------- planning (the office)


@bp.route("/planning")
@login_required
def planning():
    """Every key task with its units and milestones: the office's planning tools."""
    require(can_edit_plan(current_user))
    return render_template("assignments/planning.html", rows=queries.planning_tasks())


def _render_planning_task(task, *, add_form=None, generate_form=None, status=200):
    assignments = queries.task_assignments(task.id)
    assigned = {a.unit_id for a in assignments}
    if add_form is None:
        add_form = AddUnitForm()
    add_form.unit_id.choices = [SelectChoice(u.id, u.name)
                                for u in queries.plan_units(task.plan_id) if u.id not in assigned]
    if generate_form is None:
        generate_form = GenerateMilestonesForm()
        plan = task.section.plan
        generate_form.start_year.data = plan.start_year
        generate_form.end_year.data = plan.end_year
        generate_form.only_future.data = True
    return render_template(
        "assignments/planning_task.html", task=task, assignments=assignments,
        reported=queries.reported_counts([a.id for a in assignments]), add_form=add_form,
        generate_form=generate_form, rule_form=SignOffRuleForm(),
    ), status


@bp.route("/planning/tasks/<int:task_id>")
@login_required
def planning_task(task_id: int):
    """One task's units (lead / responsible), sign-off rule and milestones."""
    require(can_edit_plan(current_user))
    return _render_planning_task(_task_or_404(task_id))


@bp.route("/planning/tasks/<int:task_id>/units", methods=["POST"])
@login_required
def add_unit(task_id: int):
    """Add a unit to a task as lead or responsible unit."""
    require(can_edit_plan(current_user))
    task = _task_or_404(task_id)
    form = AddUnitForm()
    form.unit_id.choices = [SelectChoice(u.id, u.name) for u in queries.plan_units(task.plan_id)]
    if not form.validate_on_submit():
        flash(_("Choose a unit and its role."), "danger")
        return _render_planning_task(task, add_form=form, status=400)
    from taskflow.units.models import Unit

    unit = db.session.get(Unit, form.unit_id.data)
    with commit_or_refuse() as done:
        operations.add_assignment(task, unit, form.role.data, current_user)
    if not done:
        return _render_planning_task(task, add_form=form, status=409)
    flash(_("%(unit)s added to the task.", unit=unit.name), "success")
    return redirect(url_for("assignments.planning_task", task_id=task.id))


@bp.route("/planning/assignments/<int:assignment_id>/remove", methods=["POST"])
@login_required
def remove_unit(assignment_id: int):
    """Take a unit off a task (refused once it has reported)."""
    require(can_edit_plan(current_user))
    assignment = queries.load_assignment(assignment_id)
    if assignment is None:
        abort(404)
    task_id, name = assignment.task_id, assignment.unit.name
    with commit_or_refuse() as done:
        operations.remove_assignment(assignment, current_user)
    if done:
        flash(_("%(unit)s removed from the task.", unit=name), "success")
    return redirect(url_for("assignments.planning_task", task_id=task_id))


@bp.route("/planning/assignments/<int:assignment_id>/sign-off", methods=["POST"])
@login_required
def assignment_sign_off_rule(assignment_id: int):
    """Ask (or stop asking) for the unit head's sign-off on one assignment."""
    require(can_edit_plan(current_user))
    assignment = queries.load_assignment(assignment_id)
    if assignment is None:
        abort(404)
    form = SignOffRuleForm()
    if form.validate_on_submit():
        operations.set_requires_sign_off([assignment], bool(form.requires_sign_off.data),
                                         current_user)
        db.session.commit()
        flash(_("Sign-off rule saved."), "success")
    return redirect(url_for("assignments.planning_task", task_id=assignment.task_id))


@bp.route("/planning/tasks/<int:task_id>/sign-off", methods=["POST"])
@login_required
def task_sign_off_rule(task_id: int):
    """Ask (or stop asking) for sign-off on every assignment of a task."""
    require(can_edit_plan(current_user))
    task = _task_or_404(task_id)
    form = SignOffRuleForm()
    if form.validate_on_submit():
        changed = operations.set_requires_sign_off(queries.task_assignments(task.id),
                                                   bool(form.requires_sign_off.data),
                                                   current_user)
        db.session.commit()
        flash(_("Sign-off rule saved for %(count)s units.", count=changed), "success")
    return redirect(url_for("assignments.planning_task", task_id=task.id))


@bp.route("/planning/tasks/<int:task_id>/milestones", methods=["POST"])
@login_required
def generate_milestones(task_id: int):
    """Milestones for every unit of a task, period by period (running twice adds nothing)."""
    require(can_edit_plan(current_user))
    task = _task_or_404(task_id)
    form = GenerateMilestonesForm()
    form.years = plan_years(db.session.get(Plan, task.plan_id))
    if not form.validate_on_submit():
        flash(_("The milestones were not generated: please correct the marked fields."),
              "danger")
        return _render_planning_task(task, generate_form=form, status=400)
    with commit_or_refuse() as done:
        created, skipped = operations.generate_milestones(
            task, start_year=form.start_year.data, end_year=form.end_year.data,
            frequency=form.frequency.data, required_evidence=form.required_evidence.data or "",
            weight=Decimal(form.weight.data), actor=current_user,
            not_before=clock.local_today() if form.only_future.data else None)
    if not done:
        return _render_planning_task(task, generate_form=form, status=409)
    flash(_("%(created)s milestones created, %(skipped)s already existed.", created=created,
            skipped=skipped), "success")
    return redirect(url_for("assignments.planning_task", task_id=task.id))


@bp.route("/planning/milestones/<int:milestone_id>/edit", methods=["GET", "POST"])
@login_required
def edit_milestone(milestone_id: int):
    """Edit one milestone; a stale form shows who changed it and keeps the input."""
    require(can_edit_plan(current_user))
    milestone = queries.load_milestone(milestone_id)
    if milestone is None:
        abort(404)
    form = MilestoneEditForm(obj=milestone if request.method == "GET" else None)
    form.date_window = plan_window(_plan_of(milestone))
    conflict = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                expected = int(form.version_id.data or 0)
            except ValueError:
                expected = 0
            with commit_or_refuse() as done:
                operations.edit_milestone(
                    milestone, expected_version=expected, title=form.title.data.strip(),
                    due_date=form.due_date.data, weight=Decimal(form.weight.data),
                    required_evidence=form.required_evidence.data or "", actor=current_user)
            if done:
                flash(_("Milestone saved."), "success")
                return redirect(url_for("assignments.planning_task",
                                        task_id=milestone.assignment.task_id))
            conflict = queries.load_milestone(milestone_id)
            status = 409
            # Keep the user's input; the next save applies it over the other person's version.
            form.version_id.data = str(conflict.version_id)
        else:
            status = 400
    return render_template("assignments/milestone_edit.html", form=form, milestone=milestone,
                           conflict=conflict,
                           conflict_by=operations.milestone_editor_name(conflict)
                           if conflict else None), status
