"""Pages: inbox, urge notices (list, detail, answer, print), overdue items, outbox, calendar."""

from datetime import date, timedelta

from flask import Flask, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from taskflow.assignments.models import Milestone
from taskflow.core import clock
from taskflow.core import permissions as perms
from taskflow.core.calendar import UnknownCalendarYear, WorkCalendar
from taskflow.core.errors import commit_or_refuse
from taskflow.core.input_guard import bounded_int, page_number
from taskflow.core.models import WorkdayOverride
from taskflow.core.security import same_site_path
from taskflow.extensions import db
from taskflow.notices import bp, links, messages, operations, queries
from taskflow.notices.forms import (
    ActionForm,
    CalendarYearForm,
    IssueNoticeForm,
    RespondForm,
    RobotForm,
    WorkdayOverrideForm,
)
from taskflow.notices.holiday_notice import NoticeParseError, parse_notice
from taskflow.notices.models import Notification, OutboxMessage, Robot, UrgeNotice

LEVELS = ("blue", "yellow", "red")
STATUSES = ("issued", "acknowledged", "answered")


def inbox_unread_count() -> int:
    """The inbox badge: loaded with the signed-in user (accounts.register_user_figure)."""
    if not getattr(current_user, "is_authenticated", False):
        return 0
    if "inbox_unread" not in g:
        g.inbox_unread = queries.unread_count(current_user.id)
    return g.inbox_unread


def register_context(app: Flask) -> None:
    """Template helpers: the inbox badge (in the cached navigation's key) and notification texts."""
    from taskflow.core.templating import register_nav_state

    register_nav_state(app, inbox_unread_count, slot="end")

    @app.context_processor
    def inject_notices():
        return {
            "inbox_unread_count": inbox_unread_count,
            "calendar_banner_years": calendar_banner_years,
            "dispatch_deadline_working_days": lambda: int(
                current_app.config["DISPATCH_LATE_AFTER_WORKING_DAY"]),
            "notification_text": messages.render,
            "notice_level_name": messages.level_name,
            "notice_status_name": messages.status_name,
            "milestone_link": lambda m: links.milestone_path(
                {"id": m.id, "assignment_id": m.assignment_id}),
        }


def calendar_banner_years() -> list[int]:
    """The years the plans need (and the next year) that nobody has entered, for the banner the
    admin and the office see on every page. Computed per request (never part of the cached
    navigation) from figures loaded with the signed-in user: no query of its own."""
    if not perms.can_view_calendar_years(current_user):
        return []
    if "calendar_banner_years" not in g:
        today = clock.local_today()
        if "plan_last_year" in g:
            first, last = queries.years_needed(g.plan_first_year, g.plan_last_year, today)
            g.calendar_banner_years = queries.unknown_years_from(
                first, last, queries.parse_entered_years(g.calendar_entered_years))
        else:  # the user was not loaded by the session loader (a test's login_user, say)
            g.calendar_banner_years = queries.unknown_plan_years(today)
    return g.calendar_banner_years


def _page() -> int:
    return page_number()


# ---------------------------------------------------------------- inbox


@bp.route("/inbox")
@login_required
def inbox():
    """The signed-in user's notifications."""
    unread_only = request.args.get("unread") == "1"
    page = queries.inbox(current_user.id, unread_only=unread_only, page=_page())
    return render_template("notices/inbox.html", page=page, unread_only=unread_only,
                           form=ActionForm())


@bp.route("/inbox/<int:notification_id>/open", methods=["POST"])
@login_required
def open_notification(notification_id: int):
    """Mark an item read and go to the page it is about."""
    item = db.session.get(Notification, notification_id)
    perms.require_visible(item is not None and perms.can_open_notification(current_user, item))
    if not ActionForm().validate_on_submit():
        abort(400)
    operations.mark_read(item)
    db.session.commit()
    return redirect(same_site_path(item.link) or url_for("notices.inbox"))


@bp.route("/inbox/read-all", methods=["POST"])
@login_required
def read_all():
    """Mark every item read."""
    if not ActionForm().validate_on_submit():
        abort(400)
    count = operations.mark_all_read(current_user)
    db.session.commit()
    flash(_("%(count)s items marked read.", count=count), "success")
    return redirect(url_for("notices.inbox"))


# ---------------------------------------------------------------- urge notices


@bp.route("/")
@login_required
def notice_list():
    """Urge notices: the unit's own, or every unit's for the reading roles."""
    perms.require(perms.can_view_notices(current_user))
    unit_id = None if perms.reads_everything(current_user) else current_user.unit_id
    level = request.args.get("level") if request.args.get("level") in LEVELS else None
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    page = queries.notices(unit_id=unit_id, level=level, status=status, page=_page())
    return render_template("notices/list.html", page=page, level=level, status=status,
                           levels=LEVELS, statuses=STATUSES, today=clock.local_today())


def _load_notice(notice_id: int) -> UrgeNotice:
    notice = queries.notice_detail(notice_id)
    perms.require_visible(notice is not None and perms.can_view_notice(current_user, notice))
    return notice


@bp.route("/<int:notice_id>")
@login_required
def notice_detail(notice_id: int):
    """A notice, its items, and the unit's acknowledgement and answer."""
    notice = _load_notice(notice_id)
    return render_template("notices/detail.html", notice=notice, form=RespondForm(),
                           action_form=ActionForm(), today=clock.local_today(),
                           can_answer=perms.can_answer_notice(current_user, notice))


@bp.route("/<int:notice_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge(notice_id: int):
    """The unit confirms receipt."""
    notice = _load_notice(notice_id)
    perms.require(perms.can_answer_notice(current_user, notice))
    if not ActionForm().validate_on_submit():
        abort(400)
    # A concurrent acknowledgement loses the lock: it is the same refusal as the operation's.
    with commit_or_refuse(category="warning",
                          conflict=_("This notice has already been acknowledged.")) as done:
        operations.acknowledge_notice(notice, current_user)
    if done:
        flash(_("Receipt acknowledged."), "success")
    return redirect(url_for("notices.notice_detail", notice_id=notice_id))


@bp.route("/<int:notice_id>/respond", methods=["POST"])
@login_required
def respond(notice_id: int):
    """The unit answers the notice."""
    notice = _load_notice(notice_id)
    perms.require(perms.can_answer_notice(current_user, notice))
    form = RespondForm()
    if not form.validate_on_submit():
        return render_template("notices/detail.html", notice=notice, form=form,
                               action_form=ActionForm(), today=clock.local_today(),
                               can_answer=True), 400
    with commit_or_refuse(category="warning",
                          conflict=_("This notice has already been answered.")) as done:
        operations.respond_to_notice(notice, form.response.data, current_user)
    if done:
        flash(_("Your answer has been sent to the joint-meeting office."), "success")
    return redirect(url_for("notices.notice_detail", notice_id=notice_id))


@bp.route("/<int:notice_id>/print")
@login_required
def notice_print(notice_id: int):
    """The notice on one A4 page in the usual official layout."""
    notice = _load_notice(notice_id)
    return render_template("notices/print.html", notice=notice,
                           issued_on=clock.to_local(notice.issued_at).date())


# ---------------------------------------------------------------- overdue items (office)


@bp.route("/overdue")
@login_required
def overdue():
    """Overdue items across units; the office selects some and issues a notice.

    ?unit= and ?task= filter the list (the cockpit's counts link here); ?as_of=YYYY-MM-DD shows
    the items overdue at the end of an earlier day, working days counted to it (read only).
    """
    perms.require(perms.can_view_overdue(current_user))
    today = clock.local_today()
    as_of = today
    raw_as_of = request.args.get("as_of", "")
    if raw_as_of:
        try:
            as_of = min(date.fromisoformat(raw_as_of), today)
        except ValueError:
            abort(404)
    unit_id = request.args.get("unit", type=bounded_int)
    task_id = request.args.get("task", type=bounded_int)
    try:
        # The list is filtered in SQL by the overdue measure itself, so it has exactly as many
        # rows as the count that links here (measures.overdue_counts).
        items = queries.overdue_items(as_of, unit_id=unit_id, task_id=task_id)
        # The unit chooser: every unit with overdue items, whatever the filter.
        units = queries.overdue_units(as_of)
    except UnknownCalendarYear as exc:  # working days late cannot be counted: say so, no guess
        flash(exc.message(), "danger")
        items, units = [], []
    form = IssueNoticeForm()
    if form.response_due.data is None:
        try:
            form.response_due.data = WorkCalendar.load().add_working_days(
                today, int(current_app.config["URGE_RESPONSE_WORKING_DAYS"]))
        except UnknownCalendarYear as exc:  # the office picks the answer date itself
            flash(exc.message(), "warning")
    return render_template("notices/overdue.html", items=items, form=form, today=as_of,
                           unit_id=unit_id, task_id=task_id, units=units,
                           as_of=raw_as_of if as_of != today else "",
                           can_issue=perms.can_issue_notice(current_user) and as_of == today)


@bp.route("/issue", methods=["POST"])
@login_required
def issue():
    """Issue a notice (one per unit) about the selected overdue items."""
    perms.require(perms.can_issue_notice(current_user))
    form = IssueNoticeForm()
    today = clock.local_today()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "danger")
        return redirect(url_for("notices.overdue"))
    ids = sorted(set(form.milestone_ids.data or []))
    milestones = list(db.session.scalars(
        select(Milestone).where(Milestone.id.in_(ids))
        .options(selectinload(Milestone.assignment))
    ))
    if len(milestones) != len(ids):
        abort(404)
    if form.response_due.data < today:
        flash(_("The answer date cannot be in the past."), "danger")
        return redirect(url_for("notices.overdue"))
    with commit_or_refuse() as done:
        issued = operations.issue_by_hand(milestones, form.level.data, form.response_due.data,
                                          (form.note.data or "").strip(), current_user)
    if not done:
        return redirect(url_for("notices.overdue"))
    flash(_("Issued: %(numbers)s", numbers="、".join(n.number for n in issued)), "success")
    if len(issued) == 1:
        return redirect(url_for("notices.notice_detail", notice_id=issued[0].id))
    return redirect(url_for("notices.notice_list"))


# ---------------------------------------------------------------- outbox (admin)


@bp.route("/outbox")
@login_required
def outbox():
    """Delivery state, and every failure with its error."""
    perms.require(perms.can_manage_outbox(current_user))
    return render_template("notices/outbox.html", summary=queries.outbox_summary(),
                           page=queries.outbox_problems(page=_page()), form=ActionForm())


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@login_required
def outbox_retry(message_id: int):
    """Send a failed message again."""
    perms.require(perms.can_manage_outbox(current_user))
    message = db.session.get(OutboxMessage, message_id)
    perms.require_visible(message is not None)
    if not ActionForm().validate_on_submit():
        abort(400)
    with commit_or_refuse(category="warning") as done:
        operations.retry_outbox(message, current_user)
    if done:
        flash(_("The message will be sent again within a minute."), "success")
    return redirect(url_for("notices.outbox"))


# ---------------------------------------------------------------- group robots


def _robot_owner_choices(form: RobotForm) -> None:
    """The office and every unit for the administrator and the office; a unit head's own unit."""
    from taskflow.accounts.forms import unit_choices
    from taskflow.accounts.queries import district_units

    if perms.can_manage_robot(current_user, None):
        form.unit_id.choices = unit_choices(district_units(),
                                            empty_label=_("The joint-meeting office"))
    else:
        form.unit_id.choices = [(str(current_user.unit_id), current_user.unit.name)]


def _chosen_owner(form: RobotForm) -> int | None:
    """The owner the form names, refused unless the user may manage that owner's robot."""
    raw = form.unit_id.data or ""
    if not perms.can_manage_robot(current_user, None):
        return current_user.unit_id  # a unit head adds robots for the own unit only
    if not raw:
        return None
    from taskflow.units.models import Unit

    if not raw.isdigit() or db.session.get(Unit, int(raw)) is None:
        abort(400)
    return int(raw)


def _load_robot(robot_id: int) -> Robot:
    robot = db.session.get(Robot, robot_id)
    # Another unit's robot does not exist for a unit head (404, never 403).
    perms.require_visible(robot is not None and perms.can_manage_robot(current_user, robot.unit_id))
    return robot


@bp.route("/robots")
@login_required
def robots():
    """Group robots and how their messages fare: every robot, or the unit head's unit's."""
    perms.require(perms.can_view_robots(current_user))
    every = perms.can_manage_robot(current_user, None)
    rows = queries.robots(current_user.unit_id, every_unit=every)
    return render_template("notices/robots.html", robots=rows, form=ActionForm(),
                           status=queries.robot_status([r.id for r in rows]),
                           mask_url=operations.mask_url)


def _robot_form_page(form: RobotForm, robot: Robot | None, status: int = 200):
    return render_template("notices/robot_form.html", form=form, robot=robot,
                           hints=operations.ROBOT_URL_HINTS,
                           masked_url=operations.mask_url(robot.webhook_url) if robot else ""), status


def _save_robot_from(form: RobotForm, robot: Robot | None):
    with commit_or_refuse(form=form) as done:
        saved = operations.save_robot(
            robot, platform=form.platform.data, name=form.name.data,
            webhook_url=form.webhook_url.data, secret=form.secret.data,
            clear_secret=bool(form.clear_secret.data), unit_id=_chosen_owner(form),
            active=bool(form.active.data), actor=current_user._get_current_object(),
            expected_version=int(form.version_id.data) if (form.version_id.data or "").isdigit()
            else None)
    if not done:
        return _robot_form_page(form, robot, 400)
    flash(_("Robot %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("notices.robots"))


@bp.route("/robots/new", methods=["GET", "POST"])
@login_required
def robot_new():
    """Add a robot: a unit's work group or the office's."""
    perms.require(perms.can_view_robots(current_user))
    form = RobotForm()
    _robot_owner_choices(form)
    if request.method == "GET" and not perms.can_manage_robot(current_user, None):
        form.unit_id.data = str(current_user.unit_id)
    if form.validate_on_submit():
        return _save_robot_from(form, None)
    return _robot_form_page(form, None, 400 if form.errors else 200)


@bp.route("/robots/<int:robot_id>", methods=["GET", "POST"])
@login_required
def robot_edit(robot_id: int):
    """Change a robot (the address and secret stay unless new ones are entered)."""
    perms.require(perms.can_view_robots(current_user))
    robot = _load_robot(robot_id)
    form = RobotForm(obj=robot if request.method == "GET" else None)
    _robot_owner_choices(form)
    if request.method == "GET":
        form.webhook_url.data = ""
        form.unit_id.data = str(robot.unit_id or "")
        form.version_id.data = str(robot.version_id)
    if form.validate_on_submit():
        return _save_robot_from(form, robot)
    return _robot_form_page(form, robot, 400 if form.errors else 200)


@bp.route("/robots/<int:robot_id>/test", methods=["POST"])
@login_required
def robot_test(robot_id: int):
    """Queue a test message to the robot."""
    perms.require(perms.can_view_robots(current_user))
    robot = _load_robot(robot_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    operations.send_robot_test(robot, current_user._get_current_object())
    db.session.commit()
    flash(_("A test message is queued and goes out within a minute; its result shows here."),
          "success")
    return redirect(url_for("notices.robots"))


# ---------------------------------------------------------------- working-day calendar (admin)


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def calendar():
    """Working-day overrides on top of the national holiday calendar."""
    perms.require(perms.can_manage_calendar(current_user))
    form = WorkdayOverrideForm()
    if form.validate_on_submit():
        operations.set_workday_override(form.day.data, form.is_workday.data == "1",
                                        (form.note.data or "").strip(), current_user)
        db.session.commit()
        flash(_("Saved: %(day)s", day=form.day.data.isoformat()), "success")
        return redirect(url_for("notices.calendar"))
    today = clock.local_today()
    cal = WorkCalendar.load()
    upcoming = []
    day = today
    for _i in range(21):
        # None: the year's arrangement is unknown (shown as such, never guessed).
        working = cal.is_workday(day) if cal.knows(day.year) else None
        upcoming.append((day, working, day in cal.overrides))
        day += timedelta(days=1)
    return render_template("notices/calendar.html", form=form, overrides=queries.workday_overrides(),
                           upcoming=upcoming, action_form=ActionForm()), (400 if form.errors else 200)


@bp.route("/calendar/years", methods=["GET", "POST"])
@login_required
def calendar_years():
    """Which years the calendar knows; the admin enters a year by pasting the State Council's
    notice: a first POST previews the rest and make-up days, a confirming POST stores them."""
    perms.require(perms.can_view_calendar_years(current_user))
    can_enter = perms.can_manage_calendar(current_user)
    form = CalendarYearForm()
    preview = None
    status = 200
    if request.method == "POST":
        perms.require(can_enter)
        if form.validate_on_submit():
            try:
                if form.confirm.data == "1":
                    row, arrangement = operations.enter_calendar_year(
                        form.text.data, form.year.data, current_user)
                    db.session.commit()
                    flash(_("The holiday arrangement of %(year)s is saved: %(rest)s rest days, "
                            "%(work)s make-up working days.", year=row.year, rest=row.rest_days,
                            work=row.make_up_days), "success")
                    return redirect(url_for("notices.calendar_years"))
                preview = parse_notice(form.text.data, form.year.data)
            except NoticeParseError as exc:
                db.session.rollback()
                form.text.errors = list(form.text.errors) + exc.problems
                status = 400
        else:
            status = 400
    elif request.args.get("year", type=bounded_int):
        form.year.data = request.args.get("year", type=bounded_int)
    years = queries.calendar_years_status(clock.local_today())
    return render_template("notices/calendar_years.html", form=form, preview=preview, years=years,
                           can_enter=can_enter), status


@bp.route("/calendar/<int:override_id>/delete", methods=["POST"])
@login_required
def calendar_delete(override_id: int):
    """Drop an override."""
    perms.require(perms.can_manage_calendar(current_user))
    override = db.session.get(WorkdayOverride, override_id)
    perms.require_visible(override is not None)
    if not ActionForm().validate_on_submit():
        abort(400)
    operations.delete_workday_override(override, current_user)
    db.session.commit()
    flash(_("Override removed."), "success")
    return redirect(url_for("notices.calendar"))
