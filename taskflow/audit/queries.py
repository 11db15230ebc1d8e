"""Reads of the audit trail: filtered event lists, the export rows and the hash-chain check."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select

from taskflow.audit.models import AuditEvent
from taskflow.core.audit import HASH_SCHEMES, SCHEME_V1, event_hash, hashed_payload
from taskflow.core.clock import LOCAL_TZ
from taskflow.core.input_guard import bounded_int
from taskflow.extensions import db


@dataclass
class AuditFilters:
    """What the audit page and its export are filtered by (dates are local, inclusive)."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> "AuditFilters":
        """Read the filters from query-string arguments; bad values are dropped and noted."""
        filters = cls(
            actor=(args.get("actor") or "").strip()[:120] or None,
            action=(args.get("action") or "").strip()[:80] or None,
            object_type=(args.get("object_type") or "").strip()[:60] or None,
        )
        raw_id = (args.get("object_id") or "").strip()
        if raw_id:
            try:  # beyond an INTEGER column, PostgreSQL refuses the query itself
                filters.object_id = bounded_int(raw_id)
            except ValueError:
                filters.errors.append("object_id")
        for name in ("date_from", "date_to"):
            raw = (args.get(name) or "").strip()
            if raw:
                try:
                    setattr(filters, name, date.fromisoformat(raw))
                except ValueError:
                    filters.errors.append(name)
        return filters

    def as_args(self) -> dict:
        """The filters as query-string arguments (for links: pages, export)."""
        values = {
            "actor": self.actor, "action": self.action, "object_type": self.object_type,
            "object_id": self.object_id,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}


def _local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _apply(query: Select, filters: AuditFilters) -> Select:
    if filters.actor:
        query = query.where(
            AuditEvent.actor_name.ilike(f"%{_escape_like(filters.actor)}%", escape="\\"))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.object_type:
        query = query.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id is not None:
        query = query.where(AuditEvent.object_id == filters.object_id)
    if filters.date_from:
        query = query.where(AuditEvent.occurred_at >= _local_midnight_utc(filters.date_from))
    if filters.date_to:
        query = query.where(
            AuditEvent.occurred_at < _local_midnight_utc(filters.date_to + timedelta(days=1)))
    return query


def events_query(filters: AuditFilters) -> Select:
    """Matching events, newest first."""
    return _apply(select(AuditEvent), filters).order_by(AuditEvent.id.desc())


def count_events(filters: AuditFilters) -> int:
    """How many events match."""
    return db.session.scalar(_apply(select(func.count(AuditEvent.id)), filters)) or 0


def distinct_actions() -> list[str]:
    """Every action recorded so far (for the filter list)."""
    return list(db.session.scalars(
        select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def distinct_object_types() -> list[str]:
    """Every object type recorded so far (for the filter list)."""
    return list(db.session.scalars(
        select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)))


EXPORT_COLUMNS = (
    AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_name, AuditEvent.action,
    AuditEvent.object_type, AuditEvent.object_id, AuditEvent.summary, AuditEvent.before,
    AuditEvent.after, AuditEvent.ip_address, AuditEvent.hash,
)


def export_rows(filters: AuditFilters, *, batch: int = 1000) -> Iterator[tuple]:
    """Matching events newest first as plain rows, fetched in batches (no ORM objects kept)."""
    query = _apply(select(*EXPORT_COLUMNS), filters).order_by(AuditEvent.id.desc())
    result = db.session.execute(query.execution_options(yield_per=batch))
    try:
        yield from result
    finally:
        result.close()


@dataclass
class ChainReport:
    """The result of walking the hash chain and checking it against the anchors."""

    events: int
    broken_id: int | None = None
    reason: str = ""
    anchors_checked: int = 0
    rejected_anchors: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.broken_id is None and not self.rejected_anchors


def verify_chain(*, batch: int = 2000, anchors: bool = True) -> ChainReport:
    """Walk every event in order: each must carry the previous hash and its own under its
    scheme, no v1 event may follow a v2 one, and every signed anchor's event must still be
    there with the anchored hash and the anchored count of events up to it."""
    from taskflow.audit.anchor import load_anchors

    accepted, rejected = load_anchors() if anchors else ([], [])
    expected = {}
    for anchor in accepted:  # oldest first: a later anchor of the same event wins
        expected[anchor.event_id] = anchor
    rejected_names = [f"{item.path.name}: {item.reason}" for item in rejected]

    def report(count, broken_id=None, reason=""):
        return ChainReport(count, broken_id, reason, len(accepted), rejected_names)

    columns = (AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_id,
               AuditEvent.actor_name, AuditEvent.action, AuditEvent.object_type,
               AuditEvent.object_id, AuditEvent.summary, AuditEvent.before, AuditEvent.after,
               AuditEvent.ip_address, AuditEvent.prev_hash, AuditEvent.hash,
               AuditEvent.hash_scheme)
    result = db.session.execute(
        select(*columns).order_by(AuditEvent.id).execution_options(yield_per=batch))
    previous = ""
    count = 0
    seen_v2 = False
    try:
        for row in result:
            count += 1
            if row.hash_scheme not in HASH_SCHEMES:
                return report(count, row.id, f"its hash scheme {row.hash_scheme!r} is unknown")
            if row.hash_scheme == SCHEME_V1 and seen_v2:
                return report(count, row.id, "its hash scheme says v1 after v2 events "
                              "(the scheme label was changed)")
            seen_v2 = seen_v2 or row.hash_scheme != SCHEME_V1
            if row.prev_hash != previous:
                return report(count, row.id, "its previous-hash does not match the event "
                              "before it (an event was removed, inserted or changed)")
            if event_hash(row.prev_hash, hashed_payload(row), row.hash_scheme) != row.hash:
                return report(count, row.id, "its content does not match its hash "
                              "(the event was changed)")
            anchor = expected.pop(row.id, None)
            if anchor is not None and (anchor.hash != row.hash or anchor.event_count != count):
                return report(count, row.id, "events deleted after anchor or re-hashed: it "
                              f"differs from anchor {anchor.path.name} (hash or count of events "
                              "up to it)")
            previous = row.hash
    finally:
        result.close()
    if expected:
        anchor = max(expected.values(), key=lambda item: item.event_id)
        return report(count, anchor.event_id, "events deleted after anchor: the chain ends "
                      f"before event {anchor.event_id} of anchor {anchor.path.name} "
                      f"({anchor.event_count} events then, {count} now)")
    return report(count)
