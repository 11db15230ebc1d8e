"""Group robots (DingTalk, WeCom, Feishu): signed posts to a local receiver that checks them as the
platform does, exactly once per event and robot, the rate limit, and nothing lost on failure."""

import threading
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from taskflow.accounts.operations import set_own_mobile
from taskflow.audit.models import AuditEvent
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.notices import jobs, operations
from taskflow.notices.models import Notification, OutboxMessage, Robot
from tests.helpers import free_port
from tests.notices.robot_receiver import make_robot, robot_receiver  # noqa: F401 - fixture

D = date.fromisoformat
REPORTER_MOBILE = "13812345678"
HEAD_MOBILE = "13987654321"
SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"


def robot_rows(robot) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.robot_id == robot.id)
                                   .order_by(OutboxMessage.id)))


@pytest.fixture
def mobiles(world):
    """The town's reporter and head have mobile numbers; the other users have none."""
    set_own_mobile(world.users.reporter, "138 1234 5678")
    set_own_mobile(world.users.head, "+86 139-8765-4321")
    db.session.commit()
    return world


def deliver_twice_at_once(app):
    """Two outbox workers at the same moment (two schedulers, or a retried job)."""
    barrier = threading.Barrier(2)
    errors, results = [], []

    def worker():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(jobs.deliver_outbox())
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return sum(results, start=Counter())


# ---------------------------------------------------------------- reminders reach the robot once


@pytest.mark.parametrize("platform,secret", [("dingtalk", SECRET), ("wecom", None),
                                             ("feishu", "feishu-secret-xyz")])
def test_a_deadline_reminder_reaches_the_units_robot_and_the_inbox_exactly_once(
        app, mobiles, milestone_at, sim, robot_receiver, platform, secret):
    world = mobiles
    receiver = robot_receiver(platform, secret=secret)
    robot = make_robot(receiver, unit=world.town)
    other_robot_receiver = robot_receiver("dingtalk", secret=SECRET)
    make_robot(other_robot_receiver, unit=world.other)  # 文龙街道 has nothing due
    milestone = milestone_at(D("2024-10-08"), "完成企业走访")
    moment = sim.at(D("2024-10-08"))
    with clock.frozen_at(moment):
        assert jobs.scan_deadlines() == {"due_1": 1}
        assert jobs.scan_deadlines() == {}  # a second scan: nothing new
        db.session.rollback()  # (a scan with nothing to do leaves its transaction to the caller)
        delivered = deliver_twice_at_once(app)
        assert jobs.deliver_outbox()["sent"] == 0  # and a third run later
    assert delivered["sent"] == 1
    assert receiver.refusals == [] and len(receiver.messages) == 1
    assert other_robot_receiver.messages == []
    text = receiver.texts()[0]
    assert "完成企业走访" in text and f"/milestones/{milestone.id}" in text
    if platform == "feishu":  # a Feishu custom bot cannot @ by mobile: the people are named
        assert receiver.mentioned() == [[]]
        assert "@古南填报员" in text and "@古南负责人" in text
    else:
        assert sorted(receiver.mentioned()[0]) == sorted([REPORTER_MOBILE, HEAD_MOBILE])
    if platform == "dingtalk":
        body = receiver.messages[0]
        assert body["msgtype"] == "markdown" and body["at"]["isAtAll"] is False
        assert f"@{REPORTER_MOBILE}" in text and f"@{HEAD_MOBILE}" in text
    if platform == "wecom":  # people to @: one text message with mentioned_mobile_list
        assert receiver.messages[0]["msgtype"] == "text"
    # The inbox: once per person of the town.
    inbox = Counter(db.session.scalars(select(Notification.user_id)))
    assert inbox == {world.users.reporter.id: 1, world.users.head.id: 1}
    [row] = robot_rows(robot)
    assert row.state == "sent" and row.attempts == 1


def test_an_urge_notice_reaches_the_units_robot_once_and_a_red_one_the_office_robot(
        app, mobiles, milestone_at, sim, robot_receiver):
    world = mobiles
    town_receiver = robot_receiver("dingtalk", secret=SECRET)
    office_receiver = robot_receiver("wecom")
    town_robot = make_robot(town_receiver, unit=world.town)
    office_robot = make_robot(office_receiver)  # no unit: the joint-meeting office's robot
    late = milestone_at(D("2024-09-30"), "报送培育名单")
    moment = sim.at(D("2024-10-08"), 10, 0)
    with clock.frozen_at(moment):
        [yellow] = operations.issue_by_hand([late], "yellow", D("2024-10-11"), "", world.users.office)
        db.session.commit()
        deliver_twice_at_once(app)
    assert len(town_receiver.messages) == 1 and office_receiver.messages == []
    assert yellow.number in town_receiver.texts()[0]
    assert sorted(town_receiver.mentioned()[0]) == sorted([REPORTER_MOBILE, HEAD_MOBILE])
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.urge_notice_id == yellow.id)) == 2

    with clock.frozen_at(moment + timedelta(minutes=5)):
        [red] = operations.issue_by_hand([late], "red", D("2024-10-11"), "", world.users.office)
        db.session.commit()
        jobs.deliver_outbox()
        jobs.deliver_outbox()
    # 督办: the unit head (via the unit's robot) and the office (via the office's robot), once.
    assert len(town_receiver.messages) == 2 and len(office_receiver.messages) == 1
    assert town_receiver.mentioned()[1] == [HEAD_MOBILE]
    assert red.number in office_receiver.texts()[0]
    assert len(robot_rows(town_robot)) == 2 and len(robot_rows(office_robot)) == 1


def test_the_same_event_notified_again_is_enqueued_once_per_robot(app, mobiles, robot_receiver):
    world = mobiles
    robot = make_robot(robot_receiver("wecom"), unit=world.town)
    people = [world.users.reporter, world.users.head]
    for _attempt in range(2):
        operations.notify(people, "notice_answered", {"number": "N1", "unit": "古南街道"},
                          "/notices/1", event_key="test:answered:1")
        operations.notify(people, "update_request", {"task": "T", "period": "2024-10"},
                          "/assignments/1")
    db.session.commit()
    assert len(robot_rows(robot)) == 2
    assert db.session.scalar(select(func.count(Notification.id))) == 8  # the inbox is not deduped


def test_a_transaction_reads_the_robots_once_and_a_new_one_after_its_end(app, mobiles,
                                                                       robot_receiver,
                                                                       count_queries):
    world = mobiles
    make_robot(robot_receiver("dingtalk"), unit=world.town)
    people = [world.users.reporter]
    with count_queries() as counter:
        for n in range(5):  # a job notifying item after item
            operations.notify(people, "update_request", {"task": f"T{n}", "period": "2024-10"},
                              f"/assignments/{n}")
    assert sum("FROM robots" in s for s in counter.statements) == 1
    db.session.commit()
    added = make_robot(robot_receiver("wecom"), unit=world.town)  # a robot added meanwhile
    operations.notify(people, "update_request", {"task": "T9", "period": "2024-10"},
                      "/assignments/9")
    db.session.commit()
    assert len(robot_rows(added)) == 1


def test_an_inactive_robot_and_people_without_a_robot_get_nothing(app, mobiles, robot_receiver):
    world = mobiles
    robot = make_robot(robot_receiver("dingtalk"), unit=world.town, active=False)
    operations.notify([world.users.reporter, world.users.lead_reporter], "update_request",
                      {"task": "T", "period": "2024-10"}, "/assignments/1")
    db.session.commit()
    assert robot_rows(robot) == []
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


# ---------------------------------------------------------------- failures: queued, reason shown


def _one_message(world, robot_receiver_or_url, **robot_kwargs):
    robot = make_robot(robot_receiver_or_url, unit=world.town, **robot_kwargs) \
        if not isinstance(robot_receiver_or_url, str) else \
        make_robot(None, unit=world.town, url=robot_receiver_or_url, **robot_kwargs)
    operations.notify([world.users.reporter], "update_request",
                      {"task": "培育科技型企业", "period": "2024-10"}, "/assignments/1")
    db.session.commit()
    return robot


@pytest.mark.parametrize("platform,code", [("dingtalk", 310000), ("feishu", 19021)])
def test_a_wrong_secret_leaves_the_message_queued_with_the_reason_on_the_outbox_page(
        app, mobiles, sim, robot_receiver, client, login, platform, code):
    world = mobiles
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    receiver = robot_receiver(platform, secret="the-right-secret")
    start = sim.at(D("2024-10-08"), 9, 0)
    with clock.frozen_at(start):
        robot = _one_message(world, receiver, secret="a-wrong-secret")
        assert jobs.deliver_outbox()["retry_later"] == 1
    [row] = robot_rows(robot)
    db.session.refresh(row)
    assert receiver.messages == [] and [c for c, _b in receiver.refusals] == [code]
    assert row.state == "pending" and str(code) in row.last_error and "secret" in row.last_error
    assert row.next_attempt_at == start + timedelta(seconds=app.config["OUTBOX_BACKOFF_SECONDS"])

    login(world.users.admin)
    html = client.get("/notices/outbox").get_data(as_text=True)
    assert f'data-outbox="{row.id}"' in html and str(code) in html
    assert "the-right-secret" not in html and "a-wrong-secret" not in html
    assert receiver.url not in html  # the address carries the token: never on the page

    with clock.frozen_at(start + timedelta(hours=1)):
        assert jobs.deliver_outbox()["failed"] == 1
    db.session.refresh(row)
    assert row.state == "failed" and str(code) in row.last_error  # kept, not deleted

    # The secret is corrected; the admin retries; it goes out once.
    with clock.frozen_at(start + timedelta(hours=2)):
        robot = db.session.get(Robot, robot.id)
        robot.secret = "the-right-secret"
        db.session.commit()
        assert client.post(f"/notices/outbox/{row.id}/retry").status_code == 302
        db.session.rollback()
        assert jobs.deliver_outbox()["sent"] == 1
    assert len(receiver.messages) == 1


def test_an_unreachable_robot_leaves_the_message_queued_with_the_reason(
        app, mobiles, sim, client, login):
    world = mobiles
    closed = f"http://127.0.0.1:{free_port()}/robot/send?access_token=x"
    with clock.frozen_at(sim.at(D("2024-10-08"), 9, 0)):
        robot = _one_message(world, closed, platform="dingtalk", secret=SECRET)
        assert jobs.deliver_outbox()["retry_later"] == 1
    [row] = robot_rows(robot)
    db.session.refresh(row)
    assert row.state == "pending" and "unreachable" in row.last_error
    login(world.users.admin)
    html = client.get("/notices/outbox").get_data(as_text=True)
    assert f'data-outbox="{row.id}"' in html and "unreachable" in html
    login(world.users.head)
    page = client.get("/notices/robots").get_data(as_text=True)
    assert "data-robot-error" in page and "unreachable" in page


# ---------------------------------------------------------------- rate limit


def test_at_most_twenty_messages_a_minute_go_to_one_robot(app, mobiles, sim, robot_receiver):
    world = mobiles
    receiver = robot_receiver("dingtalk", secret=SECRET)
    robot = make_robot(receiver, unit=world.town)
    start = sim.at(D("2024-10-08"), 9, 0)
    with clock.frozen_at(start):
        for number in range(25):
            operations.notify([world.users.reporter], "notice_answered",
                              {"number": f"N{number}", "unit": "古南街道"}, f"/notices/{number}")
        db.session.commit()
        first = jobs.deliver_outbox()
    assert first["sent"] == 20 and first["rate_limited"] == 5
    assert len(receiver.messages) == 20
    waiting = [row for row in robot_rows(robot) if row.state == "pending"]
    assert len(waiting) == 5 and {row.attempts for row in waiting} == {0}
    assert {row.next_attempt_at for row in waiting} == {start + timedelta(minutes=1)}
    with clock.frozen_at(start + timedelta(seconds=30)):
        assert jobs.deliver_outbox()["sent"] == 0
    with clock.frozen_at(start + timedelta(minutes=1)):
        assert jobs.deliver_outbox()["sent"] == 5
    assert len(receiver.messages) == 25
    texts = receiver.texts()
    assert len({t for t in texts}) == 25  # each event once


def test_the_limit_is_per_robot(app, mobiles, sim, robot_receiver):
    world = mobiles
    app.config["ROBOT_RATE_PER_MINUTE"] = 2
    town = robot_receiver("wecom")
    office = robot_receiver("wecom", token="office-key")
    make_robot(town, unit=world.town)
    make_robot(office)
    with clock.frozen_at(sim.at(D("2024-10-08"), 9, 0)):
        for number in range(3):
            operations.notify([world.users.reporter, world.users.office], "notice_answered",
                              {"number": f"N{number}", "unit": "古南街道"}, f"/notices/{number}")
        db.session.commit()
        result = jobs.deliver_outbox()
    assert result["sent"] == 4 and result["rate_limited"] == 2
    assert len(town.messages) == 2 and len(office.messages) == 2


def test_two_workers_at_once_still_send_at_most_twenty_a_minute(app, mobiles, sim,
                                                                 robot_receiver):
    world = mobiles
    receiver = robot_receiver("dingtalk", secret=SECRET)
    make_robot(receiver, unit=world.town)
    with clock.frozen_at(sim.at(D("2024-10-08"), 9, 0)):
        for number in range(25):
            operations.notify([world.users.reporter], "notice_answered",
                              {"number": f"N{number}", "unit": "古南街道"}, f"/notices/{number}")
        db.session.commit()
        together = deliver_twice_at_once(app)
    assert together["sent"] == 20 and len(receiver.messages) == 20
    assert len({json_text for json_text in receiver.texts()}) == 20


def test_a_wecom_robot_with_a_wrong_key_keeps_the_message_queued(app, mobiles, sim,
                                                                 robot_receiver):
    world = mobiles
    receiver = robot_receiver("wecom", token="right-key")
    wrong = receiver.url.replace("right-key", "wrong-key")
    with clock.frozen_at(sim.at(D("2024-10-08"), 9, 0)):
        robot = _one_message(world, wrong, platform="wecom")
        assert jobs.deliver_outbox()["retry_later"] == 1
    [row] = robot_rows(robot)
    db.session.refresh(row)
    assert row.state == "pending" and "93000" in row.last_error
    assert [code for code, _body in receiver.refusals] == [93000] and receiver.messages == []


def test_a_returned_report_reaches_the_units_robot_and_the_inbox_exactly_once(
        app, mobiles, milestone_at, sim, robot_receiver):
    from taskflow.assignments.operations import review_update, submit_update

    world = mobiles
    receiver = robot_receiver("dingtalk", secret=SECRET)
    make_robot(receiver, unit=world.town)
    milestone = milestone_at(D("2024-10-18"), "完成企业走访")
    with clock.frozen_at(sim.at(D("2024-10-08"), 10, 0)):
        update = submit_update(milestone, world.users.reporter, progress=50,
                               narrative="走访了12家企业", problems="", next_steps="")
        db.session.commit()
        review_update(update, world.users.office, accept=False, reason_code="incomplete",
                      comment="请补充走访记录")
        db.session.commit()
        deliver_twice_at_once(app)
        jobs.deliver_outbox()
    assert len(receiver.messages) == 1 and receiver.refusals == []
    assert REPORTER_MOBILE in receiver.mentioned()[0]
    assert "完成企业走访" in receiver.texts()[0]
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == world.users.reporter.id)) == 1


def test_a_message_for_a_robot_switched_off_since_is_kept_not_sent(app, mobiles, sim,
                                                                   robot_receiver):
    world = mobiles
    receiver = robot_receiver("wecom")
    with clock.frozen_at(sim.at(D("2024-10-08"), 9, 0)):
        robot = _one_message(world, receiver)
        db.session.get(Robot, robot.id).active = False
        db.session.commit()
        assert jobs.deliver_outbox()["retry_later"] == 1
    [row] = robot_rows(robot)
    db.session.refresh(row)
    assert row.state == "pending" and "switched off" in row.last_error
    assert receiver.messages == []
