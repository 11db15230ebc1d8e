"""`flask audit verify`: the hash chain intact, changed, and with an event removed."""

from sqlalchemy import delete, update

from taskflow.audit.models import AuditEvent
from taskflow.extensions import db


def make_chain(make_user, record_event, n=5):
    actor = make_user("office")  # writes a user.create event too
    return [record_event(actor, "milestone.update", object_id=i, before={"v": i},
                         after={"v": i + 1}, summary=f"第{i}次") for i in range(n)]


def test_empty_chain_is_intact(runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "chain intact: 0 events" in result.output


def test_intact_chain(runner, make_user, record_event):
    make_chain(make_user, record_event)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "chain intact: 6 events" in result.output


def test_changed_event_is_reported(runner, make_user, record_event):
    events = make_chain(make_user, record_event)
    target = events[2].id
    db.session.execute(update(AuditEvent).where(AuditEvent.id == target)
                       .values(summary="悄悄改过"))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"chain broken at event {target}:" in result.output
    assert "content does not match its hash" in result.output


def test_changed_after_value_is_reported(runner, make_user, record_event):
    events = make_chain(make_user, record_event)
    db.session.execute(update(AuditEvent).where(AuditEvent.id == events[0].id)
                       .values(after={"v": 999}))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"event {events[0].id}:" in result.output


def test_removed_event_is_reported_at_the_next_one(runner, make_user, record_event):
    events = make_chain(make_user, record_event)
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"chain broken at event {events[2].id}:" in result.output
    assert "previous-hash" in result.output


def test_rehashed_event_is_still_caught_by_its_successor(runner, make_user, record_event):
    from taskflow.core.audit import event_hash, hashed_payload

    events = make_chain(make_user, record_event)
    victim = db.session.get(AuditEvent, events[1].id)
    victim.summary = "伪造"
    victim.hash = event_hash(victim.prev_hash, hashed_payload(victim), victim.hash_scheme)
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"chain broken at event {events[2].id}:" in result.output
