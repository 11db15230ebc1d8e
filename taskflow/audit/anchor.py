"""Anchors of the audit chain's head outside the database.

An anchor is a small signed JSON file in BACKUP_DIR/anchors (last event id, its hash, how many
events up to it, when): once written, deleting or re-hashing events up to that head is caught
by `flask audit verify`, which the hash chain alone cannot do at its tail. Each anchor is also
written to the log as a signed line, and, when AUDIT_ANCHOR_EMAIL is set, queued in the outbox
(outbox_messages, payload kind "audit_anchor") so a copy leaves the machine.

Signature: HMAC (SHA-256, or SM3 when AUDIT_HASH is "sm3") with AUDIT_ANCHOR_KEY, or else a key
derived from SECRET_KEY. An anchor whose signature does not verify is reported, never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from taskflow.audit.models import AuditEvent
from taskflow.core import clock
from taskflow.core.crypto import hmac_sm3
from taskflow.extensions import db

log = logging.getLogger("taskflow.audit.anchor")

ANCHOR_KIND = "audit_anchor"
SIGNED_FIELDS = ("kind", "written_at", "event_id", "hash", "hash_scheme", "event_count", "alg")


@dataclass(frozen=True)
class Anchor:
    """One verified anchor of the chain's head."""

    written_at: datetime
    event_id: int
    hash: str
    event_count: int
    path: Path


@dataclass(frozen=True)
class RejectedAnchor:
    """An anchor file that could not be trusted (bad signature or unreadable)."""

    path: Path
    reason: str


def anchor_dir() -> Path:
    """Where anchors are written: BACKUP_DIR/anchors."""
    return Path(current_app.config["BACKUP_DIR"]) / "anchors"


def _key() -> bytes:
    explicit = current_app.config["AUDIT_ANCHOR_KEY"]
    if explicit:
        return str(explicit).encode("utf-8")
    secret = current_app.config["SECRET_KEY"] or ""
    # A key of its own, so an anchor signature is never usable as a session signature.
    return hmac.new(str(secret).encode("utf-8"), b"taskflow audit anchor v1",
                    hashlib.sha256).digest()


def _signature(body: dict) -> str:
    message = json.dumps({name: body.get(name) for name in SIGNED_FIELDS}, sort_keys=True,
                         ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if body.get("alg") == "hmac-sm3":
        return hmac_sm3(_key(), message).hex()
    if body.get("alg") == "hmac-sha256":
        return hmac.new(_key(), message, hashlib.sha256).hexdigest()
    raise ValueError(f"unknown anchor signature algorithm {body.get('alg')!r}")


def _algorithm() -> str:
    return "hmac-sm3" if str(current_app.config["AUDIT_HASH"]).lower() == "sm3" \
        else "hmac-sha256"


def chain_head() -> dict | None:
    """The chain's last event (id, hash, scheme) and the number of events, or None when empty."""
    row = db.session.execute(
        select(AuditEvent.id, AuditEvent.hash, AuditEvent.hash_scheme)
        .order_by(AuditEvent.id.desc()).limit(1)).first()
    if row is None:
        return None
    count = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.id <= row.id))
    return {"event_id": row.id, "hash": row.hash, "hash_scheme": row.hash_scheme,
            "event_count": count}


def _write_file(body: dict, written_at: datetime) -> Path:
    folder = anchor_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"anchor-{written_at.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(body, handle, ensure_ascii=False, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o640)
    os.replace(temporary, path)  # readers never see half a file
    return path


def _enqueue_copy(body: dict) -> int | None:
    recipient = current_app.config["AUDIT_ANCHOR_EMAIL"]
    if not recipient:
        return None
    from taskflow.notices.operations import enqueue

    text = json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True)
    message = enqueue("email", recipient, subject=f"TaskFlow audit anchor: event "
                      f"{body['event_id']} at {body['written_at']}", body=text, payload=body)
    return message.id


def write_anchor(*, force: bool = False) -> Anchor | None:
    """Anchor the chain's current head: a signed file, a signed log line and (AUDIT_ANCHOR_EMAIL)
    an outbox row in the current session (the caller commits). None when the chain is empty;
    the latest anchor when the head has not moved since it (unless force)."""
    head = chain_head()
    if head is None:
        return None
    latest = latest_anchor()
    if latest is not None and not force and latest.event_id == head["event_id"] \
            and latest.hash == head["hash"]:
        return latest
    written_at = clock.utcnow()
    body = {"kind": ANCHOR_KIND, "written_at": written_at.isoformat(), **head,
            "alg": _algorithm()}
    body["signature"] = _signature(body)
    path = _write_file(body, written_at)
    outbox_id = _enqueue_copy(body)
    log.info("audit anchor %s (outbox %s)",
             json.dumps(body, sort_keys=True, separators=(",", ":")), outbox_id or "-")
    return Anchor(written_at=written_at, event_id=head["event_id"], hash=head["hash"],
                  event_count=head["event_count"], path=path)


def read_anchor(path: Path) -> Anchor:
    """Read and verify one anchor file; ValueError says why it cannot be trusted."""
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"unreadable: {exc}") from exc
    if not isinstance(body, dict) or body.get("kind") != ANCHOR_KIND:
        raise ValueError("not an audit anchor")
    try:
        expected = _signature(body)
    except ValueError as exc:
        raise ValueError(str(exc)) from exc
    if not hmac.compare_digest(expected, str(body.get("signature", ""))):
        raise ValueError("signature does not match (forged, changed, or signed with another key)")
    try:
        return Anchor(written_at=datetime.fromisoformat(body["written_at"]),
                      event_id=int(body["event_id"]), hash=str(body["hash"]),
                      event_count=int(body["event_count"]), path=Path(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"incomplete: {exc}") from exc


def load_anchors() -> tuple[list[Anchor], list[RejectedAnchor]]:
    """Every anchor file, oldest first: the verified ones and the rejected ones."""
    folder = anchor_dir()
    accepted: list[Anchor] = []
    rejected: list[RejectedAnchor] = []
    if not folder.is_dir():
        return accepted, rejected
    for path in sorted(folder.glob("anchor-*.json")):
        try:
            accepted.append(read_anchor(path))
        except ValueError as exc:
            rejected.append(RejectedAnchor(path, str(exc)))
    accepted.sort(key=lambda anchor: (anchor.written_at, anchor.event_id))
    return accepted, rejected


def latest_anchor() -> Anchor | None:
    """The most recently written anchor whose signature verifies, or None."""
    folder = anchor_dir()
    if not folder.is_dir():
        return None
    # File names carry the UTC time they were written, so the newest sorts last.
    for path in sorted(folder.glob("anchor-*.json"), reverse=True):
        try:
            return read_anchor(path)
        except ValueError:
            continue
    return None
