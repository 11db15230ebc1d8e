"""Retention of the security log: older rows go in batches, younger stay, audit events are
never pruned, and a retention under the legal six months is refused at startup (issue 12, B.3)."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from config import TestingConfig
from taskflow import create_app, scheduler
from taskflow.accounts.models import LoginAttempt
from taskflow.audit import jobs as audit_jobs
from taskflow.audit.models import AuditEvent, SecurityEvent
from taskflow.audit.retention import (RetentionSettingError, prune_security_log,
                                      retention_cutoff, retention_days)
from taskflow.core.clock import frozen_at
from taskflow.extensions import db

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=timezone.utc)
CUTOFF = NOW - timedelta(days=180)


def _rows(ages):
    """One security event and one sign-in attempt at each of the given instants."""
    for moment in ages:
        db.session.add(SecurityEvent(kind="sign_in", username="u", ip="10.0.0.1",
                                     occurred_at=moment))
        db.session.add(LoginAttempt(username="u", ip="10.0.0.1", success=False,
                                    attempted_at=moment))
    db.session.commit()


def _left(model, column):
    return sorted(db.session.scalars(select(column)))


def test_default_retention_is_the_legal_six_months(app):
    assert retention_days() == 180
    assert retention_cutoff(NOW) == CUTOFF


def test_older_rows_go_younger_and_boundary_rows_stay(app, make_user, record_event):
    record_event(make_user("office"), "milestone.update",
                 at=NOW - timedelta(days=2000))  # audit events are never pruned
    old = [CUTOFF - timedelta(days=400), CUTOFF - timedelta(days=1),
           CUTOFF - timedelta(seconds=1)]
    kept = [CUTOFF, CUTOFF + timedelta(seconds=1), NOW - timedelta(days=1)]
    _rows(old + kept)
    audit_count = db.session.scalar(select(func.count(AuditEvent.id)))
    counts = prune_security_log(NOW, batch=2)  # several batches
    assert counts == {"security_events": 3, "login_attempts": 3}
    assert _left(SecurityEvent, SecurityEvent.occurred_at) == kept
    assert _left(LoginAttempt, LoginAttempt.attempted_at) == kept
    assert db.session.scalar(select(func.count(AuditEvent.id))) == audit_count
    assert prune_security_log(NOW) == {"security_events": 0, "login_attempts": 0}


def test_a_longer_retention_keeps_more(app):
    app.config["SECURITY_LOG_RETENTION_DAYS"] = 365
    _rows([NOW - timedelta(days=200), NOW - timedelta(days=366)])
    assert prune_security_log(NOW) == {"security_events": 1, "login_attempts": 1}
    assert _left(SecurityEvent, SecurityEvent.occurred_at) == [NOW - timedelta(days=200)]


def test_prune_command_and_job_log_their_counts(app, runner, caplog):
    _rows([NOW - timedelta(days=181), NOW - timedelta(days=10)])
    with frozen_at(NOW):
        result = runner.invoke(args=["audit", "prune-security-log"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 security events and 1 sign-in attempts older than 180 days" \
        in result.output
    _rows([NOW - timedelta(days=181)])
    caplog.set_level("INFO")
    with frozen_at(NOW):
        scheduler.run_job(app, "security_log_prune", audit_jobs.prune_security_logs)
    assert "1 security events, 1 sign-in attempts" in caplog.text
    assert len(_left(SecurityEvent, SecurityEvent.occurred_at)) == 1


def _app(tmp_path, **settings):
    return create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}",
                      INSTANCE_DIR=tmp_path / "instance", DATA_DIR=tmp_path / "data", **settings)


def test_a_retention_under_six_months_is_refused_at_startup(tmp_path):
    with pytest.raises(RetentionSettingError, match="legal minimum of 180 days"):
        _app(tmp_path, SECURITY_LOG_RETENTION_DAYS=179)


def test_a_short_retention_needs_the_explicit_setting(tmp_path):
    app = _app(tmp_path, SECURITY_LOG_RETENTION_DAYS=30, SECURITY_LOG_RETENTION_ALLOW_SHORT=True)
    with app.app_context():
        assert retention_days() == 30
    with pytest.raises(RetentionSettingError, match="at least 1"):
        _app(tmp_path, SECURITY_LOG_RETENTION_DAYS=0, SECURITY_LOG_RETENTION_ALLOW_SHORT=True)


def test_an_unknown_audit_hash_is_refused_at_startup(tmp_path):
    with pytest.raises(RuntimeError, match="AUDIT_HASH"):
        _app(tmp_path, AUDIT_HASH="md5")
