"""Session lifetime: idle and absolute timeouts kept in the (signed) Flask session.

The session cookie is a browser-session cookie (session.permanent stays False), so it goes
when the browser closes; the server enforces SESSION_IDLE_MINUTES since the last request and
SESSION_ABSOLUTE_HOURS since sign-in, whatever the browser keeps. Cookie replay after sign-out,
a password change or disabling is stopped by the session version in the user id.
"""

import logging
from datetime import timedelta

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user, user_logged_in

from taskflow.core import clock
from taskflow.core.roles import role_of
from taskflow.core.security_log import log_security_event_now

log = logging.getLogger("taskflow.auth")

LOGIN_AT = "_tf_login_at"
SEEN_AT = "_tf_seen_at"
# Write the last-seen time at most this often, so not every response re-sends the cookie.
SEEN_RESOLUTION_SECONDS = 30
# Requests that neither need nor extend a session.
EXEMPT_ENDPOINTS = frozenset({"static", "core.asset", "core.health", "readyz"})
# Requests where an expired session just ends quietly and the request goes on.
QUIET_ENDPOINTS = frozenset({"accounts.login", "accounts.logout", "core.set_locale"})


def start_session(_sender=None, user=None, **_extra) -> None:
    """Stamp a new session with its sign-in time (connected to Flask-Login's user_logged_in)."""
    now = clock.utcnow().timestamp()
    session[LOGIN_AT] = now
    session[SEEN_AT] = now
    session.permanent = False


def end_session() -> None:
    """Forget the signed-in user and the session's timestamps."""
    logout_user()
    session.pop(LOGIN_AT, None)
    session.pop(SEEN_AT, None)


def expiry_reason() -> str | None:
    """"idle", "absolute" or "unknown" when the signed-in session has run out, else None."""
    login_at = session.get(LOGIN_AT)
    seen_at = session.get(SEEN_AT)
    if not isinstance(login_at, (int, float)) or not isinstance(seen_at, (int, float)):
        return "unknown"
    now = clock.utcnow().timestamp()
    config = current_app.config
    if now - login_at > config["SESSION_ABSOLUTE_HOURS"] * 3600:
        return "absolute"
    if now - seen_at > config["SESSION_IDLE_MINUTES"] * 60:
        return "idle"
    return None


def _expiry_message(reason: str) -> str:
    if reason == "idle":
        return _("You were signed out after %(minutes)d minutes without activity. "
                 "Please sign in again.", minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if reason == "absolute":
        return _("Your session reached its maximum length of %(hours)d hours. "
                 "Please sign in again.", hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    return _("Your session has ended. Please sign in again.")


def enforce_timeouts():
    """before_request: end an expired session and send the user to the sign-in page."""
    if request.endpoint in EXEMPT_ENDPOINTS or "_user_id" not in session:
        return None
    reason = expiry_reason()
    if reason is None:
        now = clock.utcnow().timestamp()
        if now - session[SEEN_AT] >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_AT] = now
        return None
    log.info("session expired (%s) for user key %s from %s", reason, session.get("_user_id"),
             request.remote_addr)
    end_session()
    if request.endpoint in QUIET_ENDPOINTS:
        return None
    flash(_expiry_message(reason), "warning")
    next_url = request.full_path if request.method == "GET" else None
    if next_url and next_url.endswith("?"):
        next_url = next_url[:-1]
    return redirect(url_for("accounts.login", next=next_url))


def log_refused_access(response):
    """after_request: log every 403/404 answered to a signed-in user."""
    if response.status_code in (403, 404) and request.endpoint not in EXEMPT_ENDPOINTS:
        if current_user.is_authenticated:
            log.warning("refused %s %s %s to %s (%s) from %s", response.status_code,
                        request.method, request.path, current_user.username, role_of(current_user),
                        request.remote_addr)
            # Stored after the request's session is closed, in a short transaction of its own
            # (see log_security_event_now): a refused GET stays read-only on the request.
            log_security_event_now("access_refused", user=current_user, detail={
                "status": response.status_code, "method": request.method,
                "path": request.path[:300]})
    return response


def init_app(app: Flask) -> None:
    """Register the timeout check, the refused-access log and the sign-in stamp."""
    if app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=31):
        # Flask also refuses a session cookie last written longer ago than this.
        app.permanent_session_lifetime = timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
    app.before_request(enforce_timeouts)
    app.after_request(log_refused_access)
    user_logged_in.connect(start_session)  # module-level function: connecting twice is a no-op
