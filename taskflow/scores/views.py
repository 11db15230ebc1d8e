"""Score pages: periods and rankings, a unit's breakdown, supervision actions, rules,
recognitions, the five-colour map, the monthly report, quarterly bulletins and the cockpit."""

from __future__ import annotations

import json
from datetime import date

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.routing import BuildError

from taskflow.core import clock
from taskflow.core import permissions as perms
from taskflow.core.cache import app_cache, ttl_setting
from taskflow.core.errors import commit_or_refuse
from taskflow.core.http import attachment_headers
from taskflow.core.input_guard import (
    bounded_int,
    plan_window,
    plan_years,
    query_year,
    year_message,
)
from taskflow.core.spreadsheets import xlsx_response
from taskflow.extensions import db
from taskflow.plans.models import Plan
from taskflow.plans.queries import district_plan
from taskflow.scores import bp, operations, queries, reports
from taskflow.scores.forms import (
    AdjustForm,
    BulletinCreateForm,
    BulletinForm,
    CorrectForm,
    RecognitionForm,
    RecomputeForm,
    RuleSetForm,
    VersionForm,
)
from taskflow.scores.models import (
    COMPONENTS,
    Bulletin,
    BulletinState,
    ScorePeriod,
    ScorePeriodState,
    ScoreRuleSet,
)
from taskflow.scores.rules import (
    PeriodError,
    default_parameters,
    effective_parameters,
    parse_period_key,
)
from taskflow.units.labels import peer_group_label
from taskflow.units.models import Unit

DOCX_MIMETYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# ---------------------------------------------------------------- helpers


def _plan():
    plan = district_plan()
    if plan is None:
        abort(404)
    return plan


def _key_or_404(key: str) -> str:
    try:
        return parse_period_key(key).key
    except PeriodError:
        abort(404)


def _published_only() -> bool:
    return not perms.can_view_draft_scores(current_user)


def _period_or_404(key: str, revision: int | None = None) -> ScorePeriod:
    """The revision asked for (or the one shown by default); unit users see published ones only."""
    plan = _plan()
    key = _key_or_404(key)
    if revision is not None:
        period = queries.period_revision(plan.id, key, revision)
        if period is not None and _published_only() and period.state != ScorePeriodState.PUBLISHED:
            period = None
    else:
        period = queries.shown_period(plan.id, key, published_only=_published_only())
    perms.require_visible(period is not None)
    return period


def _safe_url(endpoint: str, **values) -> str | None:
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def component_label(name: str) -> str:
    return {"execution": _("Task execution"), "indicators": _("Indicator completion"),
            "responsiveness": _("Responsiveness"), "quality": _("Quality"),
            "incentive": _("Incentive")}.get(name, name)


def state_label(state: str) -> str:
    return {"draft": _("Draft"), "locked": _("Locked"), "published": _("Published")}.get(state, state)


def indicator_name(code: str) -> str:
    return {"tech_based": _("Tech-based enterprises"), "high_tech": _("High-tech enterprises")}.get(code, code)


def item_text(item) -> str:
    """The sentence explaining one score item."""
    d = item.detail or {}
    role = _("lead unit") if d.get("role") == "lead" else _("responsible unit")

    def closed_late():
        return _("Task %(task)s “%(title)s” (due %(due)s, %(role)s): closed on %(closed)s, %(days)s working days late",
                 task=d.get("task"), title=d.get("title"), due=d.get("due"), role=role,
                 closed=d.get("closed"), days=d.get("days_late"))

    def still_open():
        return _("Task %(task)s “%(title)s” (due %(due)s, %(role)s): still open on %(as_of)s, overdue by %(days)s working days",
                 task=d.get("task"), title=d.get("title"), due=d.get("due"), role=role,
                 as_of=d.get("as_of"), days=d.get("days_overdue"))

    texts = {
        "milestone_on_time": lambda: _("Task %(task)s “%(title)s” (due %(due)s, %(role)s): closed on time on %(closed)s",
                                       task=d.get("task"), title=d.get("title"), due=d.get("due"), role=role,
                                       closed=d.get("closed")),
        "milestone_late_minor": closed_late,
        "milestone_late_major": closed_late,
        "milestone_overdue_minor": still_open,
        "milestone_overdue_major": still_open,
        "indicator_reweighted": lambda: _("No indicator target: this component takes the share of points lost in the components that apply (%(components)s): %(lost)s of %(possible)s, %(pct)s%% of the indicator maximum %(maximum)s",
                                          components="、".join(component_label(c) for c in d.get("components", [])),
                                          lost=d.get("lost"), possible=d.get("possible"),
                                          pct=d.get("share_pct"), maximum=d.get("maximum")),
        "indicator_behind": lambda: _("%(indicator)s: %(actual)s against an expected %(expected)s (year target %(target)s); %(pct)s%% done, %(behind)s points behind expected-to-date progress",
                                      indicator=indicator_name(d.get("indicator")), actual=d.get("actual"),
                                      expected=d.get("expected"), target=d.get("target"),
                                      pct=d.get("completion_pct"), behind=d.get("behind")),
        "indicator_on_track": lambda: _("%(indicator)s: %(actual)s against an expected %(expected)s (year target %(target)s); on track",
                                        indicator=indicator_name(d.get("indicator")), actual=d.get("actual"),
                                        expected=d.get("expected"), target=d.get("target")),
        "notice_on_time": lambda: _("Notice %(number)s answered on time", number=d.get("number")),
        "notice_late": lambda: _("Notice %(number)s answered after its response date %(due)s",
                                 number=d.get("number"), due=d.get("due")),
        "notice_unanswered": lambda: _("Notice %(number)s not answered by its response date %(due)s",
                                       number=d.get("number"), due=d.get("due")),
        "first_pass": lambda: _("“%(title)s” accepted at first submission", title=d.get("title")),
        "returned": lambda: _("“%(title)s” returned for correction", title=d.get("title")),
        "returned_false": lambda: _("“%(title)s” returned for false reporting", title=d.get("title")),
        "target_met": lambda: _("%(indicator)s: year target %(target)s reached (%(actual)s)",
                                indicator=indicator_name(d.get("indicator")), target=d.get("target"),
                                actual=d.get("actual")),
        "recognition": lambda: _("Recognition: %(title)s (%(date)s)", title=d.get("title"), date=d.get("awarded")),
    }
    return texts.get(item.reason, lambda: item.reason)()


def item_link(item) -> str | None:
    """Where the event behind an item can be seen."""
    if item.source_type == "milestones":
        return _safe_url("assignments.milestone_detail", milestone_id=item.source_id)
    if item.source_type == "status_updates":
        return _safe_url("assignments.update_detail", update_id=item.source_id)
    if item.source_type == "urge_notices":
        return _safe_url("notices.notice_detail", notice_id=item.source_id)
    if item.source_type == "indicators":
        return _safe_url("enterprises.register", unit=item.unit_id)
    if item.source_type == "score_recognitions":
        return url_for("scores.recognitions") + f"#recognition-{item.source_id}"
    return None


@bp.app_context_processor
def score_helpers():
    return {"component_label": component_label, "score_state_label": state_label,
            "peer_group_label": peer_group_label, "grade_label": reports.grade_label,
            "item_text": item_text, "item_link": item_link, "period_label": reports.period_label,
            "score_components": COMPONENTS}


def _period_params(period: ScorePeriod) -> dict:
    """The rule parameters a period was scored with (defaults for keys its version predates)."""
    return effective_parameters(period.rule_set.parameters if period.rule_set else None)


# ---------------------------------------------------------------- periods and rankings


@bp.route("/scores/")
@login_required
def index():
    """Scored periods (newest revision each) and the on-demand recompute."""
    perms.require(perms.can_view_scores(current_user))
    plan = _plan()
    periods = queries.latest_periods(plan.id, published_only=_published_only())
    form = RecomputeForm() if perms.can_recompute_scores(current_user) else None
    if form is not None and not form.period.data:
        form.period.data = clock.local_today().strftime("%Y-%m")
    return render_template("scores/index.html", periods=periods, form=form)


@bp.route("/scores/recompute", methods=["POST"])
@login_required
def recompute_any():
    """Recompute the period typed in the form (month, quarter or year)."""
    perms.require(perms.can_recompute_scores(current_user))
    plan = _plan()
    form = RecomputeForm()
    form.years = plan_years(plan)
    if not form.validate_on_submit():
        flash("; ".join(str(e) for errors in form.errors.values() for e in errors), "danger")
        return redirect(url_for("scores.index"))
    return _recompute(plan, form.period.data)


def _recompute(plan, key: str):
    # A period far outside the plan (1900) would be created and scored; refused, as in the form.
    low, high = plan_years(plan)
    if not low <= parse_period_key(key).year <= high:
        flash(year_message(low, high), "danger")
        return redirect(url_for("scores.index"))
    with commit_or_refuse() as done:
        period = operations.recompute(plan.id, key, current_user)
    if not done:
        return redirect(url_for("scores.period", key=key))
    flash(_("Scores of %(key)s recomputed.", key=key), "success")
    return redirect(url_for("scores.period", key=period.key))


@bp.route("/scores/periods/<key>")
@login_required
def period(key: str):
    """A period's peer rankings, its state, its revisions and the supervision actions."""
    perms.require(perms.can_view_scores(current_user))
    shown = _period_or_404(key, request.args.get("revision", type=bounded_int))
    revisions = [r for r in queries.period_revisions(shown.plan_id, shown.key)
                 if not _published_only() or r.state == ScorePeriodState.PUBLISHED]
    latest = revisions[0] if revisions else shown
    pending = ({action: operations.pending_confirmation(action, shown)
                for action in ("lock", "publish")}
               if shown.state != ScorePeriodState.PUBLISHED else {})
    return render_template(
        "scores/period.html", period=shown, rankings=queries.ranking(shown), revisions=revisions,
        is_latest=latest.id == shown.id, action_form=VersionForm(), correct_form=CorrectForm(),
        not_rated=queries.not_rated_units(shown), pending=pending,
        second_person=operations.second_person_required(shown),
        can_confirm=perms.can_confirm_scores(current_user),
        can_score=perms.can_score(current_user),
        can_recompute=perms.can_recompute_scores(current_user),
        can_export=perms.can_view_reports(current_user),
    )


@bp.route("/scores/periods/<key>/recompute", methods=["POST"])
@login_required
def recompute(key: str):
    perms.require(perms.can_recompute_scores(current_user))
    return _recompute(_plan(), _key_or_404(key))


@bp.route("/scores/periods/<key>/units/<int:unit_id>")
@login_required
def card(key: str, unit_id: int):
    """Why a unit's score is what it is: every item, the limits applied, the adjustments."""
    perms.require_visible(perms.can_view_score_card(current_user, unit_id))
    shown = _period_or_404(key, request.args.get("revision", type=bounded_int))
    score_card = queries.card_for(shown, unit_id)
    perms.require_visible(score_card is not None)
    form = (AdjustForm() if perms.can_score(current_user)
            and shown.state == ScorePeriodState.DRAFT else None)
    return render_template("scores/card.html", period=shown, card=score_card,
                           breakdown=queries.breakdown(shown, score_card), form=form,
                           p=_period_params(shown),
                           can_open_overdue=perms.can_view_overdue(current_user))


@bp.route("/scores/periods/<key>/r<int:revision>/units/<int:unit_id>/adjust", methods=["POST"])
@login_required
def adjust(key: str, revision: int, unit_id: int):
    """Adjust one unit's score with a mandatory reason."""
    perms.require(perms.can_score(current_user))
    shown = _period_or_404(key, revision)
    score_card = queries.card_for(shown, unit_id)
    perms.require_visible(score_card is not None)
    form = AdjustForm()
    target = url_for("scores.card", key=shown.key, unit_id=unit_id, revision=shown.revision)
    if not form.validate_on_submit():
        db.session.rollback()
        return render_template("scores/card.html", period=shown, card=score_card,
                               breakdown=queries.breakdown(shown, score_card), form=form,
                               p=_period_params(shown)), 400
    with commit_or_refuse() as done:
        operations.adjust(shown, score_card, points_delta=form.points.data, reason=form.reason.data,
                          actor=current_user, expected_version=form.expected_version())
    if done:
        flash(_("Adjustment recorded."), "success")
    return redirect(target)


def _action_labels() -> dict[str, tuple[str, str, str]]:
    """action: (title, what it means, done message)."""
    return {
        "lock": (_("Lock for review"),
                 _("Locked scores are no longer recomputed or adjusted; the supervision team "
                   "reviews them, then publishes them or unlocks them."),
                 _("Period locked for review.")),
        "publish": (_("Publish"),
                    _("Published scores never change: units see them, and a later correction is "
                      "a new revision that supersedes the bulletins built on this one."),
                    _("Period published.")),
        "bulletin_publish": (_("Publish"),
                             _("A published bulletin is frozen: its text and tables no longer "
                               "change, and it is given the next number of the office's series "
                               "(文号), printed in its red header and its file name."),
                             _("Bulletin published; its text is now frozen.")),
    }


def _may_confirm(action: str, obj) -> bool:
    """The first confirmation: the supervision team (scores) or the office (bulletin); the
    second, when one is pending: a supervisor or office user (a different person)."""
    first = (perms.can_edit_bulletin(current_user) if action == "bulletin_publish"
             else perms.can_score(current_user))
    if first:
        return True
    return (perms.can_confirm_scores(current_user)
            and operations.pending_confirmation(action, obj) is not None)


def _confirm_page(action: str, obj, back: str, status: int = 200):
    period = obj.period if action == "bulletin_publish" else obj
    title, meaning, _done = _action_labels()[action]
    return render_template(
        "scores/confirm.html", action=action, obj=obj, period=period, title=title,
        meaning=meaning, back=back, form=VersionForm(),
        pending=operations.pending_confirmation(action, obj),
        second_person=operations.second_person_required(period),
        rated=queries.rated_count(period) if action != "bulletin_publish" else None,
    ), status


def _confirmed_action(action: str, obj, back: str):
    """GET: the confirmation page (no JavaScript needed). POST with confirm=yes: the action."""
    perms.require(_may_confirm(action, obj))
    if request.method == "GET":
        return _confirm_page(action, obj, back)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    if request.form.get("confirm") != "yes":
        return redirect(request.path)  # not confirmed: show the confirmation page
    with commit_or_refuse() as done:  # a refused attempt is committed too: it is audited
        outcome = operations.confirm_action(action, obj, current_user,
                                            expected_version=form.expected_version())
    if not done:
        return redirect(back)
    if outcome.refused:
        flash(_("The second confirmation must be given by a different supervisor or office user."),
              "danger")
    elif outcome.waiting:
        flash(_("Confirmation recorded; a different supervisor or office user must confirm it "
                "before it takes effect."), "success")
    elif action == "bulletin_publish":
        flash(_("Bulletin published as %(number)s; its text is now frozen.", number=obj.number),
              "success")
    else:
        flash(_action_labels()[action][2], "success")
    return redirect(back)


@bp.route("/scores/periods/<key>/r<int:revision>/lock", methods=["GET", "POST"])
@login_required
def lock(key: str, revision: int):
    shown = _period_or_404(key, revision)
    return _confirmed_action("lock", shown, url_for("scores.period", key=shown.key,
                                                    revision=shown.revision))


@bp.route("/scores/periods/<key>/r<int:revision>/unlock", methods=["POST"])
@login_required
def unlock(key: str, revision: int):
    perms.require(perms.can_score(current_user))
    shown = _period_or_404(key, revision)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    with commit_or_refuse() as done:
        operations.unlock(shown, current_user, expected_version=form.expected_version())
    if done:
        flash(_("Period back to draft."), "success")
    return redirect(url_for("scores.period", key=shown.key, revision=shown.revision))


@bp.route("/scores/periods/<key>/r<int:revision>/publish", methods=["GET", "POST"])
@login_required
def publish(key: str, revision: int):
    shown = _period_or_404(key, revision)
    return _confirmed_action("publish", shown, url_for("scores.period", key=shown.key,
                                                       revision=shown.revision))


@bp.route("/scores/periods/<key>/r<int:revision>/correct", methods=["POST"])
@login_required
def correct(key: str, revision: int):
    """A correction of a published period: a new revision; the published one stays visible."""
    perms.require(perms.can_score(current_user))
    shown = _period_or_404(key, revision)
    form = CorrectForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for the correction."), "danger")
        return redirect(url_for("scores.period", key=shown.key, revision=shown.revision))
    with commit_or_refuse() as done:
        new = operations.correct(shown, current_user, reason=form.reason.data,
                                 expected_version=form.expected_version())
    if not done:
        return redirect(url_for("scores.period", key=shown.key, revision=shown.revision))
    flash(_("Correction started as revision %(n)s.", n=new.revision), "success")
    return redirect(url_for("scores.period", key=new.key, revision=new.revision))


# ---------------------------------------------------------------- rules


@bp.route("/scores/rules")
@login_required
def rules():
    """Every version of the rules; the newest in force first."""
    perms.require(perms.can_view_reports(current_user))
    return render_template("scores/rules.html", rule_sets=queries.rule_sets(),
                           can_score=perms.can_score(current_user))


@bp.route("/scores/rules/<int:version>")
@login_required
def rule_set(version: int):
    perms.require(perms.can_view_reports(current_user))
    found = db.session.scalar(select(ScoreRuleSet).where(ScoreRuleSet.version == version))
    perms.require_visible(found is not None)
    return render_template("scores/rule_set.html", rule_set=found,
                           p=effective_parameters(found.parameters),
                           parameters_json=json.dumps(found.parameters, ensure_ascii=False, indent=2))


@bp.route("/scores/rules/new", methods=["GET", "POST"])
@login_required
def new_rule_set():
    """Edit the rules: saved as a new version (older versions stay for the periods they scored)."""
    perms.require(perms.can_score(current_user))
    form = RuleSetForm()
    if request.method == "GET":
        newest = queries.rule_sets()
        base = newest[0] if newest else None
        form.name.data = base.name if base else ""
        form.effective_from.data = clock.local_today()
        # A version saved before a parameter existed is offered with that parameter's default.
        form.parameters.data = json.dumps(effective_parameters(base.parameters) if base
                                          else default_parameters(),
                                          ensure_ascii=False, indent=2)
    if form.validate_on_submit():
        with commit_or_refuse() as done:
            created = operations.create_rule_set(current_user, name=form.name.data,
                                                 effective_from=form.effective_from.data,
                                                 parameters=form.parsed, note=form.note.data)
        if done:
            flash(_("Rules saved as version %(v)s.", v=created.version), "success")
            return redirect(url_for("scores.rule_set", version=created.version))
    status = 400 if request.method == "POST" else 200
    return render_template("scores/rule_form.html", form=form), status


# ---------------------------------------------------------------- recognitions


@bp.route("/scores/recognitions", methods=["GET", "POST"])
@login_required
def recognitions():
    """Recognitions with their evidence; the supervision team enters them."""
    perms.require(perms.can_view_reports(current_user))
    plan = _plan()
    form = None
    if perms.can_score(current_user):
        form = RecognitionForm()
        form.date_window = plan_window(plan)
        form.unit_id.choices = [(u.id, u.name) for u in queries.scored_units(plan.id)]
        if request.method == "GET":
            form.awarded_on.data = clock.local_today()
    if request.method == "POST":
        perms.require(form is not None)
        if form.validate_on_submit():
            unit = db.session.get(Unit, form.unit_id.data)
            with commit_or_refuse() as done:
                operations.add_recognition(current_user, unit=unit, awarded_on=form.awarded_on.data,
                                           title=form.title.data, points_value=form.points.data,
                                           evidence=form.evidence.data)
            if done:
                flash(_("Recognition recorded."), "success")
                return redirect(url_for("scores.recognitions"))
    status = 400 if request.method == "POST" else 200
    return render_template("scores/recognitions.html", rows=queries.recognitions(plan.id),
                           form=form), status


# ---------------------------------------------------------------- five-colour map


@bp.route("/scores/map")
@login_required
def colour_map():
    """Units × months coloured by grade, and the district's progress task by task."""
    perms.require(perms.can_view_reports(current_user))
    plan = _plan()
    today = clock.local_today()
    year = query_year("year", today.year)
    grid = queries.five_colour_map(plan.id, year)
    return render_template("scores/map.html", grid=grid, year=year, plan=plan,
                           tasks=queries.task_progress(plan.id, today),
                           rule_set=queries.rule_set_for(date(year, 12, 31)))


# ---------------------------------------------------------------- monthly report


@bp.route("/scores/periods/<key>/innovation-report.xlsx")
@login_required
def monthly_report(key: str):
    """The monthly innovation report (创新报表) as Excel."""
    perms.require(perms.can_view_reports(current_user))
    key = _key_or_404(key)
    if parse_period_key(key).kind != "month":
        abort(404)
    content = reports.monthly_report(_plan(), key)
    return xlsx_response(_("Innovation report %(key)s", key=key) + ".xlsx", content)


# ---------------------------------------------------------------- bulletins


@bp.route("/scores/bulletins")
@login_required
def bulletins():
    """Quarterly bulletins; the office drafts one from a locked or published quarter."""
    perms.require(perms.can_view_reports(current_user))
    plan = _plan()
    rows = queries.bulletins(plan.id)
    # A bulletin stands on published scores: the latest revision of a quarter, once published.
    quarters = [p for p in queries.latest_periods(plan.id)
                if p.kind == "quarter" and p.state == ScorePeriodState.PUBLISHED]
    return render_template("scores/bulletins.html", rows=rows, quarters=quarters,
                           form=BulletinCreateForm(), can_edit=perms.can_edit_bulletin(current_user))


@bp.route("/scores/bulletins", methods=["POST"])
@login_required
def create_bulletin():
    perms.require(perms.can_edit_bulletin(current_user))
    form = BulletinCreateForm()
    if not form.validate_on_submit():
        abort(400)
    period_row = db.session.get(ScorePeriod, form.period_id.data)
    perms.require_visible(period_row is not None and period_row.plan_id == _plan().id)
    with commit_or_refuse() as done:
        bulletin = operations.create_bulletin(period_row, current_user)
    if not done:
        return redirect(url_for("scores.bulletins"))
    flash(_("Bulletin drafted; edit its text before publishing."), "success")
    return redirect(url_for("scores.bulletin", bulletin_id=bulletin.id))


def _bulletin_or_404(bulletin_id: int) -> Bulletin:
    found = db.session.scalar(select(Bulletin).options(selectinload(Bulletin.sections),
                                                       selectinload(Bulletin.period),
                                                       selectinload(Bulletin.superseded_by))
                              .where(Bulletin.id == bulletin_id))
    perms.require_visible(found is not None)
    return found


@bp.route("/scores/bulletins/<int:bulletin_id>", methods=["GET", "POST"])
@login_required
def bulletin(bulletin_id: int):
    """A bulletin's text; the office edits a draft section by section."""
    perms.require(perms.can_view_reports(current_user))
    found = _bulletin_or_404(bulletin_id)
    form = BulletinForm()
    if request.method == "POST":
        perms.require(perms.can_edit_bulletin(current_user))
        sections = {s.key: request.form.get(f"section-{s.key}", s.body) for s in found.sections}
        if not form.validate_on_submit():
            if "csrf_token" in form.errors:
                abort(400)
            # Too long for its column (a 1 MB title once broke every download): nothing saved.
            flash("; ".join(str(e) for e in form.title.errors), "danger")
            return redirect(url_for("scores.bulletin", bulletin_id=bulletin_id))
        if problems := form.section_errors(sections):
            flash("; ".join(problems), "danger")
            return redirect(url_for("scores.bulletin", bulletin_id=bulletin_id))
        with commit_or_refuse() as done:
            operations.update_bulletin(found, current_user, title=form.title.data or "",
                                       sections=sections, expected_version=form.expected_version())
        if done:
            flash(_("Bulletin saved."), "success")
        return redirect(url_for("scores.bulletin", bulletin_id=bulletin_id))
    editable = found.state == BulletinState.DRAFT and not found.is_superseded
    return render_template("scores/bulletin.html", bulletin=found, form=form,
                           can_edit=perms.can_edit_bulletin(current_user) and editable,
                           pending=operations.pending_confirmation("bulletin_publish", found)
                           if editable else None,
                           can_confirm=perms.can_confirm_scores(current_user))


@bp.route("/scores/bulletins/<int:bulletin_id>/publish", methods=["GET", "POST"])
@login_required
def publish_bulletin(bulletin_id: int):
    perms.require(perms.can_view_reports(current_user))
    found = _bulletin_or_404(bulletin_id)
    return _confirmed_action("bulletin_publish", found,
                             url_for("scores.bulletin", bulletin_id=bulletin_id))


@bp.route("/scores/bulletins/<int:bulletin_id>/bulletin.docx")
@login_required
def bulletin_docx(bulletin_id: int):
    """The bulletin as a 公文 Word document (a draft is marked 征求意见稿 and has no 文号)."""
    perms.require(perms.can_view_reports(current_user))
    found = _bulletin_or_404(bulletin_id)
    content = reports.bulletin_docx(found)
    response = current_app.response_class(content, mimetype=DOCX_MIMETYPE)
    # The 文号 first (綦双倍增办〔2026〕3号 …): how the office files what it sends.
    name = f"{found.number} {found.title}" if found.number else f"{found.title}（{_('draft')}）"
    response.headers.update(attachment_headers(f"{name}.docx"))
    return response


# ---------------------------------------------------------------- cockpit


COCKPIT_CACHE = "scores.cockpit"


def _cockpit_ttl() -> float:
    return ttl_setting("COCKPIT_CACHE_SECONDS")


def _cockpit_key(kind: str, plan_id: int, today: date, *extra) -> tuple:
    """Cached cockpit content is the same for every viewer: it varies by plan, locale and day."""
    return (kind, plan_id, str(get_locale()), today.isoformat(), *extra)


def _cockpit_plan_id() -> int:
    """The district plan's id, kept with the cockpit's content so a warm request asks nothing."""
    return app_cache(COCKPIT_CACHE).get_or_compute(
        ("plan-id",), _cockpit_ttl(), lambda: _plan().id).value


def _cockpit_plan(plan_id: int):
    """The plan itself, loaded only when the cached content has to be computed."""
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        abort(404)
    return plan


def _cockpit_content(plan, today: date) -> str:
    """The cockpit's main block as HTML (templates/scores/_cockpit_content.html)."""
    from taskflow.measures.indicators import district_figures
    from taskflow.plans.queries import city_comparison

    district = district_figures(plan, today, with_units=False)  # the register as of today
    month = queries.latest_scored_month(plan.id)
    tasks = queries.task_progress(plan.id, today)
    return render_template(
        "scores/_cockpit_content.html", plan=plan, today=today, district=district,
        goals=queries.plan_goal_targets(plan), comparison=city_comparison(plan),
        tasks=tasks, overdue_total=sum(t.overdue for t in tasks),
        overdue_units=queries.overdue_by_unit(plan.id, today, limit=10),
        month=month, top_bottom=queries.top_bottom(month),
        overdue_url=_safe_url("notices.overdue"), register_url=_safe_url("enterprises.register"),
        updated_at=clock.local_now(),
    )


@bp.route("/cockpit")
@login_required
def cockpit():
    """Leaders' overview: figures against targets, trends, overdue items, top and bottom units.

    The main block is the same for office, supervisor and leader, so it is rendered once per
    (plan, locale, day) and served from this worker's memory for COCKPIT_CACHE_SECONDS; the page
    around it (user name, CSRF token) is rendered on every request."""
    perms.require(perms.can_view_cockpit(current_user))
    plan_id = _cockpit_plan_id()
    today = clock.local_today()
    entry = app_cache(COCKPIT_CACHE).get_or_compute(
        _cockpit_key("page", plan_id, today), _cockpit_ttl(),
        lambda: _cockpit_content(_cockpit_plan(plan_id), today))
    return render_template("scores/cockpit.html", content=Markup(entry.value))


def _cockpit_series(plan, today: date, year: int) -> dict:
    register = queries.monthly_register_trend(plan.id, year, today)
    scores = queries.score_trend(plan.id, year)
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    return {
        "register": {"labels": register["labels"],
                     "series": [{"label": _("Tech-based enterprises"), "data": register["tech_based"]},
                                {"label": _("High-tech enterprises"), "data": register["high_tech"]}]},
        "scores": {"labels": months,
                   "series": [{"label": peer_group_label(group),
                               "data": [values.get(m) for m in months]}
                              for group, values in sorted(scores.items())]},
    }


@bp.route("/cockpit/data.json")
@login_required
def cockpit_data():
    """Series for the cockpit's trend charts (cached like the cockpit's content)."""
    perms.require(perms.can_view_cockpit(current_user))
    plan_id = _cockpit_plan_id()
    today = clock.local_today()
    year = query_year("year", today.year)
    entry = app_cache(COCKPIT_CACHE).get_or_compute(
        _cockpit_key("data", plan_id, today, year), _cockpit_ttl(),
        lambda: _cockpit_series(_cockpit_plan(plan_id), today, year))
    return jsonify(entry.value)
