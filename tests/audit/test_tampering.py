"""Every kind of tampering with the audit chain is caught by verify_chain (issue 12, A.4); the
kinds at the tail are caught once an anchor covers them."""

import pytest
from sqlalchemy import delete, insert, select, update

from taskflow.audit.anchor import write_anchor
from taskflow.audit.models import AuditEvent
from taskflow.audit.queries import verify_chain
from taskflow.core.audit import event_hash, hashed_payload
from taskflow.extensions import db

COLUMNS = [c.key for c in AuditEvent.__table__.columns if c.key != "id"]


@pytest.fixture
def chain(app, make_user, record_event):
    """Six v2 events (a user.create, then five updates) by a named actor from an address."""
    actor = make_user("office", username="wang_office")
    for i in range(5):
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": f"10.0.0.{i + 1}"}):
            record_event(actor, "milestone.update", object_id=i, before={"v": i},
                         after={"v": i + 1}, summary=f"第{i}次")
    ids = list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    assert len(ids) == 6 and verify_chain().intact
    return ids


def _edit(event_id, **values):
    db.session.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(**values))
    db.session.commit()


def _rehash_from(event_id):
    """What a careful forger does: recompute every hash from event_id to the end."""
    previous = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.id < event_id)
                                 .order_by(AuditEvent.id.desc()).limit(1)) or ""
    for event in db.session.scalars(select(AuditEvent).where(AuditEvent.id >= event_id)
                                    .order_by(AuditEvent.id)):
        event.prev_hash = previous
        event.hash = event_hash(previous, hashed_payload(event), event.hash_scheme)
        previous = event.hash
    db.session.commit()


def _broken(report, event_id, words):
    assert not report.intact
    assert report.broken_id == event_id, report
    assert words in report.reason, report.reason


def test_new_events_are_chained_with_v2_covering_who_and_where(app, chain):
    event = db.session.get(AuditEvent, chain[-1])
    assert event.hash_scheme == "v2-sha256"
    assert event.actor_name == "wang_office" and event.ip_address == "10.0.0.5"
    payload = hashed_payload(event)
    assert payload["actor_name"] == "wang_office" and payload["ip_address"] == "10.0.0.5"
    assert payload["id"] == event.id and payload["prev_hash"] == event.prev_hash


def test_edited_actor_name_is_caught(chain):
    _edit(chain[2], actor_name="admin")
    _broken(verify_chain(), chain[2], "content does not match its hash")


def test_edited_ip_address_is_caught(chain):
    _edit(chain[3], ip_address="192.0.2.66")
    _broken(verify_chain(), chain[3], "content does not match its hash")


def test_edited_summary_is_caught(chain):
    _edit(chain[1], summary="悄悄改过")
    _broken(verify_chain(), chain[1], "content does not match its hash")


def test_edited_before_and_after_are_caught(chain):
    _edit(chain[4], before={"v": 0})
    _broken(verify_chain(), chain[4], "content does not match its hash")
    _edit(chain[4], before={"v": 3}, after={"v": 999})
    _broken(verify_chain(), chain[4], "content does not match its hash")


def test_deleted_middle_event_is_caught_at_its_successor(chain):
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == chain[2]))
    db.session.commit()
    _broken(verify_chain(), chain[3], "previous-hash")


def test_deleted_last_events_are_caught_after_an_anchor(chain):
    write_anchor()
    db.session.execute(delete(AuditEvent).where(AuditEvent.id >= chain[4]))
    db.session.commit()
    _broken(verify_chain(), chain[5], "events deleted after anchor")


def test_last_events_rehashed_consistently_are_caught_after_an_anchor(chain):
    _edit(chain[4], actor_name="someone_else", summary="伪造")
    _rehash_from(chain[4])
    assert verify_chain(anchors=False).intact  # the chain alone cannot tell at its tail
    _edit(chain[4], actor_name="wang_office", summary="第3次")
    _rehash_from(chain[4])
    write_anchor()
    _edit(chain[4], actor_name="someone_else", summary="伪造")
    _rehash_from(chain[4])
    _broken(verify_chain(), chain[5], "events deleted after anchor or re-hashed")


def test_forged_event_inserted_in_the_middle_is_caught(chain):
    # Make room after chain[2] by moving the later events up one id (highest first).
    for event_id in reversed(chain[3:]):
        db.session.execute(update(AuditEvent).where(AuditEvent.id == event_id)
                           .values(id=event_id + 1))
    db.session.commit()
    template = db.session.get(AuditEvent, chain[2])
    forged = {name: getattr(template, name) for name in COLUMNS}
    db.session.expunge_all()
    forged.update(summary="伪造的审批", prev_hash=template.hash)
    probe = AuditEvent(id=chain[3], **forged)
    forged["hash"] = event_hash(template.hash, hashed_payload(probe), "v2-sha256")
    db.session.execute(insert(AuditEvent).values(id=chain[3], **forged))
    db.session.commit()
    report = verify_chain()
    assert not report.intact and report.broken_id == chain[3] + 1, report


def test_reordered_events_are_caught(chain):
    first, second = (db.session.get(AuditEvent, chain[i]) for i in (2, 3))
    a = {name: getattr(first, name) for name in COLUMNS}
    b = {name: getattr(second, name) for name in COLUMNS}
    db.session.expunge_all()
    _edit(chain[2], **b)
    _edit(chain[3], **a)
    _broken(verify_chain(), chain[2], "previous-hash")


def test_scheme_label_changed_to_v1_is_caught(chain):
    _edit(chain[3], hash_scheme="v1")
    _broken(verify_chain(), chain[3], "v1 after v2")


def test_last_event_relabelled_v1_and_rehashed_is_caught_without_an_anchor(chain):
    # The v1 hash does not cover the actor: a forger relabels the last event, changes who made
    # it and recomputes a valid v1 hash. A v1 event after v2 ones is refused.
    event = db.session.get(AuditEvent, chain[-1])
    event.hash_scheme = "v1"
    event.actor_name = "admin"
    event.hash = event_hash(event.prev_hash, hashed_payload(event), "v1")
    db.session.commit()
    _broken(verify_chain(), chain[-1], "v1 after v2")


def test_unknown_scheme_label_is_caught(chain):
    _edit(chain[1], hash_scheme="v9-md5")
    _broken(verify_chain(), chain[1], "unknown")


def test_legacy_v1_events_still_verify_and_new_events_chain_onto_them(app, make_user,
                                                                         record_event):
    actor = make_user("office")
    for i in range(3):
        record_event(actor, "milestone.update", object_id=i, summary=f"旧{i}")
    # Turn them into what the migration leaves: events labelled v1 with v1 hashes.
    previous = ""
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        event.hash_scheme = "v1"
        event.prev_hash = previous
        event.hash = event_hash(previous, hashed_payload(event), "v1")
        previous = event.hash
    db.session.commit()
    assert verify_chain().intact
    record_event(actor, "milestone.update", object_id=9, summary="新")
    schemes = list(db.session.scalars(select(AuditEvent.hash_scheme).order_by(AuditEvent.id)))
    assert schemes == ["v1"] * 4 + ["v2-sha256"]
    report = verify_chain()
    assert report.intact and report.events == 5


def test_an_event_made_at_a_local_time_instant_verifies(app, make_user):
    """The clock may hand out an aware local time (a frozen clock in Asia/Shanghai): the event's
    hash covers the instant in UTC, as stored, so the chain verifies after the round trip."""
    from datetime import datetime

    from taskflow.audit.queries import verify_chain
    from taskflow.core import audit, clock

    user = make_user("office")
    with clock.frozen_at(datetime(2026, 12, 1, 9, 0, tzinfo=clock.LOCAL_TZ)):
        audit.record(user, "test.local_time", object_type="test", object_id=1, summary="local")
        db.session.commit()
    db.session.expire_all()
    assert verify_chain().intact
