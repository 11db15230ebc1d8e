"""Template globals shared by every page."""

from flask import Flask
from flask_babel import get_locale, lazy_gettext as _l

from taskflow import AREAS

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


def init_app(app: Flask) -> None:
    """Register the template globals."""

    @app.context_processor
    def inject_globals():
        return {
            "nav_areas": AREAS,
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
