"""Nightly work of the scores area, called by the scheduler."""

from contextlib import nullcontext
from datetime import date, timedelta

from flask import current_app, has_request_context

from taskflow.core import clock
from taskflow.extensions import db
from taskflow.scores import operations, queries
from taskflow.scores.models import ScorePeriodState
from taskflow.scores.rules import periods_containing


def open_period_keys(today: date) -> list[str]:
    """The periods a nightly run refreshes: those containing today and containing yesterday
    (so a month, quarter or year that just ended gets its final figures)."""
    keys: list[str] = []
    for day in (today - timedelta(days=1), today):
        for period in periods_containing(day):
            if period.key not in keys:
                keys.append(period.key)
    return keys


def recompute_open_periods(today: date, actor=None) -> list[str]:
    """Recompute every open (draft or not yet scored) period around `today`; commit once.

    Locked and published periods are left alone, so the job is safe to run any number of times.
    Returns the keys recomputed.
    """
    plan = queries.district_plan()
    if plan is None:
        return []
    done = []
    # Messages are translated, which needs a request context (the default locale applies).
    context = nullcontext() if has_request_context() else current_app.test_request_context()
    with context:
        done = _recompute(plan.id, today, actor)
    db.session.commit()
    return done


def _recompute(plan_id: int, today: date, actor) -> list[str]:
    done = []
    for key in open_period_keys(today):
        existing = queries.latest_period(plan_id, key)
        if existing is not None and existing.state != ScorePeriodState.DRAFT:
            continue
        operations.recompute(plan_id, key, actor, today=today)
        done.append(key)
    return done


def nightly_recompute() -> dict:
    """The scheduled job: recompute the open periods around today (Asia/Shanghai)."""
    return {"recomputed": recompute_open_periods(clock.local_today())}
