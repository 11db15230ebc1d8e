"""Template globals shared by every page."""

from typing import Callable, Hashable

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from taskflow import AREAS
from taskflow.core.cache import app_cache

ROLE_LABELS = {
    "reporter": _l("Reporter"),
    "unit_head": _l("Unit head"),
    "office": _l("Joint-meeting office"),
    "supervisor": _l("Supervision team"),
    "leader": _l("District leader"),
    "admin": _l("Administrator"),
}

LIGHT_LABELS = {
    "green": _l("On track"),
    "yellow": _l("Needs attention"),
    "red": _l("Overdue or far behind"),
    "grey": _l("Nothing due"),
}

ROLE_NAMES = {"lead": _l("Lead unit"), "responsible": _l("Responsible unit")}


NAV_CACHE = "core.navigation"
NAV_STATE_EXTENSION = "taskflow_nav_state"
# Distinct navigation bars a worker keeps: role x locale x page x badge values seen lately.
NAV_CACHE_ENTRIES = 1024
# Templates only change with a deployment, which restarts the workers.
NAV_CACHE_SECONDS = 24 * 3600


def register_nav_state(app: Flask, state: Callable[[], Hashable]) -> None:
    """Declare what else an area's _nav.html shows (its badge counts, say) beyond the user's
    role and unit, the locale and the page: `state()` is part of the navigation's cache key."""
    app.extensions.setdefault(NAV_STATE_EXTENSION, []).append(state)


def area_navigation() -> Markup:
    """The areas' navigation links (templates/_navigation.html), rendered once per distinct
    state in this worker: the bar runs ~20 translations and url_for calls on every page."""
    app = current_app._get_current_object()
    key = (
        current_user.role,
        current_user.unit_id is not None,
        str(get_locale()),
        request.script_root,
        request.endpoint,
        tuple(state() for state in app.extensions.get(NAV_STATE_EXTENSION, ())),
    )
    ttl = 0 if app.jinja_env.auto_reload else NAV_CACHE_SECONDS
    entry = app_cache(NAV_CACHE, max_entries=NAV_CACHE_ENTRIES).get_or_compute(
        key, ttl, lambda: render_template("_navigation.html"))
    return Markup(entry.value)


def init_app(app: Flask) -> None:
    """Register the template globals."""

    @app.context_processor
    def inject_globals():
        return {
            "nav_areas": AREAS,
            "area_navigation": area_navigation,
            "role_label": lambda role: ROLE_LABELS.get(role, role),
            "light_label": lambda colour: LIGHT_LABELS.get(colour, colour),
            "assignment_role_label": lambda role: ROLE_NAMES.get(role, role),
            "current_locale": lambda: "zh_CN" if get_locale().language == "zh" else "en",
        }

    from taskflow.core.clock import to_local

    @app.template_filter("local_dt")
    def local_dt(value, fmt: str = "%Y-%m-%d %H:%M"):
        local = to_local(value)
        return local.strftime(fmt) if local else ""
