"""Shared mechanisms used by every business area, and the app-wide pages (home, health, assets)."""

from flask import Blueprint, Flask

bp = Blueprint("core", __name__)


def init_app(app: Flask) -> None:
    """Template globals and filters."""
    from taskflow.core import input_guard, templating
    from taskflow.core.demo import demo_cli

    templating.init_app(app)
    input_guard.init_app(app)
    _init_production(app)
    app.cli.add_command(demo_cli)


def _init_production(app: Flask) -> None:
    """Security headers, structured logs, the backup commands (taskflow/core/security.py etc.)."""
    from taskflow.core import backup, crypto, health, logging as tf_logging, security

    security.init_app(app)
    crypto.init_app(app)
    tf_logging.init_app(app)
    backup.init_app(app)
    health.init_app(app)
