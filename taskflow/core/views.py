"""App-wide routes: home, health, locale switch, front-end assets, error pages."""

from pathlib import Path

from flask import (
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import text

from taskflow.core import bp
from taskflow.core.i18n import LOCALE_SESSION_KEY
from taskflow.core.roles import Role, role_of
from taskflow.core.security import same_site_path
from taskflow.extensions import db

# Files served from installed npm packages: url prefix -> path inside node_modules.
ASSET_ROOTS = {
    "bootstrap": "bootstrap/dist",
    "bootstrap-icons": "bootstrap-icons/font",
    "chart.js": "chart.js/dist",
    # pdf.js's legacy build (classic scripts and worker, for older in-app browsers), and the
    # CMaps and standard fonts it fetches for PDFs that do not embed their (Chinese) fonts.
    "pdfjs": "pdfjs-dist/legacy/build",
    "pdfjs-cmaps": "pdfjs-dist/cmaps",
    "pdfjs-fonts": "pdfjs-dist/standard_fonts",
}

# Where each role lands after signing in; the areas register their endpoints.
ROLE_HOME = {
    Role.REPORTER: "assignments.my_tasks",
    Role.UNIT_HEAD: "assignments.my_tasks",
    Role.OFFICE: "scores.cockpit",
    Role.SUPERVISOR: "scores.cockpit",
    Role.LEADER: "scores.cockpit",
    Role.ADMIN: "accounts.user_list",
}


@bp.route("/")
@login_required
def home():
    """Send each role to its own start page."""
    endpoint = ROLE_HOME.get(role_of(current_user), "plans.plan_list")
    if endpoint not in current_app.view_functions:
        endpoint = "plans.plan_list"
    return redirect(url_for(endpoint))


@bp.route("/healthz")
def health():
    """Liveness and database reachability, for the load balancer."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/locale", methods=["POST"])
def set_locale():
    """Switch the interface language for this session."""
    chosen = request.form.get("locale", "")
    if chosen not in current_app.config["LANGUAGES"]:
        abort(400)
    session[LOCALE_SESSION_KEY] = chosen
    return redirect(same_site_path(request.form.get("next")) or url_for("core.home"))


@bp.route("/assets/<package>/<path:filename>")
def asset(package: str, filename: str):
    """Serve a file of an installed front-end package (never a CDN)."""
    root = ASSET_ROOTS.get(package)
    if root is None:
        abort(404)
    directory = Path(current_app.config["ASSETS_DIR"]) / root
    return send_from_directory(directory, filename, max_age=86400)


@bp.app_errorhandler(400)
def bad_request(error):
    """A request the app cannot accept (bad form token, invalid characters, a value out of range)."""
    from taskflow.core.input_guard import InputRefused

    message = error.description if isinstance(error, InputRefused) else None
    return render_template("errors/400.html", reason=getattr(error, "description", ""),
                           message=message), 400


@bp.app_errorhandler(403)
def forbidden(error):
    """A forbidden action."""
    return render_template("errors/403.html"), 403


@bp.app_errorhandler(404)
def not_found(error):
    """A missing object, or one the user may not see."""
    return render_template("errors/404.html"), 404


@bp.app_errorhandler(413)
def too_large(error):
    """An upload over the size cap."""
    return render_template("errors/413.html"), 413
