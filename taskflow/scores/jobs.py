"""Nightly work of the scores area: the recompute of open periods (scheduled below)."""

from contextlib import nullcontext
from datetime import date, timedelta

from flask import current_app, has_request_context

from taskflow.core import clock
from taskflow.core.schedule import Job
from taskflow.extensions import db
from taskflow.plans.queries import district_plan
from taskflow.scores import operations, queries
from taskflow.scores.models import ScorePeriodState
from taskflow.scores.rules import periods_containing


def _open_period_keys(today: date) -> list[str]:
    """The periods a nightly run refreshes: those containing today and containing yesterday
    (so a month, quarter or year that just ended gets its final figures)."""
    keys: list[str] = []
    for day in (today - timedelta(days=1), today):
        for period in periods_containing(day):
            if period.key not in keys:
                keys.append(period.key)
    return keys


def nightly_recompute(today: date | None = None, actor=None) -> dict:
    """Recompute every open (draft or not yet scored) period around `today` (default: today in
    Asia/Shanghai); commit once.

    Locked and published periods are left alone, so the job is safe to run any number of times.
    Returns {"recomputed": [period keys]}.
    """
    today = today or clock.local_today()
    plan = district_plan()
    if plan is None:
        return {"recomputed": []}
    # Messages are translated, which needs a request context (the default locale applies).
    context = nullcontext() if has_request_context() else current_app.test_request_context()
    with context:
        done = _recompute(plan.id, today, actor)
    db.session.commit()
    return {"recomputed": done}


def _recompute(plan_id: int, today: date, actor) -> list[str]:
    done = []
    for key in _open_period_keys(today):
        existing = queries.latest_period(plan_id, key)
        if existing is not None and existing.state != ScorePeriodState.DRAFT:
            continue
        operations.recompute(plan_id, key, actor, today=today)
        done.append(key)
    return done


def _recompute_at(config) -> dict:
    """(hour, minute) of the nightly recompute: SCORES_RECOMPUTE_AT, "HH:MM" local time."""
    text = str(config["SCORES_RECOMPUTE_AT"])
    try:
        hour, minute = (int(part) for part in text.split(":", 1))
        if 0 <= hour < 24 and 0 <= minute < 60:
            return {"hour": hour, "minute": minute}
    except ValueError:
        pass
    raise ValueError(f"SCORES_RECOMPUTE_AT must be HH:MM, not {text!r}")


# The scores area's scheduled jobs (collected by taskflow/scheduler.py; times Asia/Shanghai).
SCHEDULE = (
    # Draft score periods (and the cockpit's ranking and the 五色图 built on them) are refreshed
    # every night; locked and published periods are left alone.
    Job("scores_recompute", nightly_recompute, "cron", _recompute_at,
        setting="SCORES_RECOMPUTE_AT"),
)
