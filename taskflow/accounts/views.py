"""Sign-in and sign-out, my account, and the administrator's user pages."""

import logging
import math

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from taskflow.accounts import bp, sessions
from taskflow.accounts.forms import (
    ChangePasswordForm,
    LanguageForm,
    LoginForm,
    ResetPasswordForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
)
from taskflow.accounts.models import User
from taskflow.accounts.operations import (
    AccountError,
    EditConflict,
    WrongPassword,
    change_password,
    create_user,
    record_login_attempt,
    reset_password,
    set_user_locale,
    sign_in,
    sign_out,
    throttled_until,
    update_user,
)
from taskflow.accounts.queries import district_units, users_query
from taskflow.core import clock
from taskflow.core.i18n import LOCALE_SESSION_KEY
from taskflow.core.input_guard import bounded_int, page_number
from taskflow.core.permissions import can_manage_users, require
from taskflow.core.security import same_site_path
from taskflow.extensions import db
from taskflow.units.models import Unit

log = logging.getLogger("taskflow.auth")

USERS_PER_PAGE = 25


# ---------------------------------------------------------------- sign-in


def _throttle_message(retry_at) -> str:
    minutes = max(1, math.ceil((retry_at - clock.utcnow()).total_seconds() / 60))
    return _("Too many failed sign-in attempts. Sign-in is blocked for now: try again "
             "in %(minutes)d minutes (after %(time)s).", minutes=minutes,
             time=clock.to_local(retry_at).strftime("%H:%M"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with username and password (throttled per account and per IP)."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        ip = request.remote_addr or ""
        username = form.username.data.strip()
        result = sign_in(username, form.password.data, ip)
        db.session.commit()
        if result.status == "ok":
            login_user(result.user)
            log.info("sign-in %s (%s) from %s", result.user.username, result.user.role, ip)
            return redirect(same_site_path(request.args.get("next")) or url_for("core.home"))
        if result.status == "throttled":
            log.warning("sign-in throttled for %r from %s until %s", username, ip,
                        result.retry_at.isoformat())
            flash(_throttle_message(result.retry_at), "danger")
            status = 429
        elif result.status == "disabled":
            log.warning("sign-in refused for disabled account %r from %s", username, ip)
            flash(_("This account is disabled. Please contact the system administrator."),
                  "danger")
        else:
            log.warning("sign-in failed for %r from %s", username, ip)
            flash(_("Wrong username or password."), "danger")
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out: ends this user's sessions, so a copied cookie no longer works."""
    user = current_user._get_current_object()
    sign_out(user)
    db.session.commit()
    log.info("sign-out %s from %s", user.username, request.remote_addr)
    sessions.end_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("accounts.login"))


# ---------------------------------------------------------------- my account


def _account_page(password_form=None, language_form=None, status=200):
    language_form = language_form or LanguageForm(
        locale=current_user.locale or session.get(LOCALE_SESSION_KEY) or "zh_CN")
    return render_template(
        "accounts/account.html",
        password_form=password_form or ChangePasswordForm(),
        language_form=language_form,
    ), status


@bp.route("/account")
@login_required
def account():
    """My account: details, password, language."""
    return _account_page()


@bp.route("/account/password", methods=["POST"])
@login_required
def account_password():
    """Change my password; every session ends and I sign in again."""
    form = ChangePasswordForm()
    form.username_for_rules = current_user.username
    if not form.validate_on_submit():
        return _account_page(password_form=form, status=400)
    user = current_user._get_current_object()
    ip = request.remote_addr or ""
    # Guessing the current password here counts like guessing it at sign-in.
    retry_at = throttled_until(user.username, ip)
    if retry_at is not None:
        log.warning("password change throttled for %s from %s", user.username, ip)
        form.current_password.errors.append(_throttle_message(retry_at))
        return _account_page(password_form=form, status=429)
    try:
        change_password(user, form.current_password.data, form.new_password.data)
    except AccountError as exc:
        db.session.rollback()
        if isinstance(exc, WrongPassword):
            record_login_attempt(user.username, ip, False)
            db.session.commit()
            log.warning("password change with a wrong current password by %s from %s",
                        user.username, ip)
        field = form.current_password if exc.field == "current_password" else form.new_password
        field.errors.append(str(exc))
        return _account_page(password_form=form, status=400)
    db.session.commit()
    log.info("password changed by %s from %s", user.username, request.remote_addr)
    sessions.end_session()
    flash(_("Your password has been changed. Please sign in with the new password."), "success")
    return redirect(url_for("accounts.login"))


@bp.route("/account/language", methods=["POST"])
@login_required
def account_language():
    """Save my interface language."""
    form = LanguageForm()
    if not form.validate_on_submit():
        return _account_page(language_form=form, status=400)
    set_user_locale(current_user._get_current_object(), form.locale.data)
    db.session.commit()
    session[LOCALE_SESSION_KEY] = form.locale.data
    flash(_("Your language has been saved."), "success")
    return redirect(url_for("accounts.account"))


# ---------------------------------------------------------------- administration


def _show_error(form, exc: AccountError) -> None:
    """Put an operation's refusal under its form field, or flash it."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and isinstance(field.errors, list):
        field.errors.append(str(exc))
    else:
        flash(str(exc), "danger")


def _load_user(user_id: int, *, for_update: bool = False) -> User:
    user = db.session.get(User, user_id, with_for_update=for_update or None,
                          populate_existing=for_update)
    if user is None:
        abort(404)
    return user


def _chosen_unit(unit_id: int | None) -> Unit | None:
    return db.session.get(Unit, unit_id) if unit_id else None


@bp.route("/admin/users")
@login_required
def user_list():
    """All users, filtered by role, unit or name, a page at a time."""
    require(can_manage_users(current_user))
    units = district_units()
    form = UserFilterForm(request.args)
    form.setup_choices(units)
    role = request.args.get("role") or None
    unit_id = request.args.get("unit", type=bounded_int)
    search = (request.args.get("q") or "").strip() or None
    pagination = db.paginate(users_query(role=role, unit_id=unit_id, search=search),
                             page=page_number(), per_page=USERS_PER_PAGE, max_per_page=USERS_PER_PAGE)
    filters = {k: v for k, v in {"role": role, "unit": unit_id, "q": search}.items() if v}
    return render_template("accounts/user_list.html", pagination=pagination, form=form,
                           filters=filters)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@login_required
def user_create():
    """Create an account."""
    require(can_manage_users(current_user))
    form = UserCreateForm()
    form.setup_choices(district_units())
    if form.validate_on_submit():
        try:
            user = create_user(
                form.username.data, form.password.data, form.role.data,
                unit=_chosen_unit(form.unit_id.data), display_name=form.display_name.data,
                email=form.email.data, actor=current_user._get_current_object(),
            )
        except AccountError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Account %(username)s created.", username=user.username), "success")
            return redirect(url_for("accounts.user_list"))
    return render_template("accounts/user_form.html", form=form, user=None,
                           reset_form=None), 400 if request.method == "POST" else 200


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def user_edit(user_id: int):
    """Edit an account's details, role, unit and whether it is active."""
    require(can_manage_users(current_user))
    # A save locks the row, so a second administrator saving at the same moment waits and then
    # sees the first one's version (PostgreSQL; SQLite serialises writing requests anyway).
    user = _load_user(user_id, for_update=request.method == "POST")
    if request.method == "POST":
        form = UserEditForm()
    else:
        form = UserEditForm(obj=user, unit_id=user.unit_id)
    form.setup_choices(district_units())
    if form.validate_on_submit():
        try:
            changed = update_user(
                user, display_name=form.display_name.data, email=form.email.data,
                role=form.role.data, unit=_chosen_unit(form.unit_id.data),
                active=form.active.data, actor=current_user._get_current_object(),
                expected_version=form.expected_version(),
            )
        except EditConflict as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            # The administrator's entries stay in the form, under what is saved now; saving
            # again (deliberately, having seen it) applies them over the current version.
            form.version.data = user.version
            return render_template("accounts/user_form.html", form=form, user=user,
                                   reset_form=ResetPasswordForm(), conflict=True), 409
        except AccountError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            db.session.commit()
            if changed:
                flash(_("Account %(username)s saved.", username=user.username), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for("accounts.user_edit", user_id=user.id))
    return render_template("accounts/user_form.html", form=form, user=user,
                           reset_form=ResetPasswordForm()), 400 if request.method == "POST" else 200


@bp.route("/admin/users/<int:user_id>/password", methods=["POST"])
@login_required
def user_reset_password(user_id: int):
    """Set a new password for a user; that user's sessions end."""
    require(can_manage_users(current_user))
    user = _load_user(user_id)
    reset_form = ResetPasswordForm()
    reset_form.username_for_rules = user.username
    if reset_form.validate_on_submit():
        try:
            reset_password(user, reset_form.new_password.data,
                           actor=current_user._get_current_object())
        except AccountError as exc:
            db.session.rollback()
            reset_form.new_password.errors.append(str(exc))
        else:
            db.session.commit()
            log.info("password of %s reset by %s", user.username, current_user.username)
            flash(_("The password of %(username)s has been reset; their sessions have ended.",
                    username=user.username), "success")
            return redirect(url_for("accounts.user_edit", user_id=user.id))
    form = UserEditForm(obj=user, unit_id=user.unit_id, formdata=None)
    form.setup_choices(district_units())
    return render_template("accounts/user_form.html", form=form, user=user,
                           reset_form=reset_form), 400
