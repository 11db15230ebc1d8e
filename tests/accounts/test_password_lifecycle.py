"""Password lifecycle: expiry forces a change at sign-in, the last passwords cannot be reused,
an administrator's temporary password must be changed; the security page's read."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from taskflow.accounts.models import PasswordHistory, User
from taskflow.accounts.queries import users_with_expired_password
from taskflow.audit.models import AuditEvent
from taskflow.core.clock import frozen_at
from taskflow.extensions import db

TEST_PASSWORD = "correct-horse-battery"  # the password tests/conftest.py gives every user
T0 = datetime(2024, 5, 6, 2, 0, tzinfo=timezone.utc)
PASSWORDS = [f"river-lantern-{n}{n}" for n in range(1, 8)]


def password_step(client, user, password=TEST_PASSWORD):
    return client.post("/login", data={"username": user.username, "password": password})


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def location(response) -> str:
    return response.headers.get("Location", "")


@pytest.fixture
def expiry(app):
    app.config["PASSWORD_MAX_AGE_DAYS"] = 90
    return 90


def user_created_at(make_user, moment, role="office", **kwargs):
    with frozen_at(moment):
        return make_user(role, **kwargs)


def test_expired_password_forces_a_change_before_any_page(app, client, make_user, expiry):
    user = user_created_at(make_user, T0)
    with frozen_at(T0 + timedelta(days=89)):
        password_step(client, user)
        assert signed_in(client)  # not yet expired
        client.post("/logout")
    with frozen_at(T0 + timedelta(days=91)):
        response = password_step(client, user)
        assert response.status_code == 302 and location(response).endswith("/login/password")
        assert not signed_in(client)
        page = client.get("/login/password").get_data(as_text=True)
        assert "已使用超过 90 天" in page and "退出" in page
        # The only ways on: a valid new password, or signing out.
        same = client.post("/login/password", data={"new_password": TEST_PASSWORD,
                                                    "confirm": TEST_PASSWORD})
        assert same.status_code == 400 and "近期用过" in same.get_data(as_text=True)
        weak = client.post("/login/password", data={"new_password": "123", "confirm": "123"})
        assert weak.status_code == 400
        assert not signed_in(client)
        done = client.post("/login/password", data={"new_password": PASSWORDS[0],
                                                     "confirm": PASSWORDS[0]})
        assert done.status_code == 302 and "/login" not in location(done)
        assert signed_in(client)
    user = db.session.get(User, user.id)
    assert user.password_changed_at == T0 + timedelta(days=91)
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "user.password_change"))
    assert event.after == {"forced": "expired"}
    with frozen_at(T0 + timedelta(days=92)):
        client.post("/logout")
        assert password_step(client, user, PASSWORDS[0]).status_code == 302
        assert signed_in(client)  # the new password is good for another 90 days


def test_sign_out_is_the_way_out_of_the_forced_change(app, client, make_user, expiry):
    user = user_created_at(make_user, T0)
    with frozen_at(T0 + timedelta(days=100)):
        password_step(client, user)
        assert client.post("/login/cancel").status_code == 302
        response = client.post("/login/password", data={"new_password": PASSWORDS[0],
                                                        "confirm": PASSWORDS[0]})
        assert location(response).endswith("/login")
        assert not signed_in(client)
    db.session.refresh(user)
    assert db.session.scalar(select(db.func.count(PasswordHistory.id)).where(
        PasswordHistory.user_id == user.id)) == 1  # only the first password


def test_expiry_off_by_zero(app, client, make_user):
    app.config["PASSWORD_MAX_AGE_DAYS"] = 0
    user = user_created_at(make_user, T0)
    with frozen_at(T0 + timedelta(days=3650)):
        password_step(client, user)
        assert signed_in(client)


def test_each_of_the_last_five_passwords_is_refused(app, client, make_user, login):
    from taskflow.accounts.operations import change_password

    user = make_user("office")
    current = TEST_PASSWORD
    with frozen_at(T0):
        for new in PASSWORDS[:5]:  # the first password and five changes
            change_password(user, current, new)
            current = new
        db.session.commit()
    login(user, password=current)
    # The last five passwords are PASSWORDS[0..4] (the current one included).
    for old in PASSWORDS[:5]:
        response = client.post("/account/password", data={
            "current_password": current, "new_password": old, "confirm": old})
        assert response.status_code == 400, old
        # The current one has its own message ("must differ from the current one").
        expected = "近期用过" if old != current else "不能与当前密码相同"
        assert expected in response.get_data(as_text=True)
    # The sixth-last (the account's first password) may come back.
    response = client.post("/account/password", data={
        "current_password": current, "new_password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    assert response.status_code == 302
    history = db.session.scalars(select(PasswordHistory.password_hash).where(
        PasswordHistory.user_id == user.id)).all()
    assert len(history) == 5 and all(h.startswith("$argon2") for h in history)


def test_admin_temporary_password_must_be_changed_at_next_sign_in(app, client, make_user,
                                                                 login):
    user = make_user("office")
    admin = make_user("admin")
    admin_client = app.test_client()
    admin_client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD})
    page = admin_client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "临时密码" in page
    temporary = "temporary-pass-2024"
    assert admin_client.post(f"/admin/users/{user.id}/password", data={
        "new_password": temporary, "confirm": temporary}).status_code == 302
    db.session.refresh(user)
    assert user.must_change_password
    admin_page = admin_client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "下次登录时须修改" in admin_page

    response = password_step(client, user, temporary)
    assert location(response).endswith("/login/password")
    assert "由管理员设置" in client.get("/login/password").get_data(as_text=True)
    assert not signed_in(client)
    again = client.post("/login/password", data={"new_password": temporary,
                                                 "confirm": temporary})
    assert again.status_code == 400  # the temporary password is not "their own"
    client.post("/login/password", data={"new_password": PASSWORDS[0],
                                         "confirm": PASSWORDS[0]})
    assert signed_in(client)
    db.session.refresh(user)
    assert not user.must_change_password
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "user.password_change")).one()
    assert event.after == {"forced": "temporary"}


def test_second_factor_comes_before_the_forced_change(app, client, make_user):
    import pyotp

    from taskflow.accounts.operations import confirm_second_factor, new_totp_secret

    app.config["TOTP_REQUIRED_ROLES"] = "office"
    app.config["PASSWORD_MAX_AGE_DAYS"] = 90
    user = user_created_at(make_user, T0)
    secret = new_totp_secret()
    with frozen_at(T0):
        confirm_second_factor(user, secret, pyotp.TOTP(secret).at(T0))
        db.session.commit()
    later = T0 + timedelta(days=120)
    with frozen_at(later):
        assert location(password_step(client, user)).endswith("/login/code")
        # The password page is not reachable before the code.
        assert location(client.get("/login/password")).endswith("/login/code")
        response = client.post("/login/code", data={"code": pyotp.TOTP(secret).at(later)})
        assert location(response).endswith("/login/password")
        client.post("/login/password", data={"new_password": PASSWORDS[0],
                                             "confirm": PASSWORDS[0]})
        assert signed_in(client)


def test_users_with_expired_password(app, make_user, expiry):
    old = user_created_at(make_user, T0, username="old_one")
    user_created_at(make_user, T0 + timedelta(days=60), username="recent_one")
    reset = user_created_at(make_user, T0 + timedelta(days=60), username="reset_one")
    reset.must_change_password = True
    gone = user_created_at(make_user, T0, username="gone_one")
    gone.active = False
    db.session.commit()
    as_of = T0 + timedelta(days=100)
    assert [u.username for u in users_with_expired_password(as_of)] == [old.username,
                                                                        reset.username]
    app.config["PASSWORD_MAX_AGE_DAYS"] = 0
    assert [u.username for u in users_with_expired_password(as_of)] == [reset.username]
