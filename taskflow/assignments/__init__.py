"""Assignments of key tasks to units, their milestones, status updates, evidence and reviews."""

from flask import Blueprint, Flask

bp = Blueprint("assignments", __name__, cli_group="evidence")


def init_app(app: Flask) -> None:
    """Labels for states and reasons, and the navigation badges, in every template."""
    from taskflow.assignments.cli import milestones_cli
    from taskflow.assignments.labels import nav_state, template_globals
    from taskflow.core.templating import register_nav_state

    app.cli.add_command(milestones_cli)
    app.context_processor(template_globals)
    register_nav_state(app, nav_state)
