"""Administrator pages: who may open them, what they change, what they audit, query counts."""

import logging

import pytest
from sqlalchemy import select

from taskflow.accounts.models import User
from taskflow.audit.models import AuditEvent
from taskflow.extensions import db
from tests.helpers import TEST_PASSWORD

ROLES = ("reporter", "unit_head", "office", "supervisor", "leader", "admin")


def pages(target_id):
    """(method, url, form data) for every administrator page."""
    return [
        ("GET", "/admin/users", None),
        ("GET", "/admin/users?role=office&page=1", None),
        ("GET", "/admin/users/new", None),
        ("POST", "/admin/users/new", {"username": "fresh_user", "role": "office", "unit_id": "",
                                      "password": "river-lantern-47",
                                      "confirm": "river-lantern-47"}),
        ("GET", f"/admin/users/{target_id}", None),
        ("POST", f"/admin/users/{target_id}", {"display_name": "改名", "role": "leader",
                                                "unit_id": "", "active": "y", "version": "1"}),
        ("POST", f"/admin/users/{target_id}/password", {"new_password": "river-lantern-47",
                                                         "confirm": "river-lantern-47"}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page_for_every_role(app, client, login, user_for_role, make_user, role,
                                         caplog):
    target = make_user("leader", username="target_user")
    login(user_for_role(role))
    for method, url, data in pages(target.id):
        with caplog.at_level(logging.WARNING, logger="taskflow.auth"):
            response = client.open(url, method=method, data=data)
        if role == "admin":
            assert response.status_code in (200, 302), (url, response.status_code)
            if method == "POST":
                assert response.status_code == 302, (url, response.get_data(as_text=True))
        else:
            assert response.status_code == 403, (url, response.status_code)
            assert any("refused 403" in r.getMessage() and url.split("?")[0] in r.getMessage()
                       for r in caplog.records), url
    created = db.session.scalar(select(User).where(User.username == "fresh_user"))
    assert (created is not None) == (role == "admin")


def test_admin_pages_send_anonymous_visitors_to_sign_in(app, client, make_user):
    target = make_user("leader")
    for method, url, data in pages(target.id):
        response = client.open(url, method=method, data=data)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_unknown_user_is_404(client, login, admin):
    login(admin)
    assert client.get("/admin/users/9999").status_code == 404


def test_user_list_filters_by_role_unit_and_name(client, login, admin, make_user, make_unit, town):
    other = make_unit(name="三江街道", kind="street")
    make_user("reporter", unit=town, username="gunan_rep", display_name="古南张三")
    make_user("reporter", unit=other, username="sanjiang_rep")
    make_user("office", username="office_li")
    login(admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert all(name in page for name in ("gunan_rep", "sanjiang_rep", "office_li", "root_admin"))
    page = client.get("/admin/users?role=reporter").get_data(as_text=True)
    assert "gunan_rep" in page and "sanjiang_rep" in page and "office_li" not in page
    page = client.get(f"/admin/users?unit={other.id}").get_data(as_text=True)
    assert "sanjiang_rep" in page and "gunan_rep" not in page
    page = client.get("/admin/users?q=张三").get_data(as_text=True)
    assert "gunan_rep" in page and "sanjiang_rep" not in page
    # The unit filter offers the district plan's units grouped by peer group.
    assert '<optgroup label="街镇">' in page and "三江街道" in page


def test_user_list_is_paginated(client, login, admin, make_user):
    for i in range(30):
        make_user("leader", username=f"leader_{i:02d}")
    login(admin)
    first = client.get("/admin/users?role=leader").get_data(as_text=True)
    second = client.get("/admin/users?role=leader&page=2").get_data(as_text=True)
    assert "leader_00" in first and "leader_29" not in first
    assert "leader_29" in second and "leader_00" not in second
    assert "role=leader" in first and "page=2" in first  # the pager keeps the filter


def test_user_list_query_count_is_constant(client, login, admin, make_user, make_unit,
                                           count_queries):
    login(admin)

    def add_users(n, start):
        for i in range(start, start + n):
            unit = make_unit()
            make_user("reporter", unit=unit, username=f"rep_{i}")

    add_users(3, 0)
    with count_queries() as small:
        assert client.get("/admin/users").status_code == 200
    add_users(27, 3)
    with count_queries() as large:
        page = client.get("/admin/users").get_data(as_text=True)
    assert "rep_29" in page or "rep_3" in page
    assert small.count == large.count


def test_create_user_with_unit_and_audit(client, login, admin, town):
    login(admin)
    response = client.post("/admin/users/new", data={
        "username": "gunan_head", "display_name": "古南负责人", "email": "head@qj.gov.cn",
        "role": "unit_head", "unit_id": str(town.id), "password": "river-lantern-47",
        "confirm": "river-lantern-47"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "gunan_head"))
    assert user.unit_id == town.id and user.role == "unit_head" and user.email == "head@qj.gov.cn"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create",
                                                       AuditEvent.object_id == user.id))
    assert event.actor_id == admin.id
    assert event.after["unit"] == "古南街道" and event.after["role"] == "unit_head"
    assert event.after["active"] is True
    assert "password" not in str(event.after)


@pytest.mark.parametrize("data, message", [
    ({"username": "x"}, "用户名为 3 至 80 个字符"),
    ({"username": "root_admin"}, "已被使用"),
    ({"password": "password123", "confirm": "password123"}, "过于常见"),
    ({"password": "short", "confirm": "short"}, "至少 10 个字符"),
    ({"password": "new_person1", "confirm": "new_person1"}, "不能与用户名相同"),
    ({"confirm": "something-else-1"}, "两次输入的密码不一致"),
    ({"role": "reporter"}, "必须选择所属单位"),
    ({"email": "not-an-address"}, "有效的电子邮箱"),
])
def test_create_user_refusals(client, login, admin, data, message):
    login(admin)
    form = {"username": "new_person1", "display_name": "", "email": "", "role": "office",
            "unit_id": "", "password": "river-lantern-47", "confirm": "river-lantern-47"}
    form.update(data)
    response = client.post("/admin/users/new", data=form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(User.id))) == 1  # only the admin


def test_office_user_cannot_be_put_in_a_unit(client, login, admin, town):
    login(admin)
    response = client.post("/admin/users/new", data={
        "username": "office_two", "role": "office", "unit_id": str(town.id),
        "password": "river-lantern-47", "confirm": "river-lantern-47"})
    assert response.status_code == 400
    assert "只有填报员和单位负责人才隶属于单位" in response.get_data(as_text=True)


def test_units_of_other_plans_are_not_offered(client, login, admin, make_plan, make_unit):
    city = make_plan(code="city", title="市方案", level="city")
    district_town = make_unit(name="古南街道")
    city_unit = make_unit(name="綦江区", plan_id=city.id, kind="district", peer_group="new_urban")
    login(admin)
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert "古南街道" in page and "綦江区" not in page
    response = client.post("/admin/users/new", data={
        "username": "city_rep", "role": "reporter", "unit_id": str(city_unit.id),
        "password": "river-lantern-47", "confirm": "river-lantern-47"})
    assert response.status_code == 400
    assert district_town.id  # the district unit stays available


def test_several_district_plans_are_told_apart(client, login, admin, make_plan, make_unit):
    second = make_plan(code="second", title="第二个区级方案")
    make_unit(name="古南街道")
    make_unit(name="古南街道", plan_id=second.id)
    login(admin)
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert "第二个区级方案 · 街镇" in page and "测试方案 · 街镇" in page


def test_edit_user_audits_before_and_after(client, login, admin, make_user, town, make_unit):
    other = make_unit(name="三江街道")
    user = make_user("reporter", unit=town, display_name="张三")
    login(admin)
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert 'value="张三"' in page and "checked" in page
    response = client.post(f"/admin/users/{user.id}", data={
        "display_name": "张三丰", "email": "zs@qj.gov.cn", "role": "unit_head",
        "unit_id": str(other.id), "active": "y", "version": "1"})
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.display_name, user.role, user.unit_id, user.active) == (
        "张三丰", "unit_head", other.id, True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event.before == {"display_name": "张三", "email": None, "role": "reporter",
                            "unit": "古南街道"}
    assert event.after == {"display_name": "张三丰", "email": "zs@qj.gov.cn",
                           "role": "unit_head", "unit": "三江街道"}
    # Saving again with no change writes no event.
    client.post(f"/admin/users/{user.id}", data={
        "display_name": "张三丰", "email": "zs@qj.gov.cn", "role": "unit_head",
        "unit_id": str(other.id), "active": "y", "version": "2"})
    assert db.session.scalar(select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action == "user.update")) == 1


def test_admin_cannot_lock_themselves_out(client, login, admin):
    login(admin)
    response = client.post(f"/admin/users/{admin.id}", data={
        "display_name": "管理员", "role": "admin", "unit_id": "", "version": "1"})
    assert response.status_code == 400
    assert "不能停用自己的账号" in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{admin.id}", data={
        "display_name": "管理员", "role": "office", "unit_id": "", "active": "y", "version": "1"})
    assert "不能修改自己的角色" in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{admin.id}/password", data={
        "new_password": "river-lantern-47", "confirm": "river-lantern-47"})
    assert response.status_code == 400
    db.session.refresh(admin)
    assert admin.active and admin.role == "admin"


def test_reset_password_rules_and_audit(client, login, admin, make_user):
    user = make_user("leader", username="leader_wang")
    login(admin)
    weak = client.post(f"/admin/users/{user.id}/password", data={
        "new_password": "leader_wang", "confirm": "leader_wang"})
    assert weak.status_code == 400 and "不能与用户名相同" in weak.get_data(as_text=True)
    ok = client.post(f"/admin/users/{user.id}/password", data={
        "new_password": "river-lantern-47", "confirm": "river-lantern-47"})
    assert ok.status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.password_reset"))
    assert event.actor_id == admin.id and event.object_id == user.id
    assert event.before is None and event.after is None  # no hashes in the trail
