"""The robot pages (who may add, change and test which robot; secrets never shown back) and the
mobile number on My account (validated, normalised, masked for others)."""

import pytest
from sqlalchemy import select

from taskflow.accounts.models import User
from taskflow.accounts.operations import set_own_mobile, shown_mobile
from taskflow.audit.models import AuditEvent
from taskflow.extensions import db
from taskflow.notices.models import OutboxMessage, Robot
from tests.notices.robot_receiver import make_robot, robot_receiver  # noqa: F401 - fixture

DING = "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789"
WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"
SECRET = "SECf00dfacecafe0123456789"


def robots() -> list[Robot]:
    db.session.rollback()  # see what the requests committed
    return list(db.session.scalars(select(Robot).order_by(Robot.id)))


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# ---------------------------------------------------------------- who may do what


def test_the_office_adds_its_own_robot_and_the_secret_is_stored_encrypted_never_shown(
        app, world, client, login):
    login(world.users.office)
    response = client.post("/notices/robots/new", data={
        "platform": "dingtalk", "name": "联席办工作群", "webhook_url": DING, "secret": SECRET,
        "unit_id": "", "active": "y"})
    assert response.status_code == 302
    [robot] = robots()
    assert robot.unit_id is None and robot.secret == SECRET and robot.webhook_url == DING
    raw = db.session.execute(db.text("SELECT webhook_url, secret FROM robots")).one()
    assert SECRET not in raw.secret and "abcdef0123456789" not in raw.webhook_url
    for page in (client.get("/notices/robots"), client.get(f"/notices/robots/{robot.id}")):
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert SECRET not in html and "abcdef0123456789" not in html
        assert "https://oapi.dingtalk.com/robot/send?…" in html
    [event] = events("notices.robot_create")
    assert event.after["secret"] == "set" and "abcdef" not in str(event.after)


def test_saving_without_a_new_address_or_secret_keeps_them(app, world, client, login):
    robot = make_robot(None, unit=world.town, platform="dingtalk", url=DING, secret=SECRET)
    login(world.users.head)
    response = client.post(f"/notices/robots/{robot.id}", data={
        "platform": "dingtalk", "name": "古南街道工作群（新）", "webhook_url": "", "secret": "",
        "unit_id": str(world.other.id), "active": "y", "version_id": str(robot.version_id)})
    assert response.status_code == 302
    [saved] = robots()
    assert saved.name == "古南街道工作群（新）" and saved.webhook_url == DING
    assert saved.secret == SECRET
    assert saved.unit_id == world.town.id  # a unit head cannot hand the robot to another unit
    [event] = events("notices.robot_update")
    assert event.before["name"] != event.after["name"]


def test_a_unit_head_manages_only_the_own_units_robot(app, world, client, login, make_user,
                                                      client_for):
    own = make_robot(None, unit=world.town, platform="wecom", url=WECOM)
    foreign = make_robot(None, unit=world.other, platform="wecom", url=WECOM, name="文龙街道工作群")
    office = make_robot(None, platform="wecom", url=WECOM, name="联席办工作群")
    login(world.users.head)
    html = client.get("/notices/robots").get_data(as_text=True)
    assert f'data-robot="{own.id}"' in html
    assert f'data-robot="{foreign.id}"' not in html and f'data-robot="{office.id}"' not in html
    for robot in (foreign, office):
        assert client.get(f"/notices/robots/{robot.id}").status_code == 404
        assert client.post(f"/notices/robots/{robot.id}", data={
            "platform": "wecom", "name": "x", "unit_id": "", "active": "y"}).status_code == 404
        assert client.post(f"/notices/robots/{robot.id}/test").status_code == 404
    # A robot a unit head adds belongs to its unit, whatever the form says.
    assert client.post("/notices/robots/new", data={
        "platform": "wecom", "name": "古南二群", "webhook_url": WECOM,
        "unit_id": str(world.other.id), "active": "y"}).status_code == 302
    assert robots()[-1].unit_id == world.town.id
    # Another unit's head sees none of the town's robots.
    other = client_for(make_user("unit_head", unit=world.other, username="other_head"))
    assert other.get(f"/notices/robots/{own.id}").status_code == 404
    assert other.post(f"/notices/robots/{own.id}/test").status_code in (400, 404)
    html = other.get("/notices/robots").get_data(as_text=True)
    assert f'data-robot="{own.id}"' not in html and f'data-robot="{foreign.id}"' in html


@pytest.mark.parametrize("who", ["reporter", "supervisor", "leader"])
def test_reporters_and_reading_roles_cannot_open_the_robot_pages(app, world, client, login, who):
    robot = make_robot(None, unit=world.town, platform="wecom", url=WECOM)
    login(getattr(world.users, who))
    assert client.get("/notices/robots").status_code == 403
    assert client.get("/notices/robots/new").status_code == 403
    assert client.post("/notices/robots/new", data={
        "platform": "wecom", "name": "x", "webhook_url": WECOM, "active": "y"}).status_code == 403
    assert client.post(f"/notices/robots/{robot.id}/test").status_code == 403
    assert len(robots()) == 1


@pytest.mark.parametrize("platform,url", [
    ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"),  # no key
    ("wecom", "https://example.test/hook?key=1"),
    ("dingtalk", "ftp://oapi.dingtalk.com/robot/send?access_token=1"),
    ("feishu", "open.feishu.cn/open-apis/bot/v2/hook/x"),
])
def test_a_wrong_address_is_refused(app, world, client, login, platform, url):
    login(world.users.admin)
    response = client.post("/notices/robots/new", data={
        "platform": platform, "name": "群", "webhook_url": url, "unit_id": "", "active": "y"})
    assert response.status_code == 400
    assert robots() == []


def test_send_test_message_queues_a_message_that_reaches_the_robot(
        app, world, client, login, robot_receiver):
    from taskflow.notices import jobs

    receiver = robot_receiver("feishu", secret="feishu-secret")
    robot = make_robot(receiver, unit=world.town)
    login(world.users.head)
    assert client.post(f"/notices/robots/{robot.id}/test").status_code == 302
    assert client.post(f"/notices/robots/{robot.id}/test").status_code == 302  # a second test
    db.session.rollback()
    assert jobs.deliver_outbox()["sent"] == 2
    assert len(receiver.messages) == 2 and receiver.refusals == []
    assert len(events("notices.robot_test")) == 2
    html = client.get("/notices/robots").get_data(as_text=True)
    assert "2" in html and 'data-robot-error' not in html


def test_the_robot_page_costs_the_same_few_queries_however_many_robots(
        app, world, client, login, make_unit, count_queries):
    made = iter(range(100))

    def add_robots(count):
        for _number in range(count):
            unit = make_unit(name=f"单位{next(made)}")
            robot = make_robot(None, unit=unit, platform="wecom", url=WECOM)
            db.session.add(OutboxMessage(channel="robot", recipient="x", robot_id=robot.id,
                                         state="failed", last_error="WeCom refused", attempts=6))
        db.session.commit()

    add_robots(1)
    login(world.users.admin)
    client.get("/notices/robots")
    with count_queries() as small:
        assert client.get("/notices/robots").status_code == 200
    add_robots(6)
    with count_queries() as large:
        html = client.get("/notices/robots").get_data(as_text=True)
    assert html.count("data-robot-error") == 7
    assert large.count == small.count <= 8


# ---------------------------------------------------------------- mobile numbers


def test_a_user_sets_the_own_mobile_number_normalised_and_audited_masked(
        app, world, client, login):
    login(world.users.reporter)
    response = client.post("/account/mobile", data={"mobile": "+86 138-1234-5678"})
    assert response.status_code == 302
    db.session.rollback()
    user = db.session.get(User, world.users.reporter.id)
    assert user.mobile == "13812345678"
    assert "13812345678" in client.get("/account").get_data(as_text=True)  # the owner: in full
    [event] = events("user.mobile")
    assert event.after == {"mobile": "138****5678"}
    # Cleared again.
    assert client.post("/account/mobile", data={"mobile": ""}).status_code == 302
    db.session.rollback()
    assert db.session.get(User, user.id).mobile is None


@pytest.mark.parametrize("bad", ["12812345678", "1381234567", "138123456789", "phone",
                                 "+1 13812345678"])
def test_a_wrong_mobile_number_is_refused_on_my_account(app, world, client, login, bad):
    login(world.users.reporter)
    response = client.post("/account/mobile", data={"mobile": bad})
    assert response.status_code == 400
    db.session.rollback()
    assert db.session.get(User, world.users.reporter.id).mobile is None


def test_a_mobile_number_is_masked_for_everyone_but_its_owner_and_the_administrator(app, world):
    set_own_mobile(world.users.reporter, "13812345678")
    db.session.commit()
    owner = world.users.reporter
    assert shown_mobile(owner, owner) == "13812345678"
    assert shown_mobile(owner, world.users.admin) == "13812345678"
    for viewer in (world.users.head, world.users.office, world.users.leader):
        assert shown_mobile(owner, viewer) == "138****5678"
    assert shown_mobile(world.users.head, world.users.head) is None  # no number: nothing


def test_the_robot_rules_answer_for_exactly_their_roles(app):
    from taskflow.core import permissions as perm
    from taskflow.core.roles import Role

    def user(role, unit_id=None):
        return User(id=1, username=f"{role}-x", role=role, unit_id=unit_id, active=True)

    viewers = {role for role in Role
               if perm.can_view_robots(user(role, 7 if role in ("reporter", "unit_head") else None))}
    assert viewers == {Role.ADMIN, Role.OFFICE, Role.UNIT_HEAD}
    assert not perm.can_view_robots(user("unit_head"))  # a head without a unit
    assert perm.can_manage_robot(user("office"), None) and perm.can_manage_robot(user("admin"), 3)
    assert perm.can_manage_robot(user("unit_head", 7), 7)
    assert not perm.can_manage_robot(user("unit_head", 7), 8)
    assert not perm.can_manage_robot(user("unit_head", 7), None)
    assert not perm.can_manage_robot(user("reporter", 7), 7)
    assert not perm.can_manage_robot(user("supervisor"), None)


def test_an_edit_made_from_an_older_version_is_refused(app, world, client, login):
    robot = make_robot(None, unit=world.town, platform="wecom", url=WECOM, name="古南街道工作群")
    login(world.users.office)
    stale_version = str(robot.version_id)
    assert client.post(f"/notices/robots/{robot.id}", data={
        "platform": "wecom", "name": "第一次修改", "unit_id": str(world.town.id), "active": "y",
        "version_id": stale_version}).status_code == 302
    response = client.post(f"/notices/robots/{robot.id}", data={
        "platform": "wecom", "name": "第二次修改", "unit_id": str(world.town.id), "active": "y",
        "version_id": stale_version})
    assert response.status_code == 400
    [saved] = robots()
    assert saved.name == "第一次修改"
