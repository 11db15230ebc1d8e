"""Sign-in and sign-out."""

import logging

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from taskflow.accounts import bp
from taskflow.accounts.forms import LoginForm
from taskflow.accounts.operations import authenticate
from taskflow.core import audit
from taskflow.extensions import db

log = logging.getLogger("taskflow.auth")


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with username and password."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data.strip(), form.password.data)
        if user is None:
            log.warning("sign-in refused for %r from %s", form.username.data, request.remote_addr)
            flash(_("Wrong username or password."), "danger")
        else:
            audit.record(user, "user.sign_in", user)
            db.session.commit()
            login_user(user)
            log.info("sign-in %s from %s", user.username, request.remote_addr)
            return redirect(_safe_next(request.args.get("next")) or url_for("core.home"))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out of this session."""
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("accounts.login"))
