"""Template globals shared by every page."""

from typing import Callable, Hashable

from flask import Flask, current_app, g, has_request_context, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from taskflow import AREAS
from taskflow.core.cache import app_cache
from taskflow.core.permissions import UserRules
from taskflow.core.roles import Role, role_of

ROLE_LABELS = {
    Role.REPORTER: _l("Reporter"),
    Role.UNIT_HEAD: _l("Unit head"),
    Role.OFFICE: _l("Joint-meeting office"),
    Role.SUPERVISOR: _l("Supervision team"),
    Role.LEADER: _l("District leader"),
    Role.ADMIN: _l("Administrator"),
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
# The bar's two cached parts: the areas' links (left) and the user's items (right).
NAV_SLOTS = {"main": "_navigation.html", "end": "_navigation_end.html"}
# Distinct navigation parts a worker keeps: slot x role x locale x page x badge values.
NAV_CACHE_ENTRIES = 1024
# Templates only change with a deployment, which restarts the workers.
NAV_CACHE_SECONDS = 24 * 3600
URL_MEMO_EXTENSION = "taskflow_static_urls"


def register_nav_state(app: Flask, state: Callable[[], Hashable], slot: str = "main") -> None:
    """Declare what else an area's navigation template shows (its badge counts, say) beyond the
    user's role-only rules (`perms`), the locale and the page: `state()` is part of the slot's
    cache key."""
    if slot not in NAV_SLOTS:
        raise ValueError(f"unknown navigation slot {slot!r}")
    app.extensions.setdefault(NAV_STATE_EXTENSION, {}).setdefault(slot, []).append(state)


def _role_answers() -> tuple[bool, ...]:
    """The signed-in user's role-only rule answers, once per request (every slot asks)."""
    if "taskflow_role_answers" not in g:
        g.taskflow_role_answers = UserRules(current_user).answers()
    return g.taskflow_role_answers


def area_navigation(slot: str = "main") -> Markup:
    """A part of the navigation bar (templates/_navigation*.html), rendered once per distinct
    state in this worker: the bar runs ~20 translations and url_for calls on every page.

    Nothing in it may depend on the session (no CSRF token: its buttons name forms that base.html
    renders on each request, with the form= attribute)."""
    app = current_app._get_current_object()
    states = app.extensions.get(NAV_STATE_EXTENSION, {}).get(slot, ())
    key = (
        slot,
        # What the bar may show is what the role-only rules answer (`perms` in templates).
        _role_answers(),
        str(get_locale()),
        request.script_root,
        request.endpoint,
        tuple(state() for state in states),
    )
    ttl = 0 if app.jinja_env.auto_reload else NAV_CACHE_SECONDS
    entry = app_cache(NAV_CACHE, max_entries=NAV_CACHE_ENTRIES).get_or_compute(
        key, ttl, lambda: render_template(NAV_SLOTS[slot]))
    return Markup(entry.value)


def _memo_url(endpoint: str, **values: str) -> str:
    """url_for for files that never change while the app runs, built once per URL prefix."""
    app = current_app._get_current_object()
    memo = app.extensions.setdefault(URL_MEMO_EXTENSION, {})
    key = (request.script_root if has_request_context() else "", endpoint, *sorted(values.items()))
    url = memo.get(key)
    if url is None:
        url = memo[key] = url_for(endpoint, **values)
    return url


def static_url(filename: str) -> str:
    """The URL of one of TaskFlow's own static files (taskflow/static)."""
    return _memo_url("static", filename=filename)


def asset_url(package: str, filename: str) -> str:
    """The URL of a file of an installed front-end package (node_modules, served locally)."""
    return _memo_url("core.asset", package=package, filename=filename)


def init_app(app: Flask) -> None:
    """Register the template globals."""

    @app.context_processor
    def inject_globals():
        return {
            "nav_areas": AREAS,
            "area_navigation": area_navigation,
            "static_url": static_url,
            "asset_url": asset_url,
            "role_label": lambda role: ROLE_LABELS.get(role, role),
            "user_role_label": lambda user: ROLE_LABELS.get(role_of(user), ""),
            # Role-only rules as perms.can_x; object rules as perms.can_y(obj) (core/permissions).
            "perms": UserRules(current_user),
            "light_label": lambda colour: LIGHT_LABELS.get(colour, colour),
            "assignment_role_label": lambda role: ROLE_NAMES.get(role, role),
            "current_locale": lambda: "zh_CN" if get_locale().language == "zh" else "en",
        }

    from taskflow.core.clock import to_local

    @app.template_filter("local_dt")
    def local_dt(value, fmt: str = "%Y-%m-%d %H:%M"):
        local = to_local(value)
        return local.strftime(fmt) if local else ""
