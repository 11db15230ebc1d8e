"""Scheduled jobs of the audit area: anchoring the chain's head, pruning the security log."""

from taskflow.audit.anchor import write_anchor
from taskflow.audit.retention import prune_security_log
from taskflow.core.schedule import Job


def anchor_chain_head() -> dict:
    """Job: anchor the audit chain's head (skipped when it has not moved)."""
    anchor = write_anchor()
    if anchor is None:
        return {"anchored": 0}
    return {"event_id": anchor.event_id, "events": anchor.event_count, "file": anchor.path.name}


def prune_security_logs() -> dict:
    """Job: delete security events and sign-in attempts past the retention."""
    return prune_security_log()


def _anchor_every(config) -> dict:
    return {"minutes": max(int(config["AUDIT_ANCHOR_INTERVAL_MINUTES"]), 1)}


# The audit area's scheduled jobs (collected by taskflow/scheduler.py; times Asia/Shanghai).
# The chain's head is anchored outside the database (default hourly); the security log, sign-in
# attempts included, is pruned past its retention once a day (default time, not set by law or
# plan).
SCHEDULE = (
    Job("audit_anchor", anchor_chain_head, "interval", _anchor_every,
        setting="AUDIT_ANCHOR_INTERVAL_MINUTES"),
    Job("security_log_prune", prune_security_logs, "cron", {"hour": 3, "minute": 40},
        setting="SECURITY_LOG_RETENTION_DAYS"),
)
