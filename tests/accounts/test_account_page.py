"""My account: password change and language."""

from sqlalchemy import select

from taskflow.audit.models import AuditEvent
from taskflow.extensions import db

TEST_PASSWORD = "correct-horse-battery"


def test_my_account_page_for_every_role(client, login, user_for_role):
    for role in ("reporter", "unit_head", "office", "supervisor", "leader", "admin"):
        client.post("/logout")
        login(user_for_role(role))
        page = client.get("/account")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "修改密码" in text and "界面语言" in text and "我的账号" in text


def test_my_account_needs_sign_in(client):
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_refusals(client, login, make_user):
    user = make_user("office", username="office_zhao")
    login(user)
    cases = [
        ({"current_password": "wrong-one-1", "new_password": "river-lantern-47",
          "confirm": "river-lantern-47"}, "当前密码不正确"),
        ({"current_password": TEST_PASSWORD, "new_password": "qwerty2024!",
          "confirm": "qwerty2024!"}, "过于常见"),
        ({"current_password": TEST_PASSWORD, "new_password": "office_zhao",
          "confirm": "office_zhao"}, "不能与用户名相同"),
        ({"current_password": TEST_PASSWORD, "new_password": TEST_PASSWORD,
          "confirm": TEST_PASSWORD}, "不能与当前密码相同"),
        ({"current_password": TEST_PASSWORD, "new_password": "river-lantern-47",
          "confirm": "river-lantern-48"}, "两次输入的密码不一致"),
    ]
    for data, message in cases:
        response = client.post("/account/password", data=data)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True), message
    assert client.get("/account").status_code == 200  # still signed in
    assert not db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "user.password_change"))


def test_password_change_is_audited(client, login, make_user):
    user = make_user("office")
    login(user)
    client.post("/account/password", data={"current_password": TEST_PASSWORD,
                                           "new_password": "river-lantern-47",
                                           "confirm": "river-lantern-47"})
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "user.password_change"))
    assert event.actor_id == user.id and event.object_id == user.id


def test_language_is_saved_with_the_user(app, client, login, make_user):
    user = make_user("office")
    login(user)
    response = client.post("/account/language", data={"locale": "en"})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.locale == "en"
    assert "My account" in client.get("/account").get_data(as_text=True)
    # A new browser picks the saved language after sign-in.
    fresh = app.test_client()
    fresh.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert "Change password" in fresh.get("/account").get_data(as_text=True)
    assert client.post("/account/language", data={"locale": "fr"}).status_code == 400
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.locale"))
    assert event.before == {"locale": None} and event.after == {"locale": "en"}


def test_nav_shows_my_account_and_admin_link_only_for_admin(client, login, make_user):
    login(make_user("office"))
    page = client.get("/account").get_data(as_text=True)
    assert 'href="/account"' in page and 'href="/admin/users"' not in page
    assert 'href="/audit/"' in page
    client.post("/logout")
    login(make_user("admin"))
    page = client.get("/account").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/audit/"' in page


def test_nav_hides_audit_from_unit_users_and_leaders(client, login, user_for_role):
    for role in ("reporter", "unit_head", "leader"):
        client.post("/logout")
        login(user_for_role(role))
        page = client.get("/account").get_data(as_text=True)
        assert 'href="/audit/"' not in page and 'href="/admin/users"' not in page


def test_guessing_the_current_password_is_throttled_like_sign_in(client, login, make_user):
    user = make_user("office")
    login(user)
    for _ in range(5):
        response = client.post("/account/password", data={
            "current_password": "guess-guess-1", "new_password": "river-lantern-47",
            "confirm": "river-lantern-47"})
        assert response.status_code == 400
    blocked = client.post("/account/password", data={
        "current_password": TEST_PASSWORD, "new_password": "river-lantern-47",
        "confirm": "river-lantern-47"})
    assert blocked.status_code == 429
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    # The password did not change, and signing in elsewhere is locked too.
    other = client.application.test_client()
    refused = other.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert refused.status_code == 429
