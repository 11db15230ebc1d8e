"""The audit event table."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from taskflow.core.db import UTCDateTime, now_default
from taskflow.extensions import db


class AuditEvent(db.Model):
    """One state change: actor, action, object, before/after, time; chained by hash."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_name: Mapped[str] = mapped_column(String(120), default="system")
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[int | None]
    summary: Mapped[str] = mapped_column(String(500), default="")
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")
    # How `hash` was computed (core/audit.py): "v1" for events older than schemes.
    hash_scheme: Mapped[str] = mapped_column(String(20), default="v1", server_default="v1")


class SecurityEvent(db.Model):
    """A security-relevant event (sign-in, sign-out, refused access, ...), kept for
    SECURITY_LOG_RETENTION_DAYS (网络安全法 art. 21: at least six months), then pruned."""

    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default, index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    username: Mapped[str | None] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
