"""Anchors of the chain's head outside the database: written, signed, checked by verify, and
scheduled (issue 12, B.3)."""

import json
from datetime import datetime, timezone

from sqlalchemy import delete, func, select

from taskflow import scheduler
from taskflow.audit import jobs as audit_jobs
from taskflow.audit.anchor import latest_anchor, load_anchors, write_anchor
from taskflow.audit.models import AuditEvent
from taskflow.audit.queries import verify_chain
from taskflow.core.clock import frozen_at
from taskflow.extensions import db
from taskflow.notices.models import OutboxMessage


def make_chain(make_user, record_event, n=4):
    actor = make_user("office")
    for i in range(n):
        record_event(actor, "milestone.update", object_id=i, summary=f"第{i}次")
    return list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def test_no_anchor_for_an_empty_chain(app, backup_dir):
    assert write_anchor() is None
    assert latest_anchor() is None
    assert not (backup_dir / "anchors").exists()


def test_anchor_file_holds_the_signed_head(app, make_user, record_event, backup_dir):
    ids = make_chain(make_user, record_event)
    moment = datetime(2024, 6, 1, 4, 5, 6, tzinfo=timezone.utc)
    with frozen_at(moment):
        anchor = write_anchor()
    assert anchor.path.parent == backup_dir / "anchors"
    assert anchor.path.name == "anchor-20240601T040506000000Z.json"
    body = json.loads(anchor.path.read_text(encoding="utf-8"))
    head = db.session.get(AuditEvent, ids[-1])
    assert body["kind"] == "audit_anchor" and body["alg"] == "hmac-sha256"
    assert (body["event_id"], body["hash"], body["event_count"]) == (head.id, head.hash, len(ids))
    assert body["written_at"] == moment.isoformat() and len(body["signature"]) == 64
    assert latest_anchor() == anchor
    assert anchor.written_at == moment and anchor.event_count == len(ids)
    report = verify_chain()
    assert report.intact and report.anchors_checked == 1


def test_an_unmoved_head_is_not_anchored_twice(app, make_user, record_event, backup_dir):
    make_chain(make_user, record_event)
    first = write_anchor()
    assert write_anchor() == first
    assert len(list((backup_dir / "anchors").iterdir())) == 1
    record_event(make_user("office"), "milestone.update")
    second = write_anchor()
    assert second.event_id > first.event_id and latest_anchor() == second


def test_tail_deletion_is_caught_after_the_anchor_and_not_before(runner, make_user,
                                                                 record_event):
    ids = make_chain(make_user, record_event)
    write_anchor()
    actor = make_user("office")
    record_event(actor, "milestone.update", summary="锚点之后")
    after = list(db.session.scalars(select(AuditEvent.id).where(AuditEvent.id > ids[-1])))
    # Events written after the last anchor can go unnoticed: nothing outside knows them yet.
    db.session.execute(delete(AuditEvent).where(AuditEvent.id.in_(after)))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"chain intact: {len(ids)} events (1 anchors checked)" in result.output
    # Events the anchor covers cannot.
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids[-1]))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"chain broken at event {ids[-1]}: events deleted after anchor" in result.output


def test_deleting_every_event_is_caught(make_user, record_event):
    ids = make_chain(make_user, record_event)
    write_anchor()
    db.session.execute(delete(AuditEvent))
    db.session.commit()
    report = verify_chain()
    assert report.broken_id == ids[-1] and "events deleted after anchor" in report.reason


def test_a_changed_anchor_file_is_rejected(runner, make_user, record_event):
    ids = make_chain(make_user, record_event)
    anchor = write_anchor()
    # The forger deletes the last event and moves the anchor back to match, without the key.
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids[-1]))
    db.session.commit()
    previous = db.session.get(AuditEvent, ids[-2])
    body = json.loads(anchor.path.read_text(encoding="utf-8"))
    body.update(event_id=previous.id, hash=previous.hash, event_count=len(ids) - 1)
    anchor.path.write_text(json.dumps(body), encoding="utf-8")
    accepted, rejected = load_anchors()
    assert accepted == [] and len(rejected) == 1
    assert "signature does not match" in rejected[0].reason
    assert latest_anchor() is None
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"anchor rejected: {anchor.path.name}: signature does not match" in result.output


def test_an_anchor_signed_with_another_key_is_rejected(app, make_user, record_event):
    make_chain(make_user, record_event)
    app.config["AUDIT_ANCHOR_KEY"] = "the forger's key"
    write_anchor()
    app.config["AUDIT_ANCHOR_KEY"] = "the instance's key"
    report = verify_chain()
    assert not report.intact and report.broken_id is None
    assert "signature does not match" in report.rejected_anchors[0]
    app.config["AUDIT_ANCHOR_KEY"] = "the forger's key"
    assert verify_chain().intact


def test_an_unsigned_or_broken_file_is_rejected(app, make_user, record_event, backup_dir):
    make_chain(make_user, record_event)
    folder = backup_dir / "anchors"
    folder.mkdir(parents=True)
    (folder / "anchor-20990101T000000000000Z.json").write_text("{not json", encoding="utf-8")
    (folder / "anchor-20990102T000000000000Z.json").write_text(
        json.dumps({"kind": "audit_anchor", "event_id": 1, "hash": "x", "event_count": 1,
                    "written_at": "2099-01-02T00:00:00+00:00", "alg": "none"}),
        encoding="utf-8")
    report = verify_chain()
    assert len(report.rejected_anchors) == 2 and not report.intact


def test_anchor_copy_goes_to_the_outbox_when_a_mailbox_is_set(app, make_user, record_event):
    make_chain(make_user, record_event)
    write_anchor()
    db.session.commit()
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    app.config["AUDIT_ANCHOR_EMAIL"] = "audit-archive@qijiang.example"
    anchor = write_anchor(force=True)
    db.session.commit()
    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.channel == "email" and message.recipient == "audit-archive@qijiang.example"
    assert message.payload["kind"] == "audit_anchor"
    assert message.payload["event_id"] == anchor.event_id
    assert message.payload["signature"] == json.loads(anchor.path.read_text())["signature"]


def test_anchor_command(runner, make_user, record_event, backup_dir):
    result = runner.invoke(args=["audit", "anchor"])
    assert result.exit_code == 0 and "nothing to anchor" in result.output
    ids = make_chain(make_user, record_event)
    result = runner.invoke(args=["audit", "anchor"])
    assert result.exit_code == 0, result.output
    assert f"event {ids[-1]}, {len(ids)} events" in result.output
    assert len(list((backup_dir / "anchors").glob("anchor-*.json"))) == 1


def test_the_scheduler_anchors_hourly_and_prunes_daily(app, make_user, record_event, backup_dir):
    jobs = {job_id: (func, trigger) for job_id, func, trigger in scheduler.job_table(app)}
    func, trigger = jobs["audit_anchor"]
    assert func is audit_jobs.anchor_chain_head
    assert trigger.interval.total_seconds() == 3600
    func, trigger = jobs["security_log_prune"]
    assert func is audit_jobs.prune_security_logs
    app.config["AUDIT_ANCHOR_INTERVAL_MINUTES"] = 15
    jobs = {job_id: trigger for job_id, _func, trigger in scheduler.job_table(app)}
    assert jobs["audit_anchor"].interval.total_seconds() == 900
    make_chain(make_user, record_event)
    db.session.commit()
    scheduler.run_job(app, "audit_anchor", audit_jobs.anchor_chain_head)
    assert latest_anchor() is not None
