"""Milestone closure (办结): a report accepted below 100 % keeps the milestone open; 100 % closes
it; the office closes it off (销号) with a reason, confirmed, audited, version-checked."""

from datetime import date, datetime

from sqlalchemy import select

from taskflow.assignments import operations as ops
from taskflow.assignments.models import Milestone
from taskflow.audit.models import AuditEvent
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.measures import milestones as measures


def events(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_60_percent_accepted_stays_open_and_the_reporter_reports_the_rest(
        world, client, as_user, submit, request_ctx):
    as_user(world.users.reporter_a)
    assert submit(world.ms_a.id, progress="60").status_code == 302
    update_id = db.session.scalar(
        select(ops.StatusUpdate.id).where(ops.StatusUpdate.milestone_id == world.ms_a.id))
    as_user(world.users.office)
    assert client.post(f"/updates/{update_id}/review",
                       data={"decision": "accept", "comment": ""}).status_code == 302
    milestone = db.session.get(Milestone, world.ms_a.id)
    assert milestone.state == "in_progress" and milestone.accepted_progress == 60
    assert milestone.completed_on is None and milestone.days_late is None
    assert db.session.scalar(select(Milestone.id).where(
        Milestone.id == milestone.id, measures.open_clause(date(2024, 3, 20))))

    as_user(world.users.reporter_a)
    page = client.get(f"/milestones/{milestone.id}").get_data(as_text=True)
    assert "已认可进度 60%，未办结" in page
    assert 'id="report-form"' in page  # the form is there for the remaining 40 %
    assert "已办结" not in page
    # Less than what the office already accepted is refused; the rest is accepted and closes it.
    assert submit(milestone.id, progress="50").status_code == 409
    assert submit(milestone.id, progress="100").status_code == 302
    second = db.session.scalar(select(ops.StatusUpdate.id).where(
        ops.StatusUpdate.milestone_id == milestone.id).order_by(ops.StatusUpdate.id.desc()))
    as_user(world.users.office)
    client.post(f"/updates/{second}/review", data={"decision": "accept", "comment": ""})
    milestone = db.session.get(Milestone, milestone.id)
    assert milestone.state == "accepted" and milestone.accepted_progress == 100
    assert milestone.completed_on == date(2024, 3, 20) and milestone.days_late == 0
    page = client.get(f"/milestones/{milestone.id}").get_data(as_text=True)
    assert "已办结" in page and "已认可进度" not in page


def test_cockpit_completed_counts_closed_milestones_only(world, plan, request_ctx):
    update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=60, narrative="x",
                               problems="", next_steps="")
    ops.review_update(update, world.users.office, accept=True)
    db.session.commit()
    rows = {t.task_id: t for t in measures.task_progress(plan.id, date(2024, 3, 20))}
    assert rows[world.task.id].closed == 0 and rows[world.task.id].done == 0
    update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=100, narrative="x",
                               problems="", next_steps="")
    ops.review_update(update, world.users.office, accept=True)
    db.session.commit()
    rows = {t.task_id: t for t in measures.task_progress(plan.id, date(2024, 3, 20))}
    assert rows[world.task.id].closed == 1 and rows[world.task.id].total == 3


def close(client, milestone, **data):
    form = {"version_id": str(milestone.version_id), "reason": "任务调整，不再实施",
            "confirm": "y"}
    form.update(data)
    return client.post(f"/milestones/{milestone.id}/close", data=form)


def test_office_closes_off_with_a_reason_audited(world, client, as_user):
    as_user(world.users.office)
    page = client.get(f"/milestones/{world.ms_a.id}").get_data(as_text=True)
    assert 'id="close-off"' in page
    response = close(client, world.ms_a)
    assert response.status_code == 302
    milestone = db.session.get(Milestone, world.ms_a.id)
    assert milestone.state == "closed" and milestone.completed_on == date(2024, 3, 20)
    assert milestone.closure_reason == "任务调整，不再实施" and milestone.days_late == 0
    assert milestone.closed_by_id == world.users.office.id
    [event] = events("milestone.close_off")
    assert event.before["state"] == "pending" and event.after["state"] == "closed"
    assert event.after["closure_reason"] == "任务调整，不再实施"
    page = client.get(f"/milestones/{milestone.id}").get_data(as_text=True)
    assert "已销号" in page and "任务调整，不再实施" in page and 'id="close-off"' not in page
    # Closed: nothing more to report, and a second close-off is refused.
    as_user(world.users.reporter_a)
    assert 'id="report-form"' not in client.get(f"/milestones/{milestone.id}").get_data(
        as_text=True)
    as_user(world.users.office)
    assert close(client, milestone).status_code == 409
    assert len(events("milestone.close_off")) == 1


def test_close_off_after_the_due_date_records_working_days_late(world, client, as_user):
    with clock.frozen_at(datetime(2024, 4, 10, 9, 0, tzinfo=clock.LOCAL_TZ)):
        as_user(world.users.office)
        response = close(client, world.ms_a)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/milestones/{world.ms_a.id}")
    milestone = db.session.get(Milestone, world.ms_a.id)
    # 4-1..4-3, 4-7 (a make-up working day of 清明), 4-8..4-10.
    assert milestone.completed_on == date(2024, 4, 10) and milestone.days_late == 7


def test_close_off_refusals(world, client, as_user, submit):
    # No reason, no confirmation: nothing changes.
    as_user(world.users.office)
    assert close(client, world.ms_a, reason="  ").status_code == 400
    assert close(client, world.ms_a, confirm="").status_code == 400
    # A stale form (someone changed the milestone since it was loaded) is refused.
    assert close(client, world.ms_a, version_id=str(world.ms_a.version_id - 1)).status_code == 409
    # GET does nothing.
    assert client.get(f"/milestones/{world.ms_a.id}/close").status_code == 405
    # Not the office: refused before any work.
    for user in (world.users.reporter_a, world.users.head_a, world.users.supervisor,
                 world.users.leader, world.users.admin):
        as_user(user)
        assert close(client, world.ms_a).status_code == 403
    # A report waiting for review must be reviewed first.
    as_user(world.users.reporter_a)
    submit(world.ms_a.id, progress="30")
    as_user(world.users.office)
    milestone = db.session.get(Milestone, world.ms_a.id)
    assert close(client, milestone).status_code == 409
    milestone = db.session.get(Milestone, world.ms_a.id)
    assert milestone.state == "submitted" and milestone.completed_on is None
    assert events("milestone.close_off") == []


def test_without_csrf_nothing_is_closed(world, client, as_user):
    as_user(world.users.office)
    response = client.post(f"/milestones/{world.ms_a.id}/close",
                           data={"version_id": str(world.ms_a.version_id), "reason": "r",
                                 "confirm": "y"}, csrf=False)
    assert response.status_code == 400
    assert db.session.get(Milestone, world.ms_a.id).state == "pending"


def test_recompute_lateness_turns_calendar_days_into_working_days(world, app, request_ctx):
    with clock.frozen_at(datetime(2024, 4, 10, 9, 0, tzinfo=clock.LOCAL_TZ)):
        update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=100,
                                   narrative="x", problems="", next_steps="")
    with clock.frozen_at(datetime(2024, 4, 12, 9, 0, tzinfo=clock.LOCAL_TZ)):
        ops.review_update(update, world.users.office, accept=True)
    world.ms_a.days_late = 10  # as recorded before 0011: calendar days
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["milestones", "recompute-lateness"])
    assert result.exit_code == 0 and "1 milestone(s) changed" in result.output
    db.session.expire_all()
    assert db.session.get(Milestone, world.ms_a.id).days_late == 7
    [event] = events("milestone.recompute_lateness")
    assert event.after["milestones"][str(world.ms_a.id)] == {"before": 10, "after": 7}
    result = app.test_cli_runner().invoke(args=["milestones", "recompute-lateness"])
    assert "0 milestone(s) changed" in result.output
