"""Reads for the security page: the newest backup and its recorded verification, the key status."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app

from taskflow.core import crypto
from taskflow.core.backup import read_verification

# taskflow-backup-20260101T020000Z[-2][.tar], as written by core/backup.py create_backup().
BACKUP_NAME = re.compile(r"^taskflow-backup-(\d{8}T\d{6}Z)(?:-(\d+))?(\.tar)?$")


def _backup_entries(backup_dir: Path):
    """(created_at, sequence, path) of every finished backup in the folder."""
    if not backup_dir.is_dir():
        return
    for path in backup_dir.iterdir():
        match = BACKUP_NAME.match(path.name)
        if match is None or not (path.is_dir() or path.is_file()):
            continue  # partial writes start with a dot; anchors and records do not match
        created = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        yield created, int(match.group(2) or 1), path


def latest_backup(backup_dir: Path | None = None) -> dict | None:
    """The newest backup in BACKUP_DIR: its name, time, and the recorded result of its last
    verification (None when it was never verified); None when there is no backup."""
    folder = Path(backup_dir or current_app.config["BACKUP_DIR"])
    entries = sorted(_backup_entries(folder), key=lambda e: (e[0], e[1]))
    if not entries:
        return None
    created, _sequence, path = entries[-1]
    record = read_verification(path)
    verified_at = None
    if record and record.get("verified_at"):
        verified_at = datetime.fromisoformat(record["verified_at"])
        if verified_at.tzinfo is None:
            verified_at = verified_at.replace(tzinfo=timezone.utc)
    return {
        "name": path.name,
        "created_at": created,
        "count": len(entries),
        "verification": record,
        "verified_at": verified_at,
    }


def field_key_status() -> dict:
    """The key id in use, the old key's id during a rotation, values still under another key."""
    return crypto.key_status()


def audit_log_status() -> dict:
    """Retention of the security log in force, what it holds, and the last anchor of the audit chain."""
    from sqlalchemy import func, select

    from taskflow.audit.anchor import latest_anchor
    from taskflow.audit.models import AuditEvent, SecurityEvent
    from taskflow.audit.retention import LEGAL_MINIMUM_DAYS, retention_days
    from taskflow.extensions import db

    events, oldest = db.session.execute(
        select(func.count(SecurityEvent.id), func.min(SecurityEvent.occurred_at))).one()
    head_id = db.session.scalar(select(func.max(AuditEvent.id)))
    anchor = latest_anchor()
    return {
        "retention_days": retention_days(),
        "legal_minimum_days": LEGAL_MINIMUM_DAYS,
        "security_events": events,
        "oldest_security_event": oldest,
        "hash": current_app.config["AUDIT_HASH"],
        "anchor": anchor,
        "events_since_anchor": (head_id or 0) - (anchor.event_id if anchor else 0),
    }


def accounts_status(as_of: datetime) -> dict:
    """Who signs in without a required second factor, and whose password has expired at `as_of`."""
    from taskflow.accounts.operations import totp_required_roles
    from taskflow.accounts.queries import (
        count_users_without_second_factor,
        users_with_expired_password,
        users_without_second_factor,
    )

    return {
        "required_roles": sorted(totp_required_roles()),
        "without_factor": users_without_second_factor(),
        "without_factor_any_role": count_users_without_second_factor(),
        "max_age_days": int(current_app.config["PASSWORD_MAX_AGE_DAYS"]),
        "history": int(current_app.config["PASSWORD_HISTORY"]),
        "expired": users_with_expired_password(as_of),
    }
