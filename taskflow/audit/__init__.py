"""Audit trail: every state change, who made it, and what it was before and after."""

from flask import Blueprint, Flask

bp = Blueprint("audit", __name__, url_prefix="/audit")


def init_app(app: Flask) -> None:
    """Check the audit and retention settings at startup; store security events."""
    from taskflow.audit import retention
    from taskflow.core import audit, security_log

    retention.init_app(app)
    setting = str(app.config["AUDIT_HASH"]).lower()
    if setting not in audit.SETTING_SCHEMES:
        raise RuntimeError(f"AUDIT_HASH must be 'sha256' or 'sm3', not {setting!r}")
    security_log.init_app(app)
