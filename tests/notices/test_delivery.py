"""Digests, the outbox and the channels, against a real local SMTP server and a real HTTP endpoint."""

import threading
from collections import Counter
from datetime import date, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

from sqlalchemy import func, select

from taskflow.core import clock
from taskflow.extensions import db
from taskflow.notices import jobs
from taskflow.notices.models import Notification, OutboxMessage

D = date.fromisoformat


def parse(envelope):
    return message_from_bytes(envelope.original_content, policy=default_policy)


def mail_by_recipient(handler) -> dict[str, list]:
    result: dict[str, list] = {}
    for envelope in handler.messages:
        for rcpt in envelope.rcpt_tos:
            result.setdefault(rcpt, []).append(parse(envelope))
    return result


def run_day(day, sim, *, scan=True):
    """One simulated working day: the morning scan, the evening digest, delivery."""
    if scan:
        with clock.frozen_at(sim.at(day)):
            jobs.scan_deadlines()
    with clock.frozen_at(sim.at(day, 17, 30)):
        jobs.send_digests()
    with clock.frozen_at(sim.at(day, 17, 31)):
        return jobs.deliver_outbox()


def test_one_digest_per_person_combines_their_items_with_links(app, world, milestone_at, sim,
                                                                smtp_server):
    first = milestone_at(D("2024-10-08"), "完成企业走访")
    second = milestone_at(D("2024-10-07"), "报送培育名单")  # due on a holiday
    run_day(D("2024-10-08"), sim)  # first: due today (due_1); second: 1 working day late
    mails = mail_by_recipient(smtp_server)
    assert set(mails) == {"reporter@town.test", "head@town.test", "reporter@lead.test"}
    assert all(len(v) == 1 for v in mails.values())
    town_mail = mails["reporter@town.test"][0]
    body = town_mail.get_body().get_content()
    assert "2024-10-08" in town_mail["Subject"] and "2" in town_mail["Subject"]
    assert "完成企业走访" in body and "报送培育名单" in body
    assert f"http://taskflow.test/milestones/{first.id}" in body
    assert f"http://taskflow.test/milestones/{second.id}" in body
    assert "http://taskflow.test/notices/inbox" in body
    # The lead unit's mail is about the overdue item only.
    lead_body = mails["reporter@lead.test"][0].get_body().get_content()
    assert "报送培育名单" in lead_body and "完成企业走访" not in lead_body
    # A second digest the same day, and another delivery, send nothing more.
    with clock.frozen_at(sim.at(D("2024-10-08"), 18, 0)):
        assert jobs.send_digests() == {}
        assert jobs.deliver_outbox()["sent"] == 0
    assert len(smtp_server.messages) == 3


def test_nobody_gets_an_empty_digest(app, world, sim, smtp_server):
    with clock.frozen_at(sim.at(D("2024-10-08"), 17, 30)):
        assert jobs.send_digests() == {}
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_two_scans_and_deliveries_at_the_same_time_deliver_each_message_once(
        app, world, milestone_at, sim, smtp_server):
    titles = [f"并发节点{i}" for i in range(5)]
    for title in titles:
        milestone_at(D("2024-10-08"), title)
    overdue = milestone_at(D("2024-10-05"), "逾期节点")
    barrier = threading.Barrier(2)
    errors, results = [], []

    def worker():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                scan = jobs.scan_deadlines()
                barrier.wait(timeout=30)
                digest = jobs.send_digests()
                barrier.wait(timeout=30)
                delivered = jobs.deliver_outbox()
                results.append((scan, digest, delivered))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with clock.frozen_at(sim.at(D("2024-10-08"), 17, 30)):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 2
    assert sum((r[0] for r in results), start=Counter()) == {"due_1": 5, "overdue": 1}
    assert sum((r[2]["sent"] for r in results)) == 3
    mails = mail_by_recipient(smtp_server)
    assert {k: len(v) for k, v in mails.items()} == {
        "reporter@town.test": 1, "head@town.test": 1, "reporter@lead.test": 1}
    body = mails["head@town.test"][0].get_body().get_content()
    for title in titles + ["逾期节点"]:
        assert body.count(title) == 1, title
    assert f"/milestones/{overdue.id}" in body
    ids = [m["X-TaskFlow-Outbox-Id"] for m in map(parse, smtp_server.messages)]
    assert len(ids) == len(set(ids)) == 3


def test_after_a_week_of_downtime_the_catch_up_is_delivered_exactly_once(
        app, world, milestone_at, sim, smtp_server):
    due_soon = milestone_at(D("2024-10-08"), "国庆后首日节点")
    late = milestone_at(D("2024-09-20"), "节前节点")
    run_day(D("2024-09-19"), sim)  # late is due tomorrow: due_1; due_soon is 8 working days off
    before = len(smtp_server.messages)
    # Down from 09-20 to 10-13. On 10-14 the morning scan, digest and delivery catch up.
    run_day(D("2024-10-14"), sim)
    run_day(D("2024-10-14"), sim)  # a second full run on the same day sends nothing
    catch_up = smtp_server.messages[before:]
    recipients = Counter(r for e in catch_up for r in e.rcpt_tos)
    assert recipients == {"reporter@town.test": 1, "head@town.test": 1, "reporter@lead.test": 1,
                          "office@kjj.test": 1}
    body = mail_by_recipient(smtp_server)["reporter@town.test"][-1].get_body().get_content()
    # late: (23..27, 29, 30, 8, 9, 10, 11, 12, 14) = 13 working days late → 督办 only (to the head
    # and the office); due_soon: 5 working days late → 催办 only. No stale due_7/3/1, no separate
    # overdue notices; the lead unit hears once that both items are overdue.
    assert sim.sent_ladder(late.id) == [("due_1", "2024-09-19"), ("supervise", "2024-10-14")]
    assert sim.sent_ladder(due_soon.id) == [("urge", "2024-10-14")]
    assert body.count("綦科催〔2024〕1号") == 1
    head_body = mail_by_recipient(smtp_server)["head@town.test"][-1].get_body().get_content()
    assert "綦科督〔2024〕1号" in head_body and "綦科催〔2024〕1号" in head_body
    lead_body = mail_by_recipient(smtp_server)["reporter@lead.test"][-1].get_body().get_content()
    assert "国庆后首日节点" in lead_body and "节前节点" in lead_body


def test_a_failing_server_is_retried_with_backoff(app, world, milestone_at, sim, smtp_server):
    milestone_at(D("2024-10-08"))
    smtp_server.refuse = 2
    with clock.frozen_at(sim.at(D("2024-10-08"))):
        jobs.scan_deadlines()
    with clock.frozen_at(sim.at(D("2024-10-08"), 17, 30)):
        jobs.send_digests()
    queued = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert len(queued) == 2
    start = sim.at(D("2024-10-08"), 17, 31)
    with clock.frozen_at(start):
        first = jobs.deliver_outbox()
    assert first == {"retry_later": 2, "interrupted": 0}
    db.session.expire_all()
    for message in queued:
        assert message.state == "pending" and message.attempts == 1
        assert "451" in message.last_error
        assert message.next_attempt_at == start + timedelta(seconds=60)
    with clock.frozen_at(start + timedelta(seconds=30)):  # too early: nothing is tried
        assert jobs.deliver_outbox()["sent"] == 0
    with clock.frozen_at(start + timedelta(seconds=60)):
        assert jobs.deliver_outbox()["sent"] == 2
    assert len(smtp_server.messages) == 2
    db.session.expire_all()
    assert {m.state for m in queued} == {"sent"} and {m.attempts for m in queued} == {2}


def test_a_message_that_keeps_failing_ends_failed_and_an_admin_can_retry_it(
        app, world, sim, client, login):
    from taskflow.notices.operations import enqueue

    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sim.free_port(), OUTBOX_MAX_ATTEMPTS=3)
    moment = sim.at(D("2024-10-08"), 18, 0)
    with clock.frozen_at(moment):
        message = enqueue("email", "head@town.test", subject="测试", body="正文")
        db.session.commit()
        for step in range(3):
            with clock.frozen_at(moment + timedelta(hours=step)):
                jobs.deliver_outbox()
    db.session.expire_all()
    assert message.state == "failed" and message.attempts == 3
    assert "SMTP" in message.last_error

    login(world.users.admin)
    page = client.get("/notices/outbox")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-outbox="{message.id}"' in html and "SMTP" in html
    assert client.post(f"/notices/outbox/{message.id}/retry").status_code == 302
    db.session.rollback()  # end the test's read snapshot to see what the request committed
    assert message.state == "pending" and message.attempts == 0


def test_interrupted_delivery_is_not_resent_blindly(app, world, sim):
    from taskflow.notices.operations import enqueue

    moment = sim.at(D("2024-10-08"), 18, 0)
    with clock.frozen_at(moment):
        message = enqueue("email", "head@town.test", subject="测试", body="正文")
        message.state = "sending"
        message.claimed_at = moment
        message.claimed_by = "crashed-worker"
        db.session.commit()
    with clock.frozen_at(moment + timedelta(minutes=5)):
        assert jobs.deliver_outbox()["interrupted"] == 0
    with clock.frozen_at(moment + timedelta(minutes=20)):
        assert jobs.deliver_outbox()["interrupted"] == 1
    db.session.expire_all()
    assert message.state == "failed" and "interrupted" in message.last_error


def test_webhook_posts_one_daily_summary_to_the_group_bot(app, world, milestone_at, sim,
                                                          webhook_server):
    milestone_at(D("2024-10-08"), "甲")
    milestone_at(D("2024-09-27"), "乙")
    run_day(D("2024-10-08"), sim)
    run_day(D("2024-10-08"), sim, scan=False)
    assert len(webhook_server.posts) == 1
    post = webhook_server.posts[0]
    assert post["msgtype"] == "text"
    content = post["text"]["content"]
    assert "2024-10-08" in content and "古南街道" in content
    # Quiet day: nothing new → no post.
    run_day(D("2024-10-09"), sim, scan=False)
    assert len(webhook_server.posts) == 1


def test_webhook_failure_is_retried(app, world, milestone_at, sim, webhook_server):
    milestone_at(D("2024-10-08"))
    webhook_server.status = 500
    run_day(D("2024-10-08"), sim)
    hook = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
    assert hook.state == "pending" and "HTTP 500" in hook.last_error
    webhook_server.status = 200
    with clock.frozen_at(sim.at(D("2024-10-08"), 18, 0)):
        assert jobs.deliver_outbox()["sent"] == 1
    assert len(webhook_server.posts) == 1


def test_digest_is_written_in_the_readers_language(app, world, milestone_at, sim, smtp_server):
    world.users.head.locale = "en"
    db.session.commit()
    milestone_at(D("2024-10-08"), "节点")
    run_day(D("2024-10-08"), sim)
    mails = mail_by_recipient(smtp_server)
    assert "items for you" in mails["head@town.test"][0]["Subject"]
    assert "Due today" in mails["head@town.test"][0].get_body().get_content()
    assert "今天到期" in mails["reporter@town.test"][0].get_body().get_content()


def test_inbox_items_are_marked_as_emailed(app, world, milestone_at, sim, smtp_server):
    milestone_at(D("2024-10-08"))
    run_day(D("2024-10-08"), sim)
    pending = db.session.scalar(select(func.count(Notification.id)).where(
        Notification.digest_outbox_id.is_(None)))
    assert pending == 0


def test_outbox_commands_take_now(app, runner, world, milestone_at, smtp_server):
    milestone_at(D("2024-10-08"), "命令行节点")
    assert runner.invoke(args=["reminders", "scan", "--now", "2024-10-08T08:30"]).exit_code == 0
    digest = runner.invoke(args=["outbox", "digest", "--now", "2024-10-08T17:30"])
    assert digest.exit_code == 0 and "emails=2" in digest.output
    deliver = runner.invoke(args=["outbox", "deliver", "--now", "2024-10-08T17:31"])
    assert deliver.exit_code == 0 and "sent=2" in deliver.output
    again = runner.invoke(args=["outbox", "deliver"])
    assert again.exit_code == 0 and "sent" not in again.output
    assert len(smtp_server.messages) == 2
