"""The SM3 option of the audit chain (AUDIT_HASH = "sm3", issue 12, B.4): events and anchors
chained and signed with SM3 verify, and tampering is still caught."""

import json

import pytest
from gmssl import func, sm3
from sqlalchemy import delete, select, update

from taskflow.audit.anchor import latest_anchor, write_anchor
from taskflow.audit.models import AuditEvent
from taskflow.audit.queries import verify_chain
from taskflow.core.audit import sm3_digest
from taskflow.extensions import db


def test_sm3_known_answer():
    # GB/T 32905-2016, appendix A, example 1: SM3("abc").
    assert sm3_digest(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


@pytest.fixture
def sm3_app(app):
    app.config["AUDIT_HASH"] = "sm3"
    return app


def test_sm3_chain_round_trip(sm3_app, make_user, record_event):
    actor = make_user("office")  # its user.create event is chained with SM3 too
    for i in range(3):
        with sm3_app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.9.8.7"}):
            record_event(actor, "milestone.update", object_id=i, before={"v": i},
                         after={"v": i + 1}, summary=f"国密{i}")
    events = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert {event.hash_scheme for event in events} == {"v2-sm3"}
    last = events[-1]
    canonical = json.dumps({
        "scheme": "v2-sm3", "id": last.id, "prev_hash": last.prev_hash,
        "occurred_at": last.occurred_at.isoformat(), "actor_id": actor.id,
        "actor_name": actor.username, "ip_address": "10.9.8.7", "action": "milestone.update",
        "object_type": "milestones", "object_id": 2, "summary": "国密2",
        "before": {"v": 2}, "after": {"v": 3},
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert last.hash == sm3.sm3_hash(func.bytes_to_list(canonical))
    assert last.prev_hash == events[-2].hash
    report = verify_chain()
    assert report.intact and report.events == 4


def test_a_chain_switched_from_sha256_to_sm3_verifies(app, make_user, record_event):
    actor = make_user("office")
    record_event(actor, "milestone.update", summary="sha")
    app.config["AUDIT_HASH"] = "sm3"
    record_event(actor, "milestone.update", summary="sm3")
    schemes = list(db.session.scalars(select(AuditEvent.hash_scheme).order_by(AuditEvent.id)))
    assert schemes == ["v2-sha256", "v2-sha256", "v2-sm3"]
    assert verify_chain().intact


def test_sm3_chain_tampering_is_caught(sm3_app, make_user, record_event):
    actor = make_user("office")
    for i in range(3):
        record_event(actor, "milestone.update", object_id=i)
    ids = list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[1])
                       .values(actor_name="admin"))
    db.session.commit()
    report = verify_chain()
    assert report.broken_id == ids[1]
    # Relabelling an SM3 event as SHA-256 is caught too: the scheme is part of what is hashed.
    db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[1])
                       .values(actor_name=actor.username, hash_scheme="v2-sha256"))
    db.session.commit()
    assert verify_chain().broken_id == ids[1]


def test_sm3_signed_anchor_round_trip_and_tail_deletion(sm3_app, make_user, record_event):
    actor = make_user("office")
    for i in range(3):
        record_event(actor, "milestone.update", object_id=i)
    anchor = write_anchor()
    body = json.loads(anchor.path.read_text(encoding="utf-8"))
    assert body["alg"] == "hmac-sm3" and body["hash_scheme"] == "v2-sm3"
    assert latest_anchor() == anchor and verify_chain().intact
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == anchor.event_id))
    db.session.commit()
    report = verify_chain()
    assert report.broken_id == anchor.event_id and "deleted after anchor" in report.reason


class _SM3:
    """SM3 as a hashlib-style object, so the standard library's HMAC can be the reference."""

    digest_size = 32
    block_size = 64

    def __init__(self, data=b""):
        self._data = bytes(data)

    def update(self, data):
        self._data += bytes(data)

    def copy(self):
        return _SM3(self._data)

    def digest(self):
        return sm3_digest(self._data)


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"long key " * 20])
def test_hmac_sm3_matches_the_standard_hmac_construction(key):
    import hmac

    from taskflow.core.crypto import hmac_sm3 as _hmac_sm3

    message = "锚点 anchor".encode("utf-8")
    assert _hmac_sm3(key, message) == hmac.new(key, message, _SM3).digest()
