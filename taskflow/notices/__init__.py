"""Reminders, escalation and urge notices (催办/督办), the inbox, the outbox, the working-day calendar."""

import os

from flask import Blueprint, Flask

bp = Blueprint("notices", __name__, url_prefix="/notices", cli_group=None)

# Settings this area reads, with their defaults (overridable as TASKFLOW_<NAME>).
DEFAULTS = {
    "UPDATE_REREQUEST_WORKING_DAYS": 5,  # re-request a missing monthly update every N working days
    "URGE_RESPONSE_WORKING_DAYS": 3,  # a notice's response is due N working days after issue
    "OUTBOX_MAX_ATTEMPTS": 6,
    "OUTBOX_BACKOFF_SECONDS": 60,  # 60 s, 120 s, 240 s, … between attempts
    "OUTBOX_STALE_MINUTES": 15,  # a row "sending" for longer was interrupted mid-delivery
    "DIGEST_MAX_AGE_DAYS": 14,  # older undelivered inbox items are not e-mailed any more
}
STRING_DEFAULTS = {"NOTICE_NUMBER_PREFIX": "綦科"}


def init_app(app: Flask) -> None:
    """Settings, the inbox badge and the command groups."""
    for name, default in DEFAULTS.items():
        value = os.environ.get(f"TASKFLOW_{name}")
        app.config.setdefault(name, int(value) if value not in (None, "") else default)
    for name, default in STRING_DEFAULTS.items():
        app.config.setdefault(name, os.environ.get(f"TASKFLOW_{name}") or default)
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
