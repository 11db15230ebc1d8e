"""Write audit events: one call per state change, inside the caller's transaction."""

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import has_request_context, request
from sqlalchemy import select, text

from taskflow.core.db import is_postgres, now_default
from taskflow.extensions import db

# Serialises audit inserts on PostgreSQL so the hash chain never forks under concurrent writers.
AUDIT_CHAIN_LOCK_KEY = 7_310_001


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and hasattr(value, "name"):  # enums
        return value.value
    return value


def event_hash(prev_hash: str, payload: dict) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def hashed_payload(event) -> dict:
    """The fields of an event that its hash covers."""
    return {
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": event.summary,
        "before": event.before,
        "after": event.after,
    }


def record(
    actor,
    action: str,
    obj=None,
    *,
    object_type: str | None = None,
    object_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    summary: str = "",
):
    """Add an audit event for a state change to the current session (the caller commits)."""
    from taskflow.audit.models import AuditEvent

    if obj is not None:
        db.session.flush()
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    session = db.session
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK_KEY})
    prev_hash = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none() or ""
    actor_id = getattr(actor, "id", None)
    event = AuditEvent(
        occurred_at=now_default(),
        actor_id=actor_id,
        actor_name=getattr(actor, "username", None) or "system",
        action=action,
        object_type=object_type or "",
        object_id=object_id,
        summary=summary[:500],
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        ip_address=request.remote_addr if has_request_context() else None,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(prev_hash, hashed_payload(event))
    session.add(event)
    session.flush()
    return event


def snapshot(obj, *fields: str) -> dict:
    """The named attributes of an object, for before/after."""
    return {name: _jsonable(getattr(obj, name)) for name in fields}
