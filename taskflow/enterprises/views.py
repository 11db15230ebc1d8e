"""Pages of the register, imports, claim conflicts and the monthly dispatch."""

from datetime import date
from functools import wraps
from io import BytesIO

from flask import (abort, current_app, flash, jsonify, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from taskflow.core import clock, permissions as perm
from taskflow.core.db import read_transaction
from taskflow.core.errors import commit_or_refuse
from taskflow.core.http import attachment_headers
from taskflow.core.spreadsheets import XLSX_MIMETYPE, Report, report_workbook, xlsx_response
from taskflow.core.input_guard import bounded_int, form_int, page_number, plan_years
from taskflow.enterprises import bp, dispatch_bp, exports, importer, operations, queries
from taskflow.enterprises.forms import (
    ClaimDecisionForm,
    ConfirmFiguresForm,
    ConfirmForm,
    EnterpriseForm,
    ImportForm,
    OpenMonthForm,
)
from taskflow.enterprises import labels
from taskflow.enterprises.labels import FIGURE_LABELS
from taskflow.enterprises.models import (
    ClaimConflict,
    ClaimState,
    DispatchPeriod,
    Enterprise,
    EnterpriseEvent,
    EnterpriseImport,
    EnterpriseImportRow,
    ExportJob,
    ExportState,
    ImportOutcome,
)
from taskflow.extensions import db
from taskflow.measures import indicators as ind
from taskflow.plans.queries import district_plan
from taskflow.units.models import Unit

PER_PAGE = 50


@bp.app_context_processor
def _labels():
    return {"ent_labels": labels}


def _unit_choices(plan) -> list[tuple[int, str]]:
    if plan is None:
        return []
    return [(u.id, u.name) for u in db.session.scalars(
        select(Unit).where(Unit.plan_id == plan.id).order_by(Unit.sort_order, Unit.id))]


def _own_unit_id() -> int | None:
    return current_user.unit_id if perm.is_unit_user(current_user) else None


# ---------------------------------------------------------------- register


def _register_filters(args) -> dict:
    """The register's filters from the query string (an unknown figure or a bad date is ignored).

    figure + on: the enterprises a counted figure counts on that day (the links of the dispatch
    board, the unit page and the cockpit)."""
    figure = args.get("figure", "")
    on = None
    if figure in queries.REGISTER_FIGURES:
        try:
            on = date.fromisoformat(args.get("on", ""))
        except ValueError:
            on = None
    if on is None:
        figure = ""
    return {"q": args.get("q", "").strip()[:100], "status": args.get("status", ""),
            "source": args.get("source", ""), "high_tech": args.get("high_tech", ""),
            "specialised": args.get("specialised", ""), "figure": figure,
            "on": on.isoformat() if on else ""}


def _register_stmt(filters: dict, unit_id: int | None, plan):
    query = dict(filters)
    query["on"] = date.fromisoformat(filters["on"]) if filters["on"] else None
    return queries.register_query(unit_id=unit_id, today=clock.local_today(),
                                  plan_id=plan.id if plan else None, **query)


@bp.route("/")
@login_required
def register():
    """Search and filter the register; unit users see their own unit's enterprises only."""
    perm.require(perm.can_view_register(current_user))
    args = request.args
    own = _own_unit_id()
    unit_id = own or args.get("unit", type=bounded_int)
    filters = _register_filters(args)
    plan = district_plan()
    stmt = _register_stmt(filters, unit_id, plan)
    page = db.paginate(stmt, page=page_number(), per_page=PER_PAGE,
                       error_out=False)
    units = [] if own else _unit_choices(plan)
    open_claims = 0
    if perm.can_decide_claims(current_user):
        open_claims = db.session.scalar(select(func.count()).select_from(ClaimConflict).where(
            ClaimConflict.state == ClaimState.OPEN))
    return render_template(
        "enterprises/register.html", page=page, units=units, filters=filters, unit_id=unit_id,
        today=clock.local_today(), open_claims=open_claims, figure_labels=FIGURE_LABELS,
        can_add=perm.can_add_enterprises(current_user),
    )


@bp.route("/export.xlsx")
@login_required
def register_export():
    """The filtered register as Excel: streamed in the request up to EXPORT_BACKGROUND_ROWS rows;
    above that a page offers to write it in the background (a POST: register_export_request)."""
    perm.require(perm.can_view_register(current_user))
    params = _export_params(request.args)
    count = exports.register_count(params)
    if count > current_app.config["EXPORT_BACKGROUND_ROWS"]:
        return render_template("enterprises/export_request.html", count=count, params=params,
                               form=ConfirmForm())
    with read_transaction():
        buffer = BytesIO()
        exports.write_register(buffer, params, count=count)
    return xlsx_response(exports.register_file_name(params), buffer.getvalue())


def _export_params(args) -> dict:
    unit_id = _own_unit_id() or args.get("unit", type=bounded_int)
    plan = district_plan()
    return exports.register_params(_register_filters(args), unit_id,
                                   plan.id if plan else None, clock.local_today())


@bp.route("/exports", methods=["POST"])
@login_required
def register_export_request():
    """Queue the register export of the posted filters as a background job."""
    perm.require(perm.can_view_register(current_user))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    params = _export_params(request.form)
    count = exports.register_count(params)
    with commit_or_refuse() as done:
        operations.request_export(current_user, "register", params, count,
                                  exports.register_file_name(params))
    if done:
        flash(_("The export is being prepared: it will be listed here, ready to download."),
              "success")
    return redirect(url_for("enterprises.my_exports"))


@bp.route("/exports")
@login_required
def my_exports():
    """我的导出: the user's background exports, their progress and the download when ready."""
    perm.require(perm.can_view_register(current_user))
    return render_template("enterprises/exports.html", jobs=queries.export_jobs(current_user.id), states=ExportState)


@bp.route("/exports/status.json")
@login_required
def my_exports_status():
    """The progress of the user's background exports (polled by the 我的导出 page)."""
    perm.require(perm.can_view_register(current_user))
    return jsonify({"jobs": [
        {"id": job.id, "state": job.state, "percent": job.percent, "rows_done": job.rows_done,
         "rows_total": job.rows_total} for job in queries.export_jobs(current_user.id)]})


@bp.route("/exports/<int:job_id>/download")
@login_required
def export_download(job_id: int):
    """A finished background export, for the person who asked for it only."""
    job = db.session.get(ExportJob, job_id)
    if job is None:
        abort(404)
    perm.require_visible(perm.can_download_export(current_user, job))
    if job.state != ExportState.DONE or not job.storage_name:
        abort(404)
    path = exports.export_dir() / job.storage_name
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=XLSX_MIMETYPE, conditional=False)
    response.headers.update(attachment_headers(job.file_name))
    return response


def _load_enterprise(enterprise_id: int) -> Enterprise:
    enterprise = db.session.get(Enterprise, enterprise_id, options=[joinedload(Enterprise.unit)])
    if enterprise is None:
        abort(404)
    perm.require_visible(perm.can_view_enterprise(current_user, enterprise))
    return enterprise


@bp.route("/<int:enterprise_id>")
@login_required
def detail(enterprise_id: int):
    """One enterprise with its history and claims."""
    enterprise = _load_enterprise(enterprise_id)
    events = db.session.scalars(
        select(EnterpriseEvent).options(joinedload(EnterpriseEvent.actor),
                                        joinedload(EnterpriseEvent.unit))
        .where(EnterpriseEvent.enterprise_id == enterprise.id)
        .order_by(EnterpriseEvent.id.desc())).all()
    claims = db.session.scalars(
        select(ClaimConflict).options(joinedload(ClaimConflict.claimant_unit),
                                      joinedload(ClaimConflict.decided_by))
        .where(ClaimConflict.enterprise_id == enterprise.id)
        .order_by(ClaimConflict.id.desc())).all()
    return render_template(
        "enterprises/detail.html", enterprise=enterprise, events=events, claims=claims,
        today=clock.local_today(),
        can_edit=perm.can_edit_enterprise(current_user, enterprise.unit_id),
        decide_form=ClaimDecisionForm() if perm.can_decide_claims(current_user) else None,
    )


def _enterprise_form(plan, obj=None) -> EnterpriseForm:
    form = EnterpriseForm(obj=obj)
    own = _own_unit_id()
    if own:
        form.unit_id.choices = [(own, current_user.unit.name)]
        form.unit_id.data = own
    else:
        form.unit_id.choices = _unit_choices(plan)
    return form


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    """Add an enterprise; a code another unit holds becomes a claim for the office."""
    perm.require(perm.can_add_enterprises(current_user))
    plan = district_plan()
    form = _enterprise_form(plan)
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data)
        perm.require(unit is not None and perm.can_edit_enterprise(current_user, unit.id))
        # A refusal is shown under the code: most are about it (a malformed or taken code).
        with commit_or_refuse(form=form, field="credit_code") as done:
            result = operations.register_enterprise(form.data_dict(), unit, current_user)
        if done:
            if isinstance(result, ClaimConflict):
                flash(_("This enterprise is registered to %(unit)s. Your claim has been sent to "
                        "the office, which decides; it is not counted twice.",
                        unit=result.holder_unit.name), "warning")
                return redirect(url_for("enterprises.register"))
            flash(_("Enterprise added."), "success")
            return redirect(url_for("enterprises.detail", enterprise_id=result.id))
    return render_template("enterprises/form.html", form=form, enterprise=None)


@bp.route("/<int:enterprise_id>/edit", methods=["GET", "POST"])
@login_required
def edit(enterprise_id: int):
    """Edit an enterprise of one's own unit (the office: any)."""
    enterprise = _load_enterprise(enterprise_id)
    perm.require(perm.can_edit_enterprise(current_user, enterprise.unit_id))
    form = _enterprise_form(district_plan(), obj=enterprise)
    form.unit_id.choices = [(enterprise.unit_id, enterprise.unit.name)]
    form.unit_id.data = enterprise.unit_id
    if request.method == "GET":
        form.version.data = enterprise.version_id
    if form.validate_on_submit():
        data = form.data_dict()
        data.pop("credit_code")
        with commit_or_refuse() as done:
            version = form_int(form.version.data)
            changes = operations.update_enterprise(enterprise, data, current_user, version=version)
        if done:
            flash(_("Saved.") if changes else _("Nothing changed."), "success")
            return redirect(url_for("enterprises.detail", enterprise_id=enterprise.id))
    form.credit_code.render_kw = {"readonly": True}
    form.credit_code.data = enterprise.credit_code
    return render_template("enterprises/form.html", form=form, enterprise=enterprise)


# ---------------------------------------------------------------- claims


@bp.route("/claims")
@login_required
def claims():
    """Open claim conflicts: all for the reading roles, one's own unit's for unit users."""
    perm.require(perm.can_view_register(current_user))
    rows = db.session.scalars(queries.open_claims(_own_unit_id())).all()
    return render_template("enterprises/claims.html", claims=rows,
                           can_decide=perm.can_decide_claims(current_user),
                           form=ClaimDecisionForm())


@bp.route("/claims/<int:claim_id>/decide", methods=["POST"])
@login_required
def decide_claim(claim_id: int):
    """The office keeps or transfers a claimed enterprise (audited)."""
    perm.require(perm.can_decide_claims(current_user))
    conflict = db.session.get(ClaimConflict, claim_id)
    if conflict is None:
        abort(404)
    form = ClaimDecisionForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for the decision."), "danger")
        return redirect(url_for("enterprises.claims"))
    with commit_or_refuse() as done:
        operations.decide_claim(conflict, form.decision.data, form.note.data, current_user,
                                version=form.version.data)
    if done:
        flash(_("Claim decided."), "success")
    return redirect(url_for("enterprises.claims"))


# ---------------------------------------------------------------- import


def _import_form() -> ImportForm:
    form = ImportForm()
    own = _own_unit_id()
    if own:
        form.unit_id.choices = [(own, current_user.unit.name)]
        form.unit_id.data = own
    else:
        form.unit_id.choices = _unit_choices(district_plan())
    return form


@bp.route("/import/template.xlsx")
@login_required
def import_template():
    """The Excel template of a unit's list."""
    perm.require(perm.can_add_enterprises(current_user))
    return xlsx_response(_("Enterprise list template.xlsx"), importer.template_bytes())


def _reads_without_write_lock(view):
    """Run a view's reads as plain reads, not in SQLite's write transaction that POSTs begin at
    their first query: an upload is parsed for seconds, and only importer.stage's short final
    write takes the lock (a no-op on PostgreSQL)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        with read_transaction():
            return view(*args, **kwargs)

    return wrapper


@bp.route("/import", methods=["GET", "POST"])
@_reads_without_write_lock
@login_required
def import_upload():
    """Upload a list: the rows are checked and staged for a preview; nothing is written yet."""
    perm.require(perm.can_add_enterprises(current_user))
    form = _import_form()
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data)
        perm.require(unit is not None and perm.can_edit_enterprise(current_user, unit.id))
        with commit_or_refuse(form=form, field="file") as done:
            batch = importer.stage_upload(form.file.data, unit, current_user)
        if done:
            return redirect(url_for("enterprises.import_preview", token=batch.token))
    return render_template("enterprises/import_upload.html", form=form,
                           max_mb=importer.max_bytes() // 1048576)


def _load_batch(token: str) -> EnterpriseImport:
    batch = db.session.scalar(select(EnterpriseImport).options(joinedload(EnterpriseImport.unit))
                              .where(EnterpriseImport.token == token))
    # A staged import belongs to the user who uploaded it; to anyone else it does not exist.
    perm.require_visible(batch is not None and perm.can_continue_import(current_user, batch))
    return batch


@bp.route("/import/<token>")
@login_required
def import_preview(token: str):
    """Row-by-row preview of a staged import, filterable by outcome."""
    batch = _load_batch(token)
    outcome = request.args.get("outcome", "")
    stmt = select(EnterpriseImportRow).where(EnterpriseImportRow.import_id == batch.id)
    if outcome in {o.value for o in ImportOutcome}:
        stmt = stmt.where(EnterpriseImportRow.outcome == outcome)
    page = db.paginate(stmt.order_by(EnterpriseImportRow.row_number),
                       page=page_number(), per_page=100, error_out=False)
    return render_template("enterprises/import_preview.html", batch=batch, page=page,
                           outcome=outcome, form=ConfirmForm())


@bp.route("/import/<token>/confirm", methods=["POST"])
@login_required
def import_confirm(token: str):
    """Apply the staged rows in one transaction, after re-validating them."""
    batch = _load_batch(token)
    perm.require(perm.can_edit_enterprise(current_user, batch.unit_id))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        counts = importer.confirm(batch, current_user)
    except importer.ImportChanged as exc:
        db.session.rollback()
        importer.refresh(batch)
        db.session.commit()
        flash(_("The register changed since the preview (%(n)s rows). Check the refreshed "
                "preview and confirm again.", n=exc.rows), "warning")
        return redirect(url_for("enterprises.import_preview", token=token))
    except importer.FileRefused as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("enterprises.import_preview", token=token))
    db.session.commit()
    flash(_("Imported: %(new)s new, %(changed)s changed, %(conflict)s claims sent to the office, "
            "%(unchanged)s unchanged.", **counts), "success")
    return redirect(url_for("enterprises.register"))


@bp.route("/import/<token>/discard", methods=["POST"])
@login_required
def import_discard(token: str):
    """Drop a staged import."""
    batch = _load_batch(token)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    with commit_or_refuse() as done:
        importer.discard(batch, current_user)
    if done:
        flash(_("The import was discarded; nothing was written."), "info")
    return redirect(url_for("enterprises.import_upload"))


# ---------------------------------------------------------------- monthly dispatch


def _load_period(period_id: int) -> DispatchPeriod:
    period = db.session.get(DispatchPeriod, period_id)
    if period is None:
        abort(404)
    return period


@dispatch_bp.route("/")
@login_required
def index():
    """Months of the dispatch (the office opens them); unit users go to their own page."""
    plan = district_plan()
    if perm.is_unit_user(current_user):
        period = queries.latest_period(plan.id) if plan else None
        if period is None:
            return render_template("enterprises/dispatch_none.html")
        return redirect(url_for("dispatch.unit_page", period_id=period.id,
                                unit_id=current_user.unit_id))
    perm.require(perm.can_view_dispatch(current_user))
    periods = queries.periods(plan.id) if plan else []
    summaries = queries.period_summaries(plan.id) if plan else {}
    unit_count = len(queries.dispatch_units(plan.id)) if plan else 0
    return render_template("enterprises/dispatch_index.html", periods=periods, plan=plan,
                           summaries=summaries, unit_count=unit_count,
                           form=OpenMonthForm() if perm.can_open_dispatch(current_user) else None)


@dispatch_bp.route("/open", methods=["POST"])
@login_required
def open_month():
    """The office opens a month."""
    perm.require(perm.can_open_dispatch(current_user))
    form = OpenMonthForm()
    plan = district_plan()
    if plan is not None:
        form.years = plan_years(plan)
    if not form.validate_on_submit():
        flash("; ".join(str(e) for errors in form.errors.values() for e in errors)
              or _("Give the month as YYYY-MM."), "danger")
        return redirect(url_for("dispatch.index"))
    with commit_or_refuse() as done:
        period = operations.open_month(form.month.data, current_user)
    if not done:
        return redirect(url_for("dispatch.index"))
    flash(_("The dispatch of %(month)s is open; units can confirm their figures until %(due)s.",
            month=period.label, due=period.due_on.isoformat()), "success")
    return redirect(url_for("dispatch.board", period_id=period.id))


@dispatch_bp.route("/<int:period_id>/close", methods=["POST"])
@login_required
def close_month(period_id: int):
    """The office closes a month."""
    perm.require(perm.can_open_dispatch(current_user))
    period = _load_period(period_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    with commit_or_refuse() as done:
        operations.close_month(period, current_user)
    if done:
        flash(_("The month is closed."), "success")
    return redirect(url_for("dispatch.board", period_id=period.id))


@dispatch_bp.route("/<int:period_id>")
@login_required
def board(period_id: int):
    """The office's board: units × figures, lights, confirmed or not, district totals."""
    perm.require(perm.can_view_dispatch_board(current_user))
    period = _load_period(period_id)
    data = queries.board(period)
    return render_template("enterprises/dispatch_board.html", board=data, period=period,
                           figure_labels=FIGURE_LABELS, figures=queries.FIGURES,
                           metrics=queries.PROGRESS_METRICS, form=ConfirmForm(),
                           can_manage=perm.can_open_dispatch(current_user))


def board_workbook(data: queries.Board) -> bytes:
    """The month's dispatch table as .xlsx: the board's figures and each unit's lateness, as
    the board shows them."""
    period = data.period
    header = [_("Unit name")] + [str(FIGURE_LABELS[f]) for f in queries.FIGURES]
    for label in (_("Tech-based"), _("High-tech")):
        header += [_("%(what)s: target of the year", what=label),
                   _("%(what)s: expected to date", what=label),
                   _("%(what)s: done / expected", what=label), _("%(what)s: light", what=label)]
    header += [_("Confirmed"), _("Confirmed at"), _("Late"), _("Note")]

    def progress_cells(progress):
        cells = []
        for figure in ("tech_in_library", "high_tech_valid"):
            p = progress[figure]
            cells += [p.target, round(p.expected, 1) if p.expected is not None else None,
                      labels.progress_text(p), labels.light_text(p.light)]
        return cells

    yes, no = _("yes"), _("no")
    rows = []
    for row in data.rows:
        c = data.confirmation(row.unit.id)
        late = data.late(row.unit.id)
        rows.append([row.unit.name] + [row.figures[f] for f in queries.FIGURES]
                    + progress_cells(row.progress) + [
                        yes if c and c.confirmed_at else no,
                        c.confirmed_at if c and c.confirmed_at else None,
                        yes if late else no, c.note if c else ""])
    totals = [[_("District total")] + [data.district.totals[f] for f in queries.FIGURES]
              + progress_cells(data.district.against_district)]
    return report_workbook(Report(
        title=_("Monthly dispatch table %(month)s", month=period.label),
        sheet_name=period.label, as_of=data.as_of, header=header, rows=rows, totals=totals,
        notes=[_("Lateness as of %(d)s (confirmation due %(due)s).", d=data.late_as_of.isoformat(),
                 due=period.due_on.isoformat())]))


@dispatch_bp.route("/<int:period_id>/export.xlsx")
@login_required
def board_export(period_id: int):
    """The month's dispatch table as Excel."""
    perm.require(perm.can_view_dispatch_board(current_user))
    period = _load_period(period_id)
    content = board_workbook(queries.board(period))
    return xlsx_response(_("Monthly dispatch %(month)s.xlsx", month=period.label), content)


@dispatch_bp.route("/<int:period_id>/units/<int:unit_id>")
@login_required
def unit_page(period_id: int, unit_id: int):
    """A unit's own figures of the month, its progress, and the confirmation."""
    period = _load_period(period_id)
    unit = db.session.get(Unit, unit_id, options=[selectinload(Unit.aliases)])
    perm.require_visible(unit is not None and unit.plan_id == period.plan_id
                         and perm.can_view_unit(current_user, unit_id))
    plan = db.session.get(queries.Plan, period.plan_id)
    row = ind.unit_rows(plan, period.month_end, [unit])[0]
    confirmation = queries.confirmations(period.id).get(unit.id)
    stale = bool(confirmation and confirmation.figures
                 and confirmation.figures != row.figures)
    return render_template(
        "enterprises/dispatch_unit.html", period=period, unit=unit, row=row,
        confirmation=confirmation, stale=stale, figure_labels=FIGURE_LABELS,
        late=queries.confirmation_late(period, confirmation, queries.lateness_as_of(period)),
        row_as_of=period.month_end,
        figures=queries.FIGURES, metrics=queries.PROGRESS_METRICS,
        form=ConfirmFiguresForm() if perm.can_confirm_dispatch(current_user, unit.id) else None,
    )


@dispatch_bp.route("/<int:period_id>/units/<int:unit_id>/confirm", methods=["POST"])
@login_required
def confirm(period_id: int, unit_id: int):
    """The unit confirms its figures, with a note."""
    period = _load_period(period_id)
    unit = db.session.get(Unit, unit_id)
    perm.require_visible(unit is not None and unit.plan_id == period.plan_id
                         and perm.can_view_unit(current_user, unit_id))
    perm.require(perm.can_confirm_dispatch(current_user, unit.id))
    form = ConfirmFiguresForm()
    if not form.validate_on_submit():
        flash(_("The note is too long."), "danger")
        return redirect(url_for("dispatch.unit_page", period_id=period.id, unit_id=unit.id))
    with commit_or_refuse() as done:
        row = operations.confirm_figures(period, unit, form.note.data or "", current_user)
    if done:
        flash(_("Figures confirmed (late).") if row.late else _("Figures confirmed."), "success")
    return redirect(url_for("dispatch.unit_page", period_id=period.id, unit_id=unit.id))
