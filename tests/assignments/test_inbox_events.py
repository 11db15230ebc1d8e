"""The inbox tells people what happened to their work: a returned or accepted report, a decided
extension request, a notice received — one item per recipient, with the right text and link;
the badge counts unread items and clears when they are read (never by merely looking)."""

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from taskflow.assignments import operations as ops
from taskflow.extensions import db
from taskflow.notices import messages
from taskflow.notices import operations as notices
from taskflow.notices.models import Notification


@pytest.fixture(autouse=True)
def everyone(world):
    """Create the world's users now (they are made lazily): recipients are those who exist."""
    for name in ("reporter_a", "head_a", "reporter_b", "head_b", "reporter_lead", "office"):
        getattr(world.users, name)
    db.session.commit()


def items(kind=None):
    query = select(Notification).order_by(Notification.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query))


def recipients(kind):
    found = [n.user_id for n in items(kind)]
    assert len(found) == len(set(found)), f"{kind}: someone got two items"
    return set(found)


def badge(client) -> int:
    """The unread count the navigation bar shows (0 when there is no badge)."""
    page = client.get("/my").get_data(as_text=True)
    found = re.search(r'data-unread="(\d+)"', page)
    return int(found.group(1)) if found else 0


def text_of(item):
    title, detail = messages.render(item.kind, item.params)
    return f"{title} {detail}"


@pytest.fixture
def submitted(world, request_ctx):
    update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=60,
                               narrative="完成了季度工作", problems="", next_steps="")
    db.session.commit()
    return update


def test_a_returned_report_tells_the_reporter_and_the_unit_once_with_the_reason(
        world, submitted, request_ctx):
    users = world.users
    ops.review_update(submitted, users.office, accept=False, reason_code="no_evidence",
                      comment="请补充佐证材料")
    db.session.commit()
    assert recipients("report_returned") == {users.reporter_a.id, users.head_a.id}
    for item in items("report_returned"):
        assert item.link == f"/milestones/{world.ms_a.id}"
        text = text_of(item)
        assert "2024年第1季度进展" in text and "请补充佐证材料" in text
        assert "缺少佐证材料" in text or "No evidence" in text or "佐证" in text
        assert "联席会议办公室" in text or "joint-meeting office" in text
    # Nobody of another unit, nor the office, hears of it.
    assert not {users.reporter_b.id, users.reporter_lead.id, users.office.id} & \
        recipients("report_returned")


def test_a_report_the_unit_head_returns_reaches_the_reporter_not_the_head_himself(
        world, request_ctx):
    users = world.users
    world.a.requires_sign_off = True
    update = ops.submit_update(world.ms_a, users.reporter_a, progress=30, narrative="x",
                               problems="", next_steps="")
    ops.sign_off_update(update, users.head_a, approve=False, reason_code="incomplete",
                        comment="数据不全")
    db.session.commit()
    assert recipients("report_returned") == {users.reporter_a.id}
    assert items("report_returned")[0].params["by"] == "head"


def test_an_accepted_report_tells_the_unit_once(world, submitted, request_ctx):
    users = world.users
    ops.review_update(submitted, users.office, accept=True)
    db.session.commit()
    assert recipients("report_accepted") == {users.reporter_a.id, users.head_a.id}
    item = items("report_accepted")[0]
    assert item.link == f"/milestones/{world.ms_a.id}"
    assert "60%" in text_of(item)
    assert not items("report_returned")


@pytest.mark.parametrize("grant", [True, False])
def test_a_decided_extension_request_tells_the_unit_the_outcome_and_the_date(
        world, request_ctx, grant):
    users = world.users
    request = ops.request_extension(world.ms_a, users.reporter_a,
                                    requested_due_date=date(2024, 5, 31), reason="施工延误")
    ops.decide_extension(request, users.office, grant=grant,
                         comment="" if grant else "不符合延期条件")
    db.session.commit()
    kind = "extension_granted" if grant else "extension_refused"
    other = "extension_refused" if grant else "extension_granted"
    assert recipients(kind) == {users.reporter_a.id, users.head_a.id}
    assert not items(other)
    item = items(kind)[0]
    assert item.link == f"/milestones/{world.ms_a.id}"
    text = text_of(item)
    if grant:
        assert "2024-05-31" in text and "2024-03-31" in text
    else:
        assert "2024-03-31" in text and "不符合延期条件" in text


def test_a_notice_reaches_each_unit_user_once_with_its_link(world, request_ctx, freeze):
    freeze("2024-04-10T09:00")
    users = world.users
    notice = notices.issue_notice(world.town_a.id, [world.ms_a], "yellow", date(2024, 4, 20),
                                  actor=users.office)
    db.session.commit()
    assert recipients("notice_yellow") == {users.reporter_a.id, users.head_a.id}
    item = items("notice_yellow")[0]
    assert item.link == f"/notices/{notice.id}" and item.urge_notice_id == notice.id
    assert notice.number in text_of(item)


def test_the_badge_stays_while_looking_and_clears_when_the_notice_is_signed_and_answered(
        world, client, login, request_ctx, freeze):
    freeze("2024-04-10T09:00")
    users = world.users
    notice = notices.issue_notice(world.town_a.id, [world.ms_a], "blue", date(2024, 4, 20),
                                  actor=users.office)
    db.session.commit()
    login(users.reporter_a)
    assert badge(client) == 1
    assert client.get(f"/notices/{notice.id}").status_code == 200
    assert badge(client) == 1  # looking changes nothing
    assert client.post(f"/notices/{notice.id}/acknowledge").status_code == 302
    assert badge(client) == 0
    # The head had his own item: still unread until he acts (or opens it).
    client.post("/logout")
    login(users.head_a)
    assert badge(client) == 1
    assert client.post(f"/notices/{notice.id}/respond",
                       data={"response": "已完成整改，4月底前办结"}).status_code == 302
    assert badge(client) == 0


def test_opening_an_item_posts_marks_it_read_and_goes_to_its_page(world, client, login,
                                                                  submitted, request_ctx):
    users = world.users
    ops.review_update(submitted, users.office, accept=False, reason_code="incomplete",
                      comment="补充")
    db.session.commit()
    item = next(i for i in items("report_returned") if i.user_id == users.reporter_a.id)
    login(users.reporter_a)
    assert badge(client) == 1
    assert client.get(f"/notices/inbox/{item.id}/open").status_code == 405
    response = client.post(f"/notices/inbox/{item.id}/open")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/milestones/{world.ms_a.id}")
    assert badge(client) == 0
    # Another user's item does not exist for this user.
    other = next(i for i in items("report_returned") if i.user_id == users.head_a.id)
    assert client.post(f"/notices/inbox/{other.id}/open").status_code == 404
    db.session.refresh(other)
    assert other.read_at is None


@pytest.mark.parametrize("link", ["//evil.example/x", "/\\evil.example", "https://evil.example/",
                                  "/\tevil", "javascript:alert(1)", ""])
def test_an_item_with_an_unsafe_link_opens_the_inbox(world, client, login, link):
    users = world.users
    db.session.add(Notification(user_id=users.reporter_a.id, kind="overdue", params={},
                                link=link))
    db.session.commit()
    item = items()[-1]
    login(users.reporter_a)
    response = client.post(f"/notices/inbox/{item.id}/open")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/notices/inbox")


def test_reporting_on_a_milestone_reads_the_reminders_about_it(world, client, login, submit,
                                                               request_ctx):
    users = world.users
    link = ops.milestone_link(world.ms_a)
    notices.notify([users.reporter_a], "overdue", {"milestone": world.ms_a.title}, link)
    notices.notify([users.reporter_a], "update_request", {"task": world.task.title},
                   f"/assignments/{world.a.id}")
    # About another milestone: stays unread.
    notices.notify([users.reporter_a], "overdue", {"milestone": "x"},
                   f"/milestones/{world.ms_b_other.id}")
    db.session.commit()
    login(users.reporter_a)
    assert badge(client) == 3
    assert submit(world.ms_a.id).status_code == 302
    assert badge(client) == 1
    unread = db.session.scalars(select(Notification.link).where(
        Notification.read_at.is_(None))).all()
    assert unread == [f"/milestones/{world.ms_b_other.id}"]


def test_a_returned_report_item_is_read_once_the_unit_resubmits(world, client, login, submit,
                                                                submitted, request_ctx):
    users = world.users
    ops.review_update(submitted, users.office, accept=False, reason_code="incomplete",
                      comment="补充")
    db.session.commit()
    login(users.reporter_a)
    assert badge(client) == 1
    assert submit(world.ms_a.id, narrative="已补充").status_code == 302
    assert badge(client) == 0


def test_mark_all_read_clears_the_badge(world, client, login, submitted, request_ctx):
    users = world.users
    ops.review_update(submitted, users.office, accept=True)
    db.session.commit()
    login(users.head_a)
    assert badge(client) == 1
    assert client.get("/notices/inbox/read-all").status_code == 405
    assert client.post("/notices/inbox/read-all").status_code == 302
    assert badge(client) == 0
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == users.head_a.id, Notification.read_at.is_(None))) == 0


@pytest.mark.parametrize("level", ["blue", "yellow", "red"])
def test_each_notice_level_reaches_its_recipients_once(world, request_ctx, freeze, level):
    freeze("2024-04-10T09:00")
    users = world.users
    notice = notices.issue_notice(world.town_a.id, [world.ms_a], level, date(2024, 4, 20),
                                  actor=users.office)
    db.session.commit()
    expected = {users.head_a.id, users.office.id} if level == "red" else \
        {users.reporter_a.id, users.head_a.id}
    assert recipients(f"notice_{level}") == expected
    assert all(n.urge_notice_id == notice.id for n in items(f"notice_{level}"))
    assert len(items()) == len(expected)  # no other kind of item came with it
