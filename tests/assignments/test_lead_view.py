"""The lead unit sees who has reported: per milestone period each responsible unit as 已报送 /
未报送 / 已退回, counts that link to the rows they count, a one-click reminder (once per unit,
milestone and day), and its consolidated reports by quarter."""

import re
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from taskflow.assignments import operations as ops
from taskflow.assignments import queries
from taskflow.assignments.models import Assignment, ConsolidatedReport, Milestone
from taskflow.audit.models import AuditEvent
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.notices.models import Notification, ReminderClaim


@pytest.fixture(autouse=True)
def everyone(world):
    for name in ("reporter_a", "head_a", "reporter_b", "head_b", "reporter_lead", "office"):
        getattr(world.users, name)
    db.session.commit()


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def statuses(html):
    return dict(re.findall(r'data-unit-row="(\d+)" data-milestone="\d+" data-status="(\w+)"',
                           html))


def counts(html, period):
    block = html[html.index(f'data-period="{period}"'):]
    block = block[:block.index("</section>")]
    return {s: int(v) for s, v in re.findall(r'data-count="(\w+)" data-value="(\d+)"', block)}


def test_each_responsible_unit_is_reported_not_reported_or_returned(world, client, login,
                                                                    request_ctx):
    users = world.users
    update = ops.submit_update(world.ms_b, users.reporter_b, progress=20, narrative="x",
                               problems="", next_steps="")
    ops.review_update(update, users.office, accept=False, reason_code="incomplete", comment="补")
    c = make_unit_with_report(world, users)
    db.session.commit()
    login(users.reporter_lead)
    html = page(client, f"/tasks/{world.task.id}/lead")
    assert statuses(html) == {str(world.town_a.id): "not_reported",
                              str(world.town_b.id): "returned", str(c.id): "reported"}
    assert counts(html, "2024-03-31") == {"not_reported": 1, "returned": 1, "reported": 1}
    # The lead's own milestone and town B's other task are not on the page.
    assert f'data-milestone="{world.ms_lead.id}"' not in html
    assert f'data-milestone="{world.ms_b_other.id}"' not in html
    # Reachable from the lead's assignment page and from 我的任务.
    assert f"/tasks/{world.task.id}/lead" in page(client, f"/assignments/{world.lead.id}")
    assert f"/tasks/{world.task.id}/lead" in page(client, "/my")


def make_unit_with_report(world, users, name="永新镇"):
    """A third responsible unit whose report waits for the office (已报送)."""
    from taskflow.units.models import Unit

    unit = Unit(plan_id=world.town_a.plan_id, name=name, kind="town", peer_group="street_town")
    db.session.add(unit)
    db.session.flush()
    assignment = Assignment(task_id=world.task.id, unit_id=unit.id, role="responsible")
    db.session.add(assignment)
    db.session.flush()
    milestone = Milestone(assignment_id=assignment.id, title="2024年第1季度进展",
                          due_date=date(2024, 3, 31), original_due_date=date(2024, 3, 31))
    db.session.add(milestone)
    db.session.flush()
    ops.submit_update(milestone, users.reporter_a, progress=50, narrative="x", problems="",
                      next_steps="")
    return unit


def test_every_count_links_to_a_list_with_as_many_rows(world, client, login, request_ctx):
    users = world.users
    update = ops.submit_update(world.ms_b, users.reporter_b, progress=20, narrative="x",
                               problems="", next_steps="")
    ops.review_update(update, users.office, accept=False, reason_code="incomplete", comment="补")
    make_unit_with_report(world, users)
    db.session.commit()
    login(users.reporter_lead)
    html = page(client, f"/tasks/{world.task.id}/lead")
    links = re.findall(r'data-count="(\w+)" data-value="(\d+)" href="([^"]+)"', html)
    assert len(links) == 3
    for status, value, href in links:
        listed = page(client, href.replace("&amp;", "&"))
        rows = re.findall(r'data-status="(\w+)"', listed)
        assert len(rows) == int(value) and set(rows) <= {status}, (status, href)
    assert client.get(f"/tasks/{world.task.id}/lead?status=nonsense").status_code == 404
    assert client.get(f"/tasks/{world.task.id}/lead?due=2024-13-01").status_code == 404


def test_a_reminder_reaches_the_units_people_once_a_day_and_is_audited(world, client, login,
                                                                       freeze, as_user):
    users = world.users
    login(users.reporter_lead)
    url = f"/tasks/{world.task.id}/lead/remind/{world.ms_a.id}"
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302
    sent = db.session.scalars(select(Notification).where(Notification.kind == "lead_remind")).all()
    assert sorted(n.user_id for n in sent) == sorted([users.reporter_a.id, users.head_a.id])
    assert all(n.link == f"/milestones/{world.ms_a.id}" for n in sent)
    from taskflow.notices import messages

    with client.application.test_request_context("/"):
        title, detail = messages.render(sent[0].kind, sent[0].params)
    assert "区科技局" in title and "2024年第1季度进展" in title and "2024-03-31" in detail
    html = page(client, f"/tasks/{world.task.id}/lead")
    assert f'data-reminded="{world.ms_a.id}"' in html
    assert f'data-remind="{world.ms_a.id}"' not in html
    # A second click the same day sends nothing.
    refused = client.post(url, follow_redirects=True)
    assert "今天已经提醒过" in refused.get_data(as_text=True) or \
        "already been reminded" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.kind == "lead_remind")) == 2
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "milestone.lead_remind")) == 1
    assert db.session.scalar(select(func.count(ReminderClaim.id)).where(
        ReminderClaim.kind == "lead_remind")) == 1
    # The next day it may remind again (signed in afresh: a session lasts 12 hours).
    freeze(datetime(2024, 3, 21, 10, 0, tzinfo=clock.LOCAL_TZ))
    as_user(users.reporter_lead)
    assert client.post(url).status_code == 302
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.kind == "lead_remind")) == 4


def test_a_unit_that_has_reported_is_not_reminded(world, client, login, request_ctx):
    users = world.users
    ops.submit_update(world.ms_a, users.reporter_a, progress=50, narrative="x", problems="",
                      next_steps="")
    db.session.commit()
    login(users.reporter_lead)
    html = page(client, f"/tasks/{world.task.id}/lead")
    assert f'data-remind="{world.ms_a.id}"' not in html
    client.post(f"/tasks/{world.task.id}/lead/remind/{world.ms_a.id}")
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.kind == "lead_remind")) == 0


def test_refusals(world, client, login, as_user):
    users = world.users
    task, ms_a = world.task.id, world.ms_a.id
    # A responsible unit's reporter: not the lead of this task.
    as_user(users.reporter_a)
    assert client.get(f"/tasks/{task}/lead").status_code == 403
    assert client.post(f"/tasks/{task}/lead/remind/{ms_a}").status_code == 403
    # Another unit's reporter: town A's milestone does not exist for him.
    as_user(users.reporter_b)
    assert client.post(f"/tasks/{task}/lead/remind/{ms_a}").status_code == 404
    # The office reads the page but reminds nobody.
    as_user(users.office)
    assert client.get(f"/tasks/{task}/lead").status_code == 200
    assert 'data-remind="' not in page(client, f"/tasks/{task}/lead")
    assert client.post(f"/tasks/{task}/lead/remind/{ms_a}").status_code == 403
    # The lead, for a milestone of another task (town B's, a task it does not lead): 404.
    as_user(users.reporter_lead)
    assert client.post(f"/tasks/{task}/lead/remind/{world.ms_b_other.id}").status_code == 404
    assert client.post(f"/tasks/{world.other_task.id}/lead/remind/{world.ms_b_other.id}") \
        .status_code == 404
    # ...and its own milestone is no responsible unit's.
    assert client.post(f"/tasks/{task}/lead/remind/{world.ms_lead.id}").status_code == 302
    assert client.get("/tasks/99999/lead").status_code == 404
    # Without the CSRF token: refused, nothing sent.
    assert client.post(f"/tasks/{task}/lead/remind/{ms_a}", csrf=False).status_code == 400
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.kind == "lead_remind")) == 0


def test_consolidated_reports_show_their_quarter_and_the_quarters_without_one(
        world, client, login, freeze, request_ctx):
    users = world.users
    freeze(datetime(2024, 8, 5, 10, 0, tzinfo=clock.LOCAL_TZ))
    login(users.reporter_lead)
    form = page(client, f"/assignments/{world.lead.id}/reports/new")
    assert '<option selected value="2024-3">' in form
    assert 'value="2024-1"' in form
    assert 'value="2024-4"' not in form  # not begun
    response = client.post(f"/assignments/{world.lead.id}/reports/new",
                           data={"quarter": "2024-1", "title": "一季度汇总", "body": "进展"})
    assert response.status_code == 302
    report = db.session.scalar(select(ConsolidatedReport))
    assert (report.quarter_year, report.quarter) == (2024, 1)
    refused = client.post(f"/assignments/{world.lead.id}/reports/new",
                          data={"quarter": "2024-4", "title": "四季度", "body": "x"})
    assert refused.status_code == 400
    html = page(client, f"/tasks/{world.task.id}/lead")
    assert re.search(r'data-quarter="2024Q1" data-reports="1"', html)
    assert 'data-missing="2024Q2"' in html
    # The plan's 2023 quarters and 2024 Q2 lack one; 2024 Q3 is in progress.
    assert 'data-missing-count="5"' in html
    assert 'data-missing="2024Q3"' not in html  # the quarter in progress
    assert 'data-quarter="2024Q4"' not in html
    assert 'data-report-quarter="2024Q1"' in page(client, f"/assignments/{world.lead.id}")


def test_a_report_without_a_chosen_quarter_takes_the_cited_milestones(world, request_ctx):
    users = world.users
    update = ops.submit_update(world.ms_a, users.reporter_a, progress=50, narrative="x",
                               problems="", next_steps="")
    report = ops.write_consolidated_report(world.lead, users.reporter_lead, title="t", body="b",
                                           cited_update_ids=[update.id])
    assert report.quarter_label == "2024Q1"


def test_the_page_runs_the_same_queries_for_few_and_many_units_and_periods(
        world, client, login, count_queries, request_ctx):
    from taskflow.units.models import Unit

    users = world.users
    login(users.reporter_lead)
    client.get(f"/tasks/{world.task.id}/lead")

    def measure():
        with count_queries() as counter:
            response = client.get(f"/tasks/{world.task.id}/lead")
        assert response.status_code == 200
        return counter.count

    small = measure()
    for n in range(6):
        unit = Unit(plan_id=world.town_a.plan_id, name=f"单位{n}", kind="town",
                    peer_group="street_town")
        db.session.add(unit)
        db.session.flush()
        assignment = Assignment(task_id=world.task.id, unit_id=unit.id, role="responsible")
        db.session.add(assignment)
        db.session.flush()
        for quarter, due in enumerate((date(2024, 3, 31), date(2024, 6, 30),
                                       date(2024, 9, 30)), start=1):
            milestone = Milestone(assignment_id=assignment.id, title=f"2024年第{quarter}季度进展",
                                  due_date=due, original_due_date=due)
            db.session.add(milestone)
            db.session.flush()
            if n % 2:
                ops.submit_update(milestone, users.reporter_a, progress=10, narrative="x",
                                  problems="", next_steps="")
    ops.write_consolidated_report(world.lead, users.reporter_lead, title="t", body="b",
                                  cited_update_ids=[], quarter=(2024, 1))
    db.session.commit()
    client.post(f"/tasks/{world.task.id}/lead/remind/{world.ms_a.id}")
    large = measure()
    html = client.get(f"/tasks/{world.task.id}/lead").get_data(as_text=True)
    assert html.count("data-unit-row=") == 2 + 18
    assert small == large


def test_the_classification_has_one_definition(app):
    from taskflow.assignments.models import MilestoneState

    expected = {"pending": "not_reported", "in_progress": "reported", "submitted": "reported",
                "signed_off": "reported", "accepted": "reported", "closed": "reported",
                "returned": "returned"}
    assert {s.value: queries.lead_status(s) for s in MilestoneState} == expected
    assert set(expected) == {s.value for s in MilestoneState}
