"""Pages: the office's overdue list → notice → the unit answers → the office sees it; permissions
for every role; bounded query counts; the printable notice; the calendar and outbox pages."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from taskflow.core import clock
from taskflow.core.models import WorkdayOverride
from taskflow.extensions import db
from taskflow.notices import jobs
from taskflow.notices.models import Notification, ReminderClaim, UrgeNotice

D = date.fromisoformat
TODAY = D("2024-10-14")


@pytest.fixture
def frozen(freeze, sim):
    freeze(sim.at(TODAY, 10, 0))


@pytest.fixture
def town_notice(app, world, milestone_at, frozen):
    """A yellow notice to 古南街道 issued by the office about one overdue item."""
    from taskflow.notices.operations import issue_by_hand

    milestone = milestone_at(D("2024-10-08"), "走访企业")
    db.session.refresh(milestone)
    notice = issue_by_hand([milestone], "yellow", D("2024-10-17"), "", world.users.office)[0]
    db.session.commit()
    return notice


def test_office_issues_a_notice_the_unit_answers_and_the_office_sees_the_answer(
        app, world, milestone_at, make_milestone, client_for, frozen):
    first = milestone_at(D("2024-10-08"), "走访规上企业")
    second = milestone_at(D("2024-09-30"), "报送培育库名单")
    not_late = milestone_at(D("2024-10-30"), "年底前节点")
    elsewhere = make_milestone(assignment=world.other_assignment, due=D("2024-10-09"),
                              title="文龙节点")
    office = client_for(world.users.office)

    page = office.get("/notices/overdue")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for item in (first, second, elsewhere):
        assert f'data-milestone="{item.id}"' in html
    assert f'data-milestone="{not_late.id}"' not in html
    assert "走访规上企业" in html and "古南街道" in html

    issued = office.post("/notices/issue", data={
        "milestone_ids": [str(first.id), str(second.id)], "level": "yellow",
        "response_due": "2024-10-17", "note": "请于周四前反馈整改措施。"})
    assert issued.status_code == 302
    db.session.rollback()  # see what the request committed
    notice = db.session.scalar(select(UrgeNotice))
    assert issued.headers["Location"].endswith(f"/notices/{notice.id}")
    assert notice.number == "綦科催〔2024〕1号" and notice.level == "yellow"
    assert notice.unit_id == world.town.id and notice.source == "office"
    assert notice.issued_by_id == world.users.office.id
    assert sorted(m.id for m in notice.items) == sorted([first.id, second.id])
    # The scan will not issue a second 催办 for the same items.
    claimed = db.session.scalars(select(ReminderClaim.item_id).where(
        ReminderClaim.kind == "urge")).all()
    assert sorted(claimed) == sorted([first.id, second.id])
    assert jobs.scan_deadlines() == {"urge": 1, "urge_notices": 1}  # 文龙's item only
    scanned = db.session.scalar(select(UrgeNotice).where(UrgeNotice.source == "scan"))
    assert [m.id for m in scanned.items] == [elsewhere.id]

    reporter = client_for(world.users.reporter)
    inbox = reporter.get("/notices/inbox").get_data(as_text=True)
    assert "綦科催〔2024〕1号" in inbox
    badge = re.search(r'data-unread="(\d+)"', inbox)
    assert badge and int(badge.group(1)) >= 1
    item = db.session.scalar(select(Notification).where(
        Notification.user_id == world.users.reporter.id, Notification.urge_notice_id == notice.id))
    opened = reporter.post(f"/notices/inbox/{item.id}/open")
    assert opened.status_code == 302 and opened.headers["Location"] == f"/notices/{notice.id}"
    detail = reporter.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert "走访规上企业" in detail and "请于周四前反馈整改措施。" in detail

    assert reporter.post(f"/notices/{notice.id}/acknowledge").status_code == 302
    answered = reporter.post(f"/notices/{notice.id}/respond",
                             data={"response": "已完成走访32家，名单已报送。"})
    assert answered.status_code == 302
    db.session.rollback()
    notice = db.session.get(UrgeNotice, notice.id)
    assert notice.acknowledged_by_id == world.users.reporter.id
    assert notice.responded_by_id == world.users.reporter.id
    assert notice.answered_late is False
    assert notice.status == "answered"

    office_inbox = office.get("/notices/inbox").get_data(as_text=True)
    assert "古南街道 已反馈 綦科催〔2024〕1号" in office_inbox
    office_detail = office.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert "已完成走访32家，名单已报送。" in office_detail
    listing = office.get("/notices/?status=answered").get_data(as_text=True)
    assert f'data-notice="{notice.id}"' in listing and "已反馈" in listing


def test_refusals_on_the_issue_form(app, world, milestone_at, client_for, frozen):
    office = client_for(world.users.office)
    future = milestone_at(D("2024-10-30"))
    done = milestone_at(D("2024-10-08"), state="submitted")
    late = milestone_at(D("2024-10-08"))
    for ids in ([future.id], [done.id]):
        response = office.post("/notices/issue", data={
            "milestone_ids": [str(i) for i in ids], "level": "yellow", "response_due": "2024-10-17"})
        assert response.status_code == 302 and response.headers["Location"].endswith("/overdue")
    assert office.post("/notices/issue", data={
        "milestone_ids": ["99999"], "level": "yellow", "response_due": "2024-10-17"}
    ).status_code == 404
    assert office.post("/notices/issue", data={
        "milestone_ids": [str(late.id)], "level": "yellow", "response_due": "2024-10-01"}
    ).status_code == 302
    assert office.post("/notices/issue", data={"level": "yellow", "response_due": "2024-10-17"}
                       ).status_code == 302
    assert office.post("/notices/issue", data={
        "milestone_ids": [str(late.id)], "level": "purple", "response_due": "2024-10-17"}
    ).status_code == 302
    assert office.post("/notices/issue", data={
        "milestone_ids": [str(late.id)], "level": "yellow", "response_due": "2024-10-17"},
        csrf=False).status_code == 400
    db.session.rollback()
    assert db.session.scalar(select(UrgeNotice.id)) is None


def test_answering_twice_or_empty_is_refused(app, world, town_notice, client_for):
    reporter = client_for(world.users.reporter)
    assert reporter.post(f"/notices/{town_notice.id}/respond", data={"response": "  "}
                         ).status_code == 400
    assert reporter.post(f"/notices/{town_notice.id}/respond", data={"response": "第一次"}
                         ).status_code == 302
    head = client_for(world.users.head)
    again = head.post(f"/notices/{town_notice.id}/respond", data={"response": "第二次"},
                      follow_redirects=True)
    assert "该通知单已反馈" in again.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(UrgeNotice, town_notice.id).response == "第一次"


def test_late_answers_are_recorded_for_the_scores(app, world, town_notice, client_for, sim):
    from taskflow.notices.queries import notice_facts

    with clock.frozen_at(sim.at(D("2024-10-18"), 9, 0)):
        client_for(world.users.head).post(f"/notices/{town_notice.id}/respond",
                                          data={"response": "迟到的反馈"})
        db.session.rollback()
        facts = notice_facts(D("2024-10-01"), D("2024-10-31"), today=D("2024-10-18"))
    assert facts == {world.town.id: {"blue": 0, "yellow": 1, "red": 0, "answered": 1,
                                     "answered_late": 1, "unanswered_overdue": 0}}


ROLES = ("reporter", "head", "lead_reporter", "other_reporter", "office", "supervisor", "leader",
         "admin")


@pytest.mark.parametrize("role", ROLES)
def test_permission_walk(app, world, town_notice, client_for, role):
    """Every page and action, for every role: 200/302 allowed, 403 forbidden, 404 invisible."""
    client = client_for(getattr(world.users, role))
    nid = town_notice.id
    town_user = role in ("reporter", "head")
    reads_all = role in ("office", "supervisor", "leader", "admin")
    visible = town_user or reads_all

    assert client.get("/notices/inbox").status_code == 200
    assert client.get("/notices/").status_code == 200
    listing = client.get("/notices/").get_data(as_text=True)
    assert (f'data-notice="{nid}"' in listing) == visible
    assert client.get(f"/notices/{nid}").status_code == (200 if visible else 404)
    assert client.get(f"/notices/{nid}/print").status_code == (200 if visible else 404)
    assert client.get("/notices/999999").status_code == 404
    assert client.get("/notices/overdue").status_code == (200 if reads_all else 403)
    assert client.get("/notices/outbox").status_code == (200 if role == "admin" else 403)
    assert client.get("/notices/calendar").status_code == (200 if role == "admin" else 403)

    ack = client.post(f"/notices/{nid}/acknowledge")
    assert ack.status_code == (302 if town_user else 403 if reads_all else 404)
    respond = client.post(f"/notices/{nid}/respond", data={"response": "答复"})
    assert respond.status_code == (302 if town_user else 403 if reads_all else 404)
    issue = client.post("/notices/issue", data={
        "milestone_ids": [str(town_notice.items[0].id)], "level": "yellow",
        "response_due": "2024-10-18"})
    assert issue.status_code == (302 if role == "office" else 403)
    assert client.post("/notices/calendar", data={"day": "2024-10-19", "is_workday": "1"}
                       ).status_code == (302 if role == "admin" else 403)

    # Someone else's inbox item does not exist for this user.
    others = db.session.scalar(select(Notification.id).where(
        Notification.user_id != getattr(world.users, role).id))
    if others is not None:
        assert client.post(f"/notices/inbox/{others}/open").status_code == 404


def test_anonymous_is_sent_to_sign_in(app, client, town_notice):
    for url in ("/notices/inbox", "/notices/", f"/notices/{town_notice.id}", "/notices/overdue",
                "/notices/outbox", "/notices/calendar", f"/notices/{town_notice.id}/print"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def _make_notifications(user, n):
    db.session.commit()
    for i in range(n):
        db.session.add(Notification(user_id=user.id, kind="due_7", link="/notices/inbox",
                                    params={"milestone": f"节点{i}", "task": "任务",
                                            "unit": "古南街道", "due_date": "2024-10-20",
                                            "working_days": 5}))
    db.session.commit()


def test_inbox_query_count_does_not_grow(app, world, client_for, count_queries, frozen):
    user = world.users.reporter
    client = client_for(user)
    _make_notifications(user, 2)
    with count_queries() as small:
        assert client.get("/notices/inbox").status_code == 200
    _make_notifications(user, 25)
    with count_queries() as large:
        page = client.get("/notices/inbox")
    assert page.get_data(as_text=True).count("data-notification=") == 27
    assert 'data-unread="27"' in page.get_data(as_text=True)
    assert small.count == large.count
    badge = [s for s in large.statements if "notifications" in s and "count(" in s.lower()]
    assert len(badge) == 2  # the page's own total, and the navbar badge: one query each


def test_badge_costs_one_query_on_any_page(app, world, client_for, count_queries, frozen):
    user = world.users.office
    client = client_for(user)
    with count_queries() as before:
        client.get("/notices/overdue")
    _make_notifications(user, 5)
    with count_queries() as after:
        html = client.get("/notices/overdue").get_data(as_text=True)
    assert 'data-unread="5"' in html
    assert before.count == after.count
    assert sum("FROM notifications" in s for s in after.statements) == 1


def test_notice_list_query_count_does_not_grow(app, world, milestone_at, client_for,
                                               count_queries, frozen):
    from taskflow.notices.operations import issue_notice

    milestones = [milestone_at(D("2024-10-08"), f"节点{i}") for i in range(12)]
    for m in milestones:
        db.session.refresh(m)
    issue_notice(world.town.id, milestones[:2], "yellow", D("2024-10-17"))
    db.session.commit()
    office = client_for(world.users.office)
    with count_queries() as small:
        assert office.get("/notices/").status_code == 200
    for m in milestones[2:]:
        issue_notice(world.town.id, [m], "red", D("2024-10-17"))
    db.session.commit()
    with count_queries() as large:
        html = office.get("/notices/").get_data(as_text=True)
    assert html.count("data-notice=") == 11
    assert small.count == large.count

    small_id = db.session.scalar(select(UrgeNotice.id).order_by(UrgeNotice.id))
    with count_queries() as detail_small:
        assert "节点" in office.get(f"/notices/{small_id}").get_data(as_text=True)
    big_id = issue_notice(world.town.id, milestones, "red", D("2024-10-17")).id
    db.session.commit()
    with count_queries() as detail_large:
        html = office.get(f"/notices/{big_id}").get_data(as_text=True)
    assert html.count("data-milestone=") == 12
    assert detail_small.count == detail_large.count


def test_printable_notice_has_the_official_layout(app, world, town_notice, client_for):
    client = client_for(world.users.reporter)
    html = client.get(f"/notices/{town_notice.id}/print").get_data(as_text=True)
    assert "綦江区“双倍增”行动联席会议办公室" in html
    assert "綦科催〔2024〕1号" in html and "催办通知单" in html
    assert "/static/notices/print.css" in html and "style=" not in html  # the CSP forbids inline
    css = client.get("/static/notices/print.css").get_data(as_text=True)
    assert "@page { size: A4" in css and "@media print" in css and ".redhead" in css
    assert "走访企业" in html and "2024年10月17日" in html  # the item and the response date
    assert "（盖章）" in html and "2024年10月14日" in html  # signature block with the issue date
    assert "签收人" in html


def test_admin_overrides_a_day_and_removes_the_override(app, world, client_for, frozen):
    from taskflow.core.calendar import WorkCalendar

    admin = client_for(world.users.admin)
    saved = admin.post("/notices/calendar", data={"day": "2024-10-19", "is_workday": "1",
                                                  "note": "全区统一补班"})
    assert saved.status_code == 302
    db.session.rollback()
    assert WorkCalendar.load().is_workday(D("2024-10-19"))
    page = admin.get("/notices/calendar").get_data(as_text=True)
    assert 'data-override="2024-10-19"' in page and 'data-day="2024-10-19" data-working="1"' in page
    override = db.session.scalar(select(WorkdayOverride))
    assert admin.post(f"/notices/calendar/{override.id}/delete").status_code == 302
    db.session.rollback()
    assert not WorkCalendar.load().is_workday(D("2024-10-19"))
    assert admin.post("/notices/calendar", data={"day": "", "is_workday": "1"}).status_code == 400


def test_mark_all_read_clears_the_badge(app, world, client_for, frozen):
    user = world.users.head
    _make_notifications(user, 3)
    client = client_for(user)
    assert 'data-unread="3"' in client.get("/notices/inbox").get_data(as_text=True)
    assert client.post("/notices/inbox/read-all").status_code == 302
    html = client.get("/notices/inbox").get_data(as_text=True)
    assert "data-unread=" not in html


def test_each_notice_refusal_shows_its_own_message(app, world, town_notice, client_for):
    """Refusals carry their own translated message: a second acknowledgement is not reported as
    'already answered', and an answer to an answered notice is."""
    head = client_for(world.users.head)
    assert head.post(f"/notices/{town_notice.id}/acknowledge").status_code == 302
    again = head.post(f"/notices/{town_notice.id}/acknowledge", follow_redirects=True)
    page = again.get_data(as_text=True)
    assert "该通知单已签收。" in page and "该通知单已反馈。" not in page
    reporter = client_for(world.users.reporter)
    assert reporter.post(f"/notices/{town_notice.id}/respond", data={"response": "已办结"}
                         ).status_code == 302
    answered = head.post(f"/notices/{town_notice.id}/respond", data={"response": "第二次"},
                         follow_redirects=True).get_data(as_text=True)
    assert "该通知单已反馈。" in answered and "该通知单已签收。" not in answered


def test_notice_refusals_are_translated_messages_not_codes(app, world, town_notice):
    """The operation's refusal is the user's message (the view shows it as it is)."""
    from flask_babel import force_locale

    from taskflow.core.errors import Refusal
    from taskflow.notices import operations

    with app.test_request_context(), force_locale("zh_CN"):
        operations.acknowledge_notice(town_notice, world.users.head)
        with pytest.raises(Refusal) as acknowledged:
            operations.acknowledge_notice(town_notice, world.users.head)
        with pytest.raises(Refusal) as empty:
            operations.respond_to_notice(town_notice, "  ", world.users.head)
        assert str(acknowledged.value) == "该通知单已签收。"
        assert str(empty.value) == "请填写办理情况及预计完成时间。"
    db.session.rollback()
