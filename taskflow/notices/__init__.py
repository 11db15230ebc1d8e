"""Reminders, escalation and urge notices (催办/督办), the inbox, the outbox, the working-day calendar."""

import os

from flask import Blueprint, Flask

bp = Blueprint("notices", __name__, url_prefix="/notices", cli_group=None)


def init_app(app: Flask) -> None:
    """The inbox badge and the command groups (this area's settings are in config.py)."""
    if os.environ.get("TASKFLOW_DISPATCH_CONFIRM_DAYS"):
        app.logger.warning("TASKFLOW_DISPATCH_CONFIRM_DAYS (calendar days) is no longer read: the "
                           "dispatch deadline counts working days, set "
                           "TASKFLOW_DISPATCH_LATE_AFTER_WORKING_DAY instead")

    from taskflow.accounts import register_user_figure
    from taskflow.notices import cli, queries, views

    register_user_figure(app, "inbox_unread", queries.unread_count_column)
    # The calendar banner's inputs, loaded with the signed-in user (no query of their own).
    register_user_figure(app, "calendar_entered_years", queries.entered_years_column)
    register_user_figure(app, "plan_first_year", queries.plan_first_year_column)
    register_user_figure(app, "plan_last_year", queries.plan_last_year_column)
    views.register_context(app)
    cli.register(app)
