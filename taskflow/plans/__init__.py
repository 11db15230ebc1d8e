"""Plans, their sections, key tasks, goals, indicators and targets; the plan importer."""

from flask import Blueprint, Flask

bp = Blueprint("plans", __name__, url_prefix="/plans", cli_group="plan")


def init_app(app: Flask) -> None:
    """Template helpers for plan pages."""
    from taskflow.plans import labels

    labels.init_app(app)
