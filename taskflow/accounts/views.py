"""Sign-in and sign-out, my account, and the administrator's user pages."""

import logging
import math

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from taskflow.accounts import bp, sessions
from taskflow.accounts.forms import (
    CancelSignInForm,
    ChangePasswordForm,
    ContinueForm,
    EnrolForm,
    LanguageForm,
    LoginForm,
    MobileForm,
    RegenerateRecoveryCodesForm,
    RequiredPasswordChangeForm,
    ResetPasswordForm,
    ResetSecondFactorForm,
    SecondFactorCodeForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
)
from taskflow.accounts.models import User
from taskflow.accounts.operations import (
    WrongPassword,
    change_password,
    complete_sign_in,
    confirm_second_factor,
    create_user,
    mask_mobile,
    forced_password_change,
    new_totp_secret,
    password_expired,
    record_login_attempt,
    regenerate_recovery_codes,
    reset_password,
    reset_second_factor,
    second_factor_required,
    sign_in_steps,
    totp_qr_data_uri,
    verify_second_factor,
    set_own_mobile,
    set_user_locale,
    sign_in,
    sign_out,
    throttled_until,
    update_user,
)
from taskflow.accounts.queries import district_units, recovery_codes_left, users_query
from taskflow.core import clock
from taskflow.core.errors import EditConflict, commit_or_refuse
from taskflow.core.i18n import LOCALE_SESSION_KEY
from taskflow.core.input_guard import bounded_int, page_number
from taskflow.core.next_page import describe as describe_next
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


def rotate_csrf_token() -> None:
    """Drop the session's CSRF secret so the next form gets a new one: a token seen before
    sign-in (on a shared PC, in a cached page) is worthless after it."""
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)


# The sign-in's further steps (second factor, enrolment, forced password change) happen before
# login_user: until they are done the session holds only this note, and no page but the steps.
PENDING_KEY = "_tf_sign_in"
STEP_ENDPOINTS = {"code": "accounts.login_code", "enrol": "accounts.login_enrol",
                  "password": "accounts.login_password"}


def _start_steps(user: User, next_url: str | None) -> None:
    session[PENDING_KEY] = {"uid": user.id, "sv": user.session_version,
                            "at": clock.utcnow().timestamp(), "next": next_url, "factor": None}
    rotate_csrf_token()


def _pending() -> tuple[User | None, dict | None]:
    """The user half-way through signing in, and the note, while it is fresh."""
    state = session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None, None
    age = clock.utcnow().timestamp() - float(state.get("at", 0))
    if age > current_app.config["SIGN_IN_STEPS_MINUTES"] * 60:
        session.pop(PENDING_KEY, None)
        return None, None
    # A POST locks the row: two requests with the same code cannot both pass the replay check.
    lock = request.method == "POST"
    user = db.session.get(User, state.get("uid"), with_for_update=lock or None,
                          populate_existing=lock)
    if user is None or not user.active or user.session_version != state.get("sv"):
        session.pop(PENDING_KEY, None)
        return None, None
    return user, state


def _next_step(user: User, state: dict) -> str | None:
    steps = sign_in_steps(user, factor_carried=bool(state.get("factor")))
    return steps[0] if steps else None


def _advance(user: User, state: dict):
    """Go to the sign-in's next step, or, when none is left, sign the user in."""
    step = _next_step(user, state)
    if step is not None:
        return redirect(url_for(STEP_ENDPOINTS[step]))
    ip = request.remote_addr or ""
    factor = state.get("factor")
    complete_sign_in(user, ip, second_factor=factor)
    db.session.commit()
    session.pop(PENDING_KEY, None)
    login_user(user)
    rotate_csrf_token()
    log.info("sign-in %s (%s) from %s%s", user.username, user.role, ip,
             f" with {factor}" if factor else "")
    if factor == "recovery":
        flash(_("You signed in with a recovery code. %(n)d recovery codes are left: make new "
                "ones in My account if you are running out.", n=recovery_codes_left(user)),
              "warning")
    return redirect(same_site_path(state.get("next")) or url_for("core.home"))


def _step_guard(step: str):
    """(user, state, None) when this step is the one due; else (None, None, a redirect)."""
    if current_user.is_authenticated:
        return None, None, redirect(url_for("core.home"))
    user, state = _pending()
    if user is None:
        flash(_("Your sign-in was not completed in time. Please sign in again."), "warning")
        return None, None, redirect(url_for("accounts.login"))
    due = _next_step(user, state)
    if due is None:
        # Nothing left to do (the policy changed meanwhile): start again rather than sign in
        # on a GET or on another step's form.
        session.pop(PENDING_KEY, None)
        flash(_("Your sign-in was not completed in time. Please sign in again."), "warning")
        return None, None, redirect(url_for("accounts.login"))
    if due != step:
        return None, None, redirect(url_for(STEP_ENDPOINTS[due]))
    return user, state, None


def _save_state(state: dict) -> None:
    session[PENDING_KEY] = state
    session.modified = True


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with username and password (throttled per account and, gently, per IP)."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        ip = request.remote_addr or ""
        username = form.username.data.strip()
        session.pop(PENDING_KEY, None)
        result = sign_in(username, form.password.data, ip)
        db.session.commit()
        if result.status == "ok":
            login_user(result.user)
            rotate_csrf_token()
            log.info("sign-in %s (%s) from %s", result.user.username, result.user.role, ip)
            return redirect(same_site_path(request.args.get("next")) or url_for("core.home"))
        if result.status == "steps":
            log.info("password accepted for %s from %s; next: %s", result.user.username, ip,
                     ", ".join(result.steps))
            _start_steps(result.user, same_site_path(request.args.get("next")))
            return redirect(url_for(STEP_ENDPOINTS[result.steps[0]]))
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
    return render_template("accounts/login.html", form=form,
                           next_page=describe_next(request.args.get("next"))), status


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """Sign-in, second step: the authenticator app's code or a recovery code."""
    user, state, elsewhere = _step_guard("code")
    if elsewhere is not None:
        return elsewhere
    form = SecondFactorCodeForm()
    status = 200
    if form.validate_on_submit():
        ip = request.remote_addr or ""
        retry_at = throttled_until(user.username, ip)
        if retry_at is not None:
            log.warning("second factor throttled for %s from %s until %s", user.username, ip,
                        retry_at.isoformat())
            session.pop(PENDING_KEY, None)
            flash(_throttle_message(retry_at), "danger")
            return redirect(url_for("accounts.login"))
        factor = verify_second_factor(user, form.code.data)
        if factor is None:
            db.session.rollback()
            # Counted with the password failures: the account locks after as many wrong codes.
            record_login_attempt(user.username, ip, False)
            db.session.commit()
            log.warning("wrong second-factor code for %s from %s", user.username, ip)
            form.code.errors.append(_("The code is wrong or has already been used."))
            status = 400
        else:
            state["factor"] = factor
            _save_state(state)
            return _advance(user, state)
    elif request.method == "POST":
        status = 400
    return render_template("accounts/login_code.html", form=form, user=user,
                           cancel_form=CancelSignInForm(),
                           next_page=describe_next(state.get("next"))), status


def _enrol_page(user, form, secret, *, action, cancel_form=None, status=200):
    return render_template("accounts/second_factor_enrol.html", form=form, user=user,
                           secret=secret, qr=totp_qr_data_uri(user, secret), action=action,
                           cancel_form=cancel_form), status


def _codes_page(codes, *, continue_form=None):
    return render_template("accounts/recovery_codes.html", codes=codes,
                           continue_form=continue_form)


def _confirm_enrolment(user, secret: str, form) -> list[str] | None:
    """Confirm the app with the form's code and commit: the new recovery codes, or None (the
    form then carries the refusal)."""
    with commit_or_refuse(form=form) as done:
        codes = confirm_second_factor(user, secret, form.code.data)
    return codes if done else None


@bp.route("/login/enrol", methods=["GET", "POST"])
def login_enrol():
    """Sign-in, required enrolment: set up an authenticator app before going on."""
    user, state, elsewhere = _step_guard("enrol")
    if elsewhere is not None:
        return elsewhere
    # The secret waits in the (signed) session until a code confirms it: a GET writes nothing.
    secret = state.get("secret")
    if not secret:
        secret = state["secret"] = new_totp_secret()
        _save_state(state)
    form = EnrolForm()
    if form.validate_on_submit():
        codes = _confirm_enrolment(user, secret, form)
        if codes is not None:
            log.info("second factor enrolled by %s at sign-in", user.username)
            state.pop("secret", None)
            state["factor"] = "totp"
            _save_state(state)
            return _codes_page(codes, continue_form=ContinueForm())
    return _enrol_page(user, form, secret, action=url_for("accounts.login_enrol"),
                       cancel_form=CancelSignInForm(),
                       status=400 if request.method == "POST" else 200)


@bp.route("/login/continue", methods=["POST"])
def login_continue():
    """Go on with the sign-in after the recovery codes were shown."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    user, state = _pending()
    if user is None or not ContinueForm().validate_on_submit():
        flash(_("Your sign-in was not completed in time. Please sign in again."), "warning")
        return redirect(url_for("accounts.login"))
    return _advance(user, state)


@bp.route("/login/password", methods=["GET", "POST"])
def login_password():
    """Sign-in, forced password change: the password expired or was set by an administrator."""
    user, state, elsewhere = _step_guard("password")
    if elsewhere is not None:
        return elsewhere
    form = RequiredPasswordChangeForm()
    form.username_for_rules = user.username
    if form.validate_on_submit():
        with commit_or_refuse(form=form) as done:
            forced_password_change(user, form.new_password.data)
        if done:
            log.info("password changed at sign-in by %s", user.username)
            state["sv"] = user.session_version
            _save_state(state)
            flash(_("Your password has been changed."), "success")
            return _advance(user, state)
    return render_template("accounts/login_password.html", form=form, user=user,
                           temporary=user.must_change_password,
                           expired=password_expired(user),
                           cancel_form=CancelSignInForm()), 400 if request.method == "POST" else 200


@bp.route("/login/cancel", methods=["POST"])
def login_cancel():
    """Leave the sign-in's further steps."""
    session.pop(PENDING_KEY, None)
    if CancelSignInForm().validate_on_submit():
        flash(_("You have signed out."), "info")
    return redirect(url_for("accounts.login"))


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


def _account_page(password_form=None, language_form=None, codes_form=None, status=200,
                  mobile_form=None):
    language_form = language_form or LanguageForm(
        locale=current_user.locale or session.get(LOCALE_SESSION_KEY) or "zh_CN")
    user = current_user._get_current_object()
    return render_template(
        "accounts/account.html",
        password_form=password_form or ChangePasswordForm(),
        language_form=language_form,
        codes_form=codes_form or RegenerateRecoveryCodesForm(),
        mobile_form=mobile_form or MobileForm(formdata=None, mobile=user.mobile or ""),
        factor_required=second_factor_required(user),
        codes_left=recovery_codes_left(user) if user.has_second_factor else 0,
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
    with commit_or_refuse(form=form, field="new_password") as done:
        change_password(user, form.current_password.data, form.new_password.data)
    if not done:
        if isinstance(done.error, WrongPassword):
            record_login_attempt(user.username, ip, False)
            db.session.commit()
            log.warning("password change with a wrong current password by %s from %s",
                        user.username, ip)
        return _account_page(password_form=form, status=400)
    log.info("password changed by %s from %s", user.username, request.remote_addr)
    sessions.end_session()
    flash(_("Your password has been changed. Please sign in with the new password."), "success")
    return redirect(url_for("accounts.login"))


ENROL_SECRET_KEY = "_tf_enrol_secret"


@bp.route("/account/second-factor", methods=["GET", "POST"])
@login_required
def account_second_factor():
    """Set up an authenticator app from My account."""
    user = current_user._get_current_object()
    if user.has_second_factor:
        return redirect(url_for("accounts.account"))
    secret = session.get(ENROL_SECRET_KEY)
    if not secret:
        secret = session[ENROL_SECRET_KEY] = new_totp_secret()
    form = EnrolForm()
    if form.validate_on_submit():
        codes = _confirm_enrolment(user, secret, form)
        if codes is not None:
            session.pop(ENROL_SECRET_KEY, None)
            log.info("second factor enrolled by %s", user.username)
            return _codes_page(codes)
    return _enrol_page(user, form, secret, action=url_for("accounts.account_second_factor"),
                       status=400 if request.method == "POST" else 200)


@bp.route("/account/recovery-codes", methods=["POST"])
@login_required
def account_recovery_codes():
    """Replace my recovery codes (the old ones stop working), confirmed by an app code."""
    user = current_user._get_current_object()
    form = RegenerateRecoveryCodesForm()
    if not form.validate_on_submit():
        return _account_page(codes_form=form, status=400)
    ip = request.remote_addr or ""
    retry_at = throttled_until(user.username, ip)
    if retry_at is not None:
        form.code.errors.append(_throttle_message(retry_at))
        return _account_page(codes_form=form, status=429)
    with commit_or_refuse(form=form, field="code") as done:
        codes = regenerate_recovery_codes(user, form.code.data)
    if not done:
        if isinstance(done.error, WrongPassword):
            record_login_attempt(user.username, ip, False)
            db.session.commit()
        return _account_page(codes_form=form, status=400)
    log.info("recovery codes regenerated by %s", user.username)
    return _codes_page(codes)


@bp.route("/account/mobile", methods=["POST"])
@login_required
def account_mobile():
    """Save (or clear) my mobile number."""
    form = MobileForm()
    if not form.validate_on_submit():
        return _account_page(mobile_form=form, status=400)
    with commit_or_refuse(form=form, field="mobile") as done:
        changed = set_own_mobile(current_user._get_current_object(), form.mobile.data)
    if not done:
        return _account_page(mobile_form=form, status=400)
    if changed:
        flash(_("Your mobile number has been saved."), "success")
    return redirect(url_for("accounts.account"))


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
                           filters=filters, mask_mobile=mask_mobile)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@login_required
def user_create():
    """Create an account."""
    require(can_manage_users(current_user))
    form = UserCreateForm()
    form.setup_choices(district_units())
    if form.validate_on_submit():
        with commit_or_refuse(form=form) as done:
            user = create_user(
                form.username.data, form.password.data, form.role.data,
                unit=_chosen_unit(form.unit_id.data), display_name=form.display_name.data,
                email=form.email.data, actor=current_user._get_current_object(),
                mobile=form.mobile.data,
            )
        if done:
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
        form = UserEditForm(obj=user, unit_id=user.unit_id, version=user.version_id)
    form.setup_choices(district_units())
    if form.validate_on_submit():
        with commit_or_refuse(form=form) as done:
            changed = update_user(
                user, display_name=form.display_name.data, email=form.email.data,
                role=form.role.data, unit=_chosen_unit(form.unit_id.data),
                active=form.active.data, actor=current_user._get_current_object(),
                expected_version=form.expected_version(),
                mobile=form.mobile.data,
            )
        if isinstance(done.error, EditConflict):
            # The administrator's entries stay in the form, under what is saved now; saving
            # again (deliberately, having seen it) applies them over the current version.
            form.version.data = user.version_id
            return render_template("accounts/user_form.html", form=form, user=user,
                                   reset_form=ResetPasswordForm(),
                                   factor_form=ResetSecondFactorForm(),
                                   codes_left=recovery_codes_left(user), conflict=True), 409
        if done:
            if changed:
                flash(_("Account %(username)s saved.", username=user.username), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for("accounts.user_edit", user_id=user.id))
    return render_template("accounts/user_form.html", form=form, user=user,
                           reset_form=ResetPasswordForm(), factor_form=ResetSecondFactorForm(),
                           codes_left=recovery_codes_left(user)), \
        400 if request.method == "POST" else 200


@bp.route("/admin/users/<int:user_id>/password", methods=["POST"])
@login_required
def user_reset_password(user_id: int):
    """Set a new password for a user; that user's sessions end."""
    require(can_manage_users(current_user))
    user = _load_user(user_id)
    reset_form = ResetPasswordForm()
    reset_form.username_for_rules = user.username
    if reset_form.validate_on_submit():
        with commit_or_refuse(form=reset_form, field="new_password") as done:
            reset_password(user, reset_form.new_password.data,
                           actor=current_user._get_current_object())
        if done:
            log.info("password of %s reset by %s", user.username, current_user.username)
            flash(_("The password of %(username)s has been reset; their sessions have ended.",
                    username=user.username), "success")
            return redirect(url_for("accounts.user_edit", user_id=user.id))
    form = UserEditForm(obj=user, unit_id=user.unit_id, version=user.version_id,
                        formdata=None)
    form.setup_choices(district_units())
    return render_template("accounts/user_form.html", form=form, user=user,
                           reset_form=reset_form, factor_form=ResetSecondFactorForm(),
                           codes_left=recovery_codes_left(user)), 400


@bp.route("/admin/users/<int:user_id>/second-factor/reset", methods=["POST"])
@login_required
def user_reset_second_factor(user_id: int):
    """Remove a user's authenticator app and recovery codes (a lost phone); audited."""
    require(can_manage_users(current_user))
    user = _load_user(user_id, for_update=True)
    factor_form = ResetSecondFactorForm()
    if factor_form.validate_on_submit():
        with commit_or_refuse(form=factor_form, field="confirm") as done:
            reset_second_factor(user, actor=current_user._get_current_object())
        if done:
            log.info("second factor of %s reset by %s", user.username, current_user.username)
            flash(_("The second factor of %(username)s has been reset; their sessions have "
                    "ended.", username=user.username), "success")
            return redirect(url_for("accounts.user_edit", user_id=user.id))
    form = UserEditForm(obj=user, unit_id=user.unit_id, version=user.version_id,
                        formdata=None)
    form.setup_choices(district_units())
    return render_template("accounts/user_form.html", form=form, user=user,
                           reset_form=ResetPasswordForm(), factor_form=factor_form,
                           codes_left=recovery_codes_left(user)), 400
