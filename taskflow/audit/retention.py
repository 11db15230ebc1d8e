"""Retention of the security log: security_events and login_attempts are kept for
SECURITY_LOG_RETENTION_DAYS (default 180: 网络安全法 article 21 asks for at least six months of
network logs), then pruned in batches by a daily job. audit_events are never pruned."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import delete, select

from taskflow.core import clock
from taskflow.extensions import db

log = logging.getLogger("taskflow.audit.retention")

# 网络安全法 第二十一条: network logs kept no less than six months; 180 days is the floor.
LEGAL_MINIMUM_DAYS = 180
PRUNE_BATCH = 1000  # rows per delete; each batch commits, so SQLite's write lock is held briefly


class RetentionSettingError(RuntimeError):
    """SECURITY_LOG_RETENTION_DAYS is shorter than the legal minimum without the explicit opt-in."""


def check_retention_setting(config) -> int:
    """The configured retention in days; refuse a value under the legal minimum unless
    SECURITY_LOG_RETENTION_ALLOW_SHORT is set, and any value under one day."""
    days = int(config["SECURITY_LOG_RETENTION_DAYS"])
    if days < 1:
        raise RetentionSettingError(f"SECURITY_LOG_RETENTION_DAYS must be at least 1, not {days}")
    if days < LEGAL_MINIMUM_DAYS and not config["SECURITY_LOG_RETENTION_ALLOW_SHORT"]:
        raise RetentionSettingError(
            f"SECURITY_LOG_RETENTION_DAYS={days} is shorter than the legal minimum of "
            f"{LEGAL_MINIMUM_DAYS} days (网络安全法 art. 21: six months); set "
            "TASKFLOW_SECURITY_LOG_RETENTION_ALLOW_SHORT=1 to allow it explicitly")
    return days


def init_app(app: Flask) -> None:
    """Refuse to start with a retention shorter than the law allows (unless explicitly allowed)."""
    check_retention_setting(app.config)


def retention_days() -> int:
    """The security-log retention in force, in days (for the admin's security page)."""
    return check_retention_setting(current_app.config)


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Rows that occurred before this instant are past the retention."""
    return (now or clock.utcnow()) - timedelta(days=retention_days())


def _prune_table(model, column, cutoff: datetime, batch: int) -> int:
    removed = 0
    while True:
        ids = list(db.session.scalars(
            select(model.id).where(column < cutoff).order_by(model.id).limit(batch)))
        if not ids:
            return removed
        db.session.execute(delete(model).where(model.id.in_(ids))
                           .execution_options(synchronize_session=False))
        db.session.commit()
        removed += len(ids)


def prune_security_log(now: datetime | None = None, *, batch: int = PRUNE_BATCH) -> dict:
    """Delete security events and sign-in attempts older than the retention, in committed
    batches; returns the counts (audit events are never touched)."""
    from taskflow.accounts.models import LoginAttempt
    from taskflow.audit.models import SecurityEvent

    days = retention_days()
    cutoff = retention_cutoff(now)
    counts = {
        "security_events": _prune_table(SecurityEvent, SecurityEvent.occurred_at, cutoff, batch),
        "login_attempts": _prune_table(LoginAttempt, LoginAttempt.attempted_at, cutoff, batch),
    }
    log.info("security log pruned (retention %d days, before %s): %d security events, "
             "%d sign-in attempts", days, cutoff.isoformat(), counts["security_events"],
             counts["login_attempts"])
    return counts
