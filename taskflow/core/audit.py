"""Write audit events: one call per state change, inside the caller's transaction.

Each event carries the name of the hash scheme it was chained with (audit_events.hash_scheme):
- "v1": events written before schemes existed. SHA-256 over the previous hash and the event's
  content without its actor name and IP address; kept so old chains verify as they always did.
- "v2-sha256" / "v2-sm3" (setting AUDIT_HASH "sha256", the default, or "sm3", GB/T 32905): one
  digest over the canonical JSON of every column but the hash itself, so who, from where, the
  event's id, its previous hash and the scheme's own name are covered too.
"""

import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from flask import has_request_context, request
from sqlalchemy import select, text

from taskflow.core.crypto import sm3_digest
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


SCHEME_V1 = "v1"
SCHEME_SHA256 = "v2-sha256"
SCHEME_SM3 = "v2-sm3"
HASH_SCHEMES = (SCHEME_V1, SCHEME_SHA256, SCHEME_SM3)
# AUDIT_HASH setting -> the scheme new events are chained with.
SETTING_SCHEMES = {"sha256": SCHEME_SHA256, "sm3": SCHEME_SM3}


def digest(scheme: str, data: bytes) -> str:
    """Hex digest of the bytes with the scheme's hash function."""
    if scheme == SCHEME_SM3:
        return sm3_digest(data).hex()
    return hashlib.sha256(data).hexdigest()


def current_scheme() -> str:
    """The scheme new events are chained with (setting AUDIT_HASH)."""
    from flask import current_app

    setting = str(current_app.config["AUDIT_HASH"]).lower()
    if setting not in SETTING_SCHEMES:
        raise ValueError(f"AUDIT_HASH must be 'sha256' or 'sm3', not {setting!r}")
    return SETTING_SCHEMES[setting]


def _canonical(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_hash(prev_hash: str, payload: dict, scheme: str = SCHEME_V1) -> str:
    """The event's hash: v1 is SHA-256 over prev_hash + canonical JSON; v2 hashes the JSON alone
    (which already holds prev_hash) with SHA-256 or SM3."""
    if scheme == SCHEME_V1:
        return hashlib.sha256((prev_hash + _canonical(payload)).encode("utf-8")).hexdigest()
    if scheme not in HASH_SCHEMES:
        raise ValueError(f"unknown audit hash scheme {scheme!r}")
    return digest(scheme, _canonical(payload).encode("utf-8"))


def hashed_payload(event, scheme: str | None = None) -> dict:
    """The fields of an event that its hash covers under its scheme."""
    scheme = scheme or getattr(event, "hash_scheme", None) or SCHEME_V1
    payload = {
        # In UTC, as the column stores it: an event made at a local-time instant (a frozen clock)
        # hashes the same before and after the round trip through the database.
        "occurred_at": event.occurred_at.astimezone(timezone.utc).isoformat(),
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": event.summary,
        "before": event.before,
        "after": event.after,
    }
    if scheme != SCHEME_V1:
        payload.update({
            "scheme": scheme,
            "id": event.id,
            "prev_hash": event.prev_hash,
            "actor_name": event.actor_name,
            "ip_address": event.ip_address,
        })
    return payload


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
        hash_scheme=current_scheme(),
        hash="",
    )
    session.add(event)
    # The v2 hash covers the event's id, which the database gives at INSERT: insert, then hash.
    session.flush()
    event.hash = event_hash(prev_hash, hashed_payload(event), event.hash_scheme)
    session.flush()
    return event


def snapshot(obj, *fields: str) -> dict:
    """The named attributes of an object, for before/after."""
    return {name: _jsonable(getattr(obj, name)) for name in fields}
