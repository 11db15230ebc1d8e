"""The deadline scan and update requests: exactly once, catch-up after downtime, no empty messages."""

import threading
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from taskflow.audit.models import AuditEvent
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.notices import jobs
from taskflow.notices.models import Notification, ReminderClaim, UrgeNotice

D = date.fromisoformat


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_running_the_scan_twice_sends_nothing_twice(app, world, milestone_at, sim):
    milestone = milestone_at(D("2024-10-08"))
    with clock.frozen_at(sim.at(D("2024-09-23"))):
        first = jobs.scan_deadlines()
        second = jobs.scan_deadlines()
    assert first == {"due_7": 1}
    assert second == {}
    assert sim.sent_ladder(milestone.id) == [("due_7", "2024-09-23")]
    assert count(Notification) == 2  # the town's reporter and head, once each


def test_catch_up_after_a_week_of_downtime_sends_todays_step_once(app, world, milestone_at, sim):
    """Down from 09-21 to 10-13: no stale due_7/due_3/due_1 flood, no separate overdue notice;
    on 10-14 the item is 5 working days late (9, 10, 11, 12, 14): the 催办 is what is due."""
    milestone = milestone_at(D("2024-10-08"), "国庆后首日节点")
    with clock.frozen_at(sim.at(D("2024-09-20"))):
        jobs.scan_deadlines()  # 8 working days left: nothing yet
    assert sim.sent_ladder(milestone.id) == []
    with clock.frozen_at(sim.at(D("2024-10-14"))):
        caught_up = jobs.scan_deadlines()
        again = jobs.scan_deadlines()
    assert caught_up == {"urge": 1, "urge_notices": 1}
    assert again == {}
    assert sim.sent_ladder(milestone.id) == [("urge", "2024-10-14")]
    superseded = db.session.scalars(select(ReminderClaim.kind).where(
        ReminderClaim.outcome == "superseded")).all()
    assert superseded == ["overdue"]
    # The lead unit still hears that the item is overdue, once.
    lead_kinds = db.session.scalars(select(Notification.kind).where(
        Notification.user_id == world.users.lead_reporter.id)).all()
    assert lead_kinds == ["overdue_lead"]
    # The ladder goes on from there: 督办 on the 8th working day late (10-17), once.
    for day in sim.days(D("2024-10-15"), D("2024-10-20")):
        with clock.frozen_at(sim.at(day)):
            jobs.scan_deadlines()
    assert sim.sent_ladder(milestone.id) == [("urge", "2024-10-14"), ("supervise", "2024-10-17")]


def test_catch_up_before_the_due_date_sends_only_the_nearest_reminder(app, world, milestone_at,
                                                                      sim):
    milestone = milestone_at(D("2024-10-08"))
    with clock.frozen_at(sim.at(D("2024-09-30"))):  # missed due_7 (09-23) and due_3 (09-27)
        assert jobs.scan_deadlines() == {"due_1": 1}
    assert sim.sent_ladder(milestone.id) == [("due_1", "2024-09-30")]


def test_two_scans_at_the_same_moment_claim_each_message_once(app, world, milestone_at, sim):
    items = [milestone_at(D("2024-10-08"), f"节点{i}") for i in range(6)]
    items += [milestone_at(D("2024-09-27"), f"逾期节点{i}") for i in range(4)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def scan():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(jobs.scan_deadlines(D("2024-10-11")))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with clock.frozen_at(sim.at(D("2024-10-11"))):
        threads = [threading.Thread(target=scan) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    total = sum(results, start=Counter())
    # 10-11: the six due 10-08 are 3 working days late (9, 10, 11) → 催办; the four due 09-27 are
    # 6 late (29, 30, 8, 9, 10, 11) → 催办 too. One notice for the town, whichever scan won.
    assert total["urge"] == 10 and total["urge_notices"] == 1
    assert count(UrgeNotice) == 1
    notice = db.session.scalar(select(UrgeNotice))
    assert len(notice.items) == 10
    for milestone in items:
        assert [k for k, _d in sim.sent_ladder(milestone.id)] == ["urge"]
    # Each person got one inbox item about the notice.
    assert count(Notification, Notification.kind == "notice_yellow") == 2


def test_items_reaching_the_same_step_on_the_same_day_share_one_notice_per_unit(
        app, world, milestone_at, make_milestone, sim):
    a1 = milestone_at(D("2024-10-08"), "甲")
    a2 = milestone_at(D("2024-10-08"), "乙")
    b1 = make_milestone(assignment=world.other_assignment, due=D("2024-10-08"), title="丙")
    with clock.frozen_at(sim.at(D("2024-10-11"))):
        jobs.scan_deadlines()
    notices = db.session.scalars(select(UrgeNotice).order_by(UrgeNotice.id)).all()
    assert [(n.unit_id, sorted(m.id for m in n.items)) for n in notices] == [
        (world.town.id, sorted([a1.id, a2.id])), (world.other.id, [b1.id])]
    assert notices[0].response_due == D("2024-10-15")  # 3 working days: 12 (make-up), 14, 15


def test_finished_items_are_not_chased_and_extended_ones_only_once_the_new_date_passes(
        app, world, milestone_at, sim):
    done = milestone_at(D("2024-10-08"), state="accepted")
    waiting = milestone_at(D("2024-10-08"), state="signed_off")
    extended = milestone_at(D("2024-10-08"), original=D("2024-09-20"))
    for day in sim.days(D("2024-10-08"), D("2024-10-31")):
        with clock.frozen_at(sim.at(day)):
            jobs.scan_deadlines()
    assert sim.sent_ladder(done.id) == []
    assert sim.sent_ladder(waiting.id) == []
    # Extended from 09-20 to 10-08 and missed again: chased from 10-08 like any other item
    # (overdue 10-09; 催办 after 3 working days on 10-11; 督办 after 8, make-up Saturday 10-12 counting).
    assert sim.sent_ladder(extended.id) == [("due_1", "2024-10-08"), ("overdue", "2024-10-09"),
                                            ("urge", "2024-10-11"), ("supervise", "2024-10-17")]


def test_a_moved_due_date_starts_a_new_ladder(app, world, milestone_at, sim):
    milestone = milestone_at(D("2024-10-08"))
    with clock.frozen_at(sim.at(D("2024-09-30"))):
        jobs.scan_deadlines()
    milestone.due_date = D("2024-10-31")  # an extension was granted
    db.session.commit()
    with clock.frozen_at(sim.at(D("2024-10-30"))):
        jobs.scan_deadlines()
    assert sim.sent_ladder(milestone.id) == [("due_1", "2024-09-30"), ("due_1", "2024-10-30")]


def test_nothing_to_say_means_no_message_and_no_audit_noise(app, world, milestone_at, sim):
    milestone_at(D("2024-12-31"))
    before = count(AuditEvent)
    with clock.frozen_at(sim.at(D("2024-10-08"))):
        assert jobs.scan_deadlines() == {}
        assert jobs.request_updates() == {"update_request": 1}
        assert jobs.request_updates() == {}
    assert count(Notification, Notification.kind.like("due_%")) == 0
    assert count(AuditEvent) == before + 1  # the update request run only


def test_working_day_override_moves_the_reminders(app, world, milestone_at, sim, make_user):
    """An admin declares Monday 2024-09-23 a day off: with it no longer counting, 7 working days
    before 10-08 (24, 25, 26, 27, 29, 30, 10-08) are already left on Friday 09-20."""
    from taskflow.notices.operations import set_workday_override

    set_workday_override(D("2024-09-23"), False, "local arrangement", world.users.admin)
    db.session.commit()
    milestone = milestone_at(D("2024-10-08"))
    for day in sim.days(D("2024-09-18"), D("2024-09-24")):
        with clock.frozen_at(sim.at(day)):
            jobs.scan_deadlines()
    assert sim.sent_ladder(milestone.id) == [("due_7", "2024-09-20")]


def test_monthly_update_requests_repeat_until_an_update_comes(app, world, milestone_at, sim):
    from taskflow.assignments.models import StatusUpdate

    milestone = milestone_at(D("2024-12-31"))
    for day in sim.days(D("2024-09-28"), D("2024-10-31")):
        with clock.frozen_at(sim.at(day, 9, 0)):
            jobs.request_updates()
            if day == D("2024-10-21"):
                db.session.add(StatusUpdate(milestone_id=milestone.id,
                                            author_id=world.users.reporter.id, progress=40,
                                            narrative="进展顺利", created_at=clock.utcnow()))
                db.session.commit()
    rows = db.session.execute(
        select(ReminderClaim.kind, ReminderClaim.period, ReminderClaim.created_at)
        .where(ReminderClaim.item_type == "assignment",
               ReminderClaim.item_id == world.town_assignment.id)
        .order_by(ReminderClaim.id)).all()
    got = [(k, p, clock.to_local(c).date().isoformat()) for k, p, c in rows]
    # September: make-up Sunday 09-29 is the first working day in range → requested (nothing
    # came on 09-30, too soon to ask again). October: its first working day is 10-08 → request;
    # then every 5 working days without an update: 10-14 (9, 10, 11, 12 make-up, 14) and 10-21
    # (15, 16, 17, 18, 21). The update arrives on 10-21 after that run; then it is quiet.
    assert got == [
        ("update_request", "2024-09", "2024-09-29"),
        ("update_request", "2024-10", "2024-10-08"),
        ("update_rerequest", "2024-10#1", "2024-10-14"),
        ("update_rerequest", "2024-10#2", "2024-10-21"),
    ]
    # The lead unit's own assignment has no milestone: not open, never asked.
    assert count(ReminderClaim, ReminderClaim.item_id == world.lead_assignment.id,
                 ReminderClaim.item_type == "assignment") == 0


@pytest.mark.parametrize("kind", ["scan", "request-updates"])
def test_commands_report_what_they_did(runner, world, milestone_at, kind):
    milestone_at(D("2024-10-08"))
    result = runner.invoke(args=["reminders", kind, "--now", "2024-10-09T08:30"])
    assert result.exit_code == 0, result.output
    assert "2024-10-09 08:30" in result.output
    expected = "overdue=1" if kind == "scan" else "update_request=1"
    assert expected in result.output


def test_a_scan_that_dies_half_way_leaves_nothing_claimed_and_the_next_run_sends_once(
        app, world, milestone_at, sim, monkeypatch):
    """Claims and messages commit together: a crash after some claims (here: while issuing the
    催办 notice) rolls everything back, so the next run sends each message once, not zero times."""
    from taskflow import scheduler

    reminder = milestone_at(D("2024-10-10"), "提醒节点")
    chased = milestone_at(D("2024-09-30"), "催办节点")

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    with clock.frozen_at(sim.at(D("2024-10-10"))):
        with monkeypatch.context() as patch:
            patch.setattr(jobs, "issue_notice", crash)
            scheduler.run_job(app, "deadline_scan", jobs.scan_deadlines)
        db.session.rollback()
        assert count(ReminderClaim) == 0 and count(Notification) == 0
        scheduler.run_job(app, "deadline_scan", jobs.scan_deadlines)
        scheduler.run_job(app, "deadline_scan", jobs.scan_deadlines)
    db.session.rollback()
    assert sim.sent_ladder(reminder.id) == [("due_1", "2024-10-10")]
    assert sim.sent_ladder(chased.id) == [("urge", "2024-10-10")]
    assert count(UrgeNotice) == 1
