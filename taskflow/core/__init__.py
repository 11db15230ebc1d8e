"""Shared mechanisms used by every business area, and the app-wide pages (home, health, assets)."""

from flask import Blueprint, Flask

bp = Blueprint("core", __name__)


def init_app(app: Flask) -> None:
    """Template globals and filters."""
    from taskflow.core import templating

    templating.init_app(app)
