"""Sessions end on sign-out, password change, reset and disabling; idle and absolute timeouts."""

from datetime import datetime, timedelta, timezone

from taskflow.core.clock import frozen_at
from tests.helpers import TEST_PASSWORD

NEW_PASSWORD = "river-lantern-47"
T0 = datetime(2024, 5, 6, 1, 0, tzinfo=timezone.utc)


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A different browser presenting a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/account")


def goes_to_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_out_ends_the_session_and_a_copied_cookie(app, client, make_user, login):
    user = make_user("office")
    login(user)
    cookie = session_cookie(client)
    assert replay(app, cookie).status_code == 200  # the copy works while signed in
    assert client.post("/logout").status_code == 302
    assert goes_to_login(client.get("/account"))
    assert goes_to_login(replay(app, cookie))


def test_password_change_ends_every_session_and_needs_the_new_password(
        app, client, make_user, login):
    user = make_user("office")
    other_device = app.test_client()
    login(user)
    other_device.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert other_device.get("/account").status_code == 200
    cookie = session_cookie(client)
    response = client.post("/account/password", data={
        "current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert goes_to_login(response)
    page = client.get("/login").get_data(as_text=True)
    assert "密码已修改" in page
    assert goes_to_login(client.get("/account"))
    assert goes_to_login(other_device.get("/account"))
    assert goes_to_login(replay(app, cookie))
    refused = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert refused.status_code == 200
    assert login(user, password=NEW_PASSWORD).status_code == 302
    assert client.get("/account").status_code == 200


def test_admin_disabling_an_account_ends_its_sessions(app, client, make_user, login, admin):
    user = make_user("office")
    login(user)
    cookie = session_cookie(client)
    admin_client = app.test_client()
    admin_client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD})
    response = admin_client.post(f"/admin/users/{user.id}", data={
        "display_name": user.display_name, "email": "", "role": "office", "unit_id": "",
        "version": str(user.version_id)})
    assert response.status_code == 302  # "active" unticked
    assert goes_to_login(client.get("/account"))
    assert goes_to_login(replay(app, cookie))


def test_admin_password_reset_ends_the_users_sessions(app, client, make_user, login, admin):
    user = make_user("office")
    login(user)
    admin_client = app.test_client()
    admin_client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD})
    response = admin_client.post(f"/admin/users/{user.id}/password", data={
        "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert goes_to_login(client.get("/account"))
    assert login(user, password=NEW_PASSWORD).status_code == 302


def test_idle_timeout(app, client, make_user, login):
    app.config["SESSION_IDLE_MINUTES"] = 120
    user = make_user("office")
    with frozen_at(T0):
        login(user)
    with frozen_at(T0 + timedelta(minutes=119)):
        assert client.get("/account").status_code == 200  # activity moves the idle clock
    with frozen_at(T0 + timedelta(minutes=238)):
        assert client.get("/account").status_code == 200
    with frozen_at(T0 + timedelta(minutes=238 + 121)):
        response = client.get("/account")
        assert goes_to_login(response)
        assert "next=/account" in response.headers["Location"]
        page = client.get("/login").get_data(as_text=True)
        assert "120 分钟未操作" in page
        assert goes_to_login(client.get("/account"))  # the session is gone, not just refused


def test_absolute_timeout_despite_activity(app, client, make_user, login):
    app.config["SESSION_ABSOLUTE_HOURS"] = 12
    user = make_user("office")
    with frozen_at(T0):
        login(user)
    for hours in range(1, 12):
        with frozen_at(T0 + timedelta(hours=hours)):
            assert client.get("/account").status_code == 200
    with frozen_at(T0 + timedelta(hours=12, minutes=1)):
        assert goes_to_login(client.get("/account"))
        assert "12 小时" in client.get("/login").get_data(as_text=True)


def test_a_timed_out_session_can_sign_in_again_at_once(app, client, make_user, login):
    user = make_user("office")
    with frozen_at(T0):
        login(user)
    with frozen_at(T0 + timedelta(hours=5)):
        response = login(user)
        assert response.status_code == 302 and "/login" not in response.headers["Location"]
        assert client.get("/account").status_code == 200


def test_session_cookie_is_a_browser_session_cookie(app, client, make_user, login):
    login(make_user("office"))
    cookie = client.get_cookie("session")
    assert cookie.expires is None  # gone when the browser closes
    assert cookie.http_only
    assert app.permanent_session_lifetime == timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
