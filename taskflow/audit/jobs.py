"""Scheduled jobs of the audit area: anchoring the chain's head, pruning the security log."""

from taskflow.audit.anchor import write_anchor
from taskflow.audit.retention import prune_security_log


def anchor_chain_head() -> dict:
    """Job: anchor the audit chain's head (skipped when it has not moved)."""
    anchor = write_anchor()
    if anchor is None:
        return {"anchored": 0}
    return {"event_id": anchor.event_id, "events": anchor.event_count, "file": anchor.path.name}


def prune_security_logs() -> dict:
    """Job: delete security events and sign-in attempts past the retention."""
    return prune_security_log()
