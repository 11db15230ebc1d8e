"""Second factor (TOTP): enrolment, two-step sign-in, recovery codes, replay, throttling,
the administrator's reset, the CSRF token rotated at sign-in, and the security page's reads."""

import re
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import select, text

from taskflow.accounts.models import LoginAttempt, RecoveryCode, User
from taskflow.accounts.operations import confirm_second_factor, new_totp_secret
from taskflow.accounts.queries import (
    count_users_without_second_factor,
    users_without_second_factor,
)
from taskflow.audit.models import AuditEvent
from taskflow.core.clock import frozen_at
from taskflow.extensions import db
from tests.helpers import TEST_PASSWORD

T0 = datetime(2024, 5, 6, 2, 0, tzinfo=timezone.utc)  # 10:00 in Qijiang
POLICY = "office,supervisor,admin,leader"


@pytest.fixture
def policy(app):
    """The issue's default policy, switched on (TestingConfig leaves it off)."""
    app.config["TOTP_REQUIRED_ROLES"] = POLICY
    return POLICY


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def enrolled(make_user, role="office", **kwargs):
    """A user with a confirmed authenticator app; returns (user, secret, recovery codes)."""
    user = make_user(role, **kwargs)
    secret = new_totp_secret()
    with frozen_at(T0 - timedelta(hours=1)):
        codes = confirm_second_factor(user, secret, code_at(secret, T0 - timedelta(hours=1)))
    db.session.commit()
    return user, secret, codes


def password_step(client, user, password=TEST_PASSWORD, ip="10.0.0.1", next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": user.username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def code_step(client, code, ip="10.0.0.1"):
    return client.post("/login/code", data={"code": code}, environ_base={"REMOTE_ADDR": ip})


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def location(response) -> str:
    return response.headers.get("Location", "")


# ---------------------------------------------------------------- enrolment


def test_required_role_must_enrol_after_the_password_before_any_page(app, client, make_user,
                                                                     policy):
    user = make_user("office")
    with frozen_at(T0):
        response = password_step(client, user, next_url="/account")
        assert response.status_code == 302 and location(response).endswith("/login/enrol")
        # Not signed in yet: every other page still sends to the sign-in page.
        assert client.get("/account").status_code == 302
        assert "/login" in location(client.get("/"))
        page = client.get("/login/enrol")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "设置身份验证器" in html
        assert 'src="data:image/svg+xml' in html  # the QR code, drawn on the server
        secret = re.search(r"data-totp-secret>([A-Z2-7]+)<", html).group(1)
        # The secret waits in the session: nothing is written before a code confirms it.
        db.session.refresh(user)
        assert user.totp_secret is None

        wrong = client.post("/login/enrol", data={"code": "000000"})
        assert wrong.status_code == 400 and "验证码错误" in wrong.get_data(as_text=True)
        assert not signed_in(client)

        shown = client.post("/login/enrol", data={"code": code_at(secret, T0)})
        assert shown.status_code == 200
        codes = re.findall(r"<li class=\"col mb-1\">([A-Z2-9]{5}-[A-Z2-9]{5})</li>",
                           shown.get_data(as_text=True))
        assert len(codes) == 10 and len(set(codes)) == 10
        assert not signed_in(client)  # the codes page comes before access
        done = client.post("/login/continue")
        assert done.status_code == 302 and location(done).endswith("/account")
        assert signed_in(client)
    user = db.session.get(User, user.id)
    assert user.totp_secret == secret and user.totp_confirmed_at is not None
    # The secret is stored SM4-encrypted: the raw column holds a token, never the secret.
    raw = db.session.execute(text("SELECT totp_secret FROM users WHERE id = :id"),
                             {"id": user.id}).scalar_one()
    assert raw.startswith("v1:") and secret not in raw
    # Stored hashed: no code appears in the table.
    hashes = db.session.scalars(select(RecoveryCode.code_hash)
                                .where(RecoveryCode.user_id == user.id)).all()
    assert len(hashes) == 10
    assert all(h.startswith("$argon2") for h in hashes)
    assert not any(c.replace("-", "") in h for c in codes for h in hashes)
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["user.second_factor_enrol", "user.sign_in"]


def test_role_without_the_requirement_signs_in_with_the_password_only(app, client, make_user,
                                                                     make_unit, policy):
    reporter = make_user("reporter", unit=make_unit())
    response = password_step(client, reporter)
    assert response.status_code == 302 and "/login" not in location(response)
    assert signed_in(client)


def test_without_the_policy_nobody_is_asked_to_enrol(app, client, make_user):
    app.config["TOTP_REQUIRED_ROLES"] = ""
    user = make_user("admin")
    password_step(client, user)
    assert signed_in(client)


def test_anyone_may_enrol_from_my_account_and_is_then_asked_for_the_code(
        app, client, make_user, make_unit, login):
    reporter = make_user("reporter", unit=make_unit())
    login(reporter)
    with frozen_at(T0):
        html = client.get("/account").get_data(as_text=True)
        assert "设置身份验证器" in html
        page = client.get("/account/second-factor").get_data(as_text=True)
        secret = re.search(r"data-totp-secret>([A-Z2-7]+)<", page).group(1)
        shown = client.post("/account/second-factor", data={"code": code_at(secret, T0)})
        assert shown.status_code == 200 and "恢复码" in shown.get_data(as_text=True)
        assert "剩余恢复码：10" in client.get("/account").get_data(as_text=True)
    client.post("/logout")
    with frozen_at(T0 + timedelta(minutes=5)):
        response = password_step(client, reporter)
        assert location(response).endswith("/login/code")
        assert not signed_in(client)
        code_step(client, code_at(secret, T0 + timedelta(minutes=5)))
        assert signed_in(client)


# ---------------------------------------------------------------- sign-in with the factor


def test_sign_in_with_the_code_and_the_password_alone_is_not_enough(app, client, make_user,
                                                                   policy):
    user, secret, _codes = enrolled(make_user)
    with frozen_at(T0):
        response = password_step(client, user, next_url="/account")
        assert location(response).endswith("/login/code")
        assert client.get("/login/code").status_code == 200
        assert not signed_in(client)
        response = code_step(client, code_at(secret, T0))
        assert response.status_code == 302 and location(response).endswith("/account")
        assert signed_in(client)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.sign_in"))
    assert event.after == {"second_factor": "totp"}


def test_an_enrolled_user_of_any_role_is_asked_even_without_the_policy(app, client, make_user):
    user, secret, _codes = enrolled(make_user, "supervisor")
    with frozen_at(T0):
        assert location(password_step(client, user)).endswith("/login/code")
        code_step(client, code_at(secret, T0))
        assert signed_in(client)


def test_wrong_code_is_refused_and_counted(app, client, make_user, policy):
    user, secret, _codes = enrolled(make_user)
    with frozen_at(T0):
        password_step(client, user)
        wrong = code_step(client, "123456")
        assert wrong.status_code == 400
        assert "验证码错误或已使用" in wrong.get_data(as_text=True)
        assert not signed_in(client)
        assert code_step(client, "not a code").status_code == 400
        assert not signed_in(client)
    failures = db.session.scalar(select(db.func.count(LoginAttempt.id)).where(
        LoginAttempt.username == user.username, LoginAttempt.success.is_(False)))
    assert failures == 2


def test_a_code_from_long_ago_is_refused(app, client, make_user, policy):
    user, secret, _codes = enrolled(make_user)
    with frozen_at(T0):
        password_step(client, user)
        assert code_step(client, code_at(secret, T0 - timedelta(minutes=5))).status_code == 400
        assert not signed_in(client)


def test_a_code_accepted_once_cannot_be_replayed(app, client, make_user, policy):
    user, secret, _codes = enrolled(make_user)
    with frozen_at(T0):
        code = code_at(secret, T0)
        password_step(client, user)
        code_step(client, code)
        assert signed_in(client)
        client.post("/logout")
    # Someone who watched the code being typed tries it within the same 30 seconds ...
    thief = app.test_client()
    with frozen_at(T0 + timedelta(seconds=10)):
        password_step(thief, user, ip="10.0.0.9")
        replay = code_step(thief, code, ip="10.0.0.9")
        assert replay.status_code == 400
        assert not signed_in(thief)
    # ... and so does an older code of the drift window.
    with frozen_at(T0 + timedelta(seconds=20)):
        password_step(thief, user, ip="10.0.0.9")
        assert code_step(thief, code_at(secret, T0 - timedelta(seconds=30)),
                         ip="10.0.0.9").status_code == 400
    # The next code works.
    with frozen_at(T0 + timedelta(seconds=30)):
        password_step(client, user)
        code_step(client, code_at(secret, T0 + timedelta(seconds=30)))
        assert signed_in(client)


def test_the_code_step_needs_the_password_step_and_expires(app, client, make_user, policy):
    user, secret, _codes = enrolled(make_user)
    direct = client.get("/login/code")
    assert direct.status_code == 302 and location(direct).endswith("/login")
    with frozen_at(T0):
        password_step(client, user)
    later = T0 + timedelta(minutes=11)  # SIGN_IN_STEPS_MINUTES is 10
    with frozen_at(later):
        response = code_step(client, code_at(secret, later))
        assert response.status_code == 302 and location(response).endswith("/login")
        assert not signed_in(client)


def test_sign_out_from_the_code_step_forgets_the_password_step(app, client, make_user, policy):
    user, secret, _codes = enrolled(make_user)
    with frozen_at(T0):
        password_step(client, user)
        assert client.post("/login/cancel").status_code == 302
        response = code_step(client, code_at(secret, T0))
        assert location(response).endswith("/login")
        assert not signed_in(client)


def test_recovery_code_signs_in_once(app, client, make_user, policy):
    user, _secret, codes = enrolled(make_user)
    with frozen_at(T0):
        password_step(client, user)
        response = code_step(client, codes[3].lower().replace("-", " "))  # as typed off paper
        assert response.status_code == 302
        assert signed_in(client)
        assert "剩余恢复码：9" in client.get("/account").get_data(as_text=True)
        client.post("/logout")
        password_step(client, user)
        assert code_step(client, codes[3]).status_code == 400
        assert not signed_in(client)
    used = db.session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 1
    assert db.session.scalar(select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action == "user.recovery_code_use")) == 1


def test_wrong_codes_lock_the_account_like_wrong_passwords(app, client, make_user, policy):
    user, secret, codes = enrolled(make_user)
    with frozen_at(T0):
        password_step(client, user)
        for _ in range(5):
            assert code_step(client, "000000").status_code == 400
        # The sixth try is refused before any check, even with the right code.
        refused = code_step(client, code_at(secret, T0))
        assert refused.status_code == 302 and location(refused).endswith("/login")
        assert not signed_in(client)
        assert "登录失败次数过多" in client.get("/login").get_data(as_text=True)
        # Entering the password again does not reset the count: the account stays locked.
        assert password_step(client, user).status_code == 429
        assert password_step(client, user, ip="10.5.5.5").status_code == 429
    with frozen_at(T0 + timedelta(minutes=16)):
        password_step(client, user)
        code_step(client, codes[0])
        assert signed_in(client)


def test_regenerate_recovery_codes_needs_a_current_code_and_replaces_the_old(
        app, client, make_user, policy):
    user, secret, old_codes = enrolled(make_user)
    with frozen_at(T0):
        password_step(client, user)
        code_step(client, code_at(secret, T0))
    with frozen_at(T0 + timedelta(seconds=30)):
        wrong = client.post("/account/recovery-codes", data={"code": "000000"})
        assert wrong.status_code == 400
        shown = client.post("/account/recovery-codes",
                            data={"code": code_at(secret, T0 + timedelta(seconds=30))})
        assert shown.status_code == 200
        new_codes = re.findall(r"([A-Z2-9]{5}-[A-Z2-9]{5})", shown.get_data(as_text=True))
        assert len(set(new_codes)) == 10 and not set(new_codes) & set(old_codes)
        client.post("/logout")
        password_step(client, user)
        assert code_step(client, old_codes[0]).status_code == 400
        code_step(client, new_codes[0])
        assert signed_in(client)
    assert db.session.scalar(select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action == "user.recovery_codes_regenerate")) == 1


# ---------------------------------------------------------------- the administrator's reset


def test_admin_resets_a_second_factor_with_confirmation_and_an_audit_event(
        app, client, make_user, policy):
    admin, admin_secret, _ = enrolled(make_user, "admin", username="root_admin")
    user, secret, _codes = enrolled(make_user, "office")
    victim_browser = app.test_client()
    with frozen_at(T0):
        password_step(victim_browser, user, ip="10.0.0.2")
        code_step(victim_browser, code_at(secret, T0), ip="10.0.0.2")
        assert signed_in(victim_browser)
        password_step(client, admin)
        code_step(client, code_at(admin_secret, T0))
        page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
        assert "重置第二因素" in page
        url = f"/admin/users/{user.id}/second-factor/reset"
        # A GET changes nothing; a POST without the tick is refused; one without CSRF too.
        assert client.get(url).status_code == 405
        assert client.post(url, data={}).status_code == 400
        assert client.post(url, data={"confirm": "y"}, csrf=False).status_code == 400
        db.session.refresh(user)
        assert user.has_second_factor
        response = client.post(url, data={"confirm": "y"})
        assert response.status_code == 302
    user = db.session.get(User, user.id)
    assert user.totp_secret is None and not user.has_second_factor
    assert db.session.scalar(select(db.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id)) == 0
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "user.second_factor_reset"))
    assert event.actor_id == admin.id and event.object_id == user.id
    assert not signed_in(victim_browser)  # their sessions ended
    # The user enrols again at the next sign-in (the role requires it).
    with frozen_at(T0 + timedelta(minutes=1)):
        assert location(password_step(victim_browser, user, ip="10.0.0.2")).endswith(
            "/login/enrol")


def test_only_administrators_reset_and_not_their_own(app, client, make_user, login):
    user, _secret, _codes = enrolled(make_user, "office")
    other = make_user("supervisor")
    login(other)
    assert client.post(f"/admin/users/{user.id}/second-factor/reset",
                       data={"confirm": "y"}).status_code == 403
    client.post("/logout")
    admin, admin_secret, _ = enrolled(make_user, "admin")
    with frozen_at(T0):
        password_step(client, admin)
        code_step(client, code_at(admin_secret, T0))
        own = client.post(f"/admin/users/{admin.id}/second-factor/reset", data={"confirm": "y"})
    assert own.status_code == 400 and "另一位管理员" in own.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.has_second_factor


# ---------------------------------------------------------------- CSRF rotation


def test_the_csrf_token_from_before_sign_in_is_refused_after_it(app, client, make_user):
    user = make_user("office")
    before = client.csrf_token()
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                       "csrf_token": before}).status_code == 302
    stale = client.post("/account/language", data={"locale": "en", "csrf_token": before})
    assert stale.status_code == 400
    assert client.post("/account/language", data={"locale": "en"}).status_code == 302


def test_the_csrf_token_changes_at_each_step_of_a_two_step_sign_in(app, client, make_user,
                                                                  policy):
    user, secret, _codes = enrolled(make_user)
    with frozen_at(T0):
        before = client.csrf_token()
        password_step(client, user)
        # The token of the sign-in page does not carry over to the code step ...
        assert client.post("/login/code", data={"code": code_at(secret, T0),
                                                "csrf_token": before}).status_code == 400
        during = client.csrf_token()
        assert code_step(client, code_at(secret, T0)).status_code == 302
        assert signed_in(client)
        # ... and the code step's token does not carry over past the sign-in.
        assert client.post("/account/language", data={"locale": "en", "csrf_token": during}
                           ).status_code == 400


# ---------------------------------------------------------------- reads for the security page


def test_users_without_second_factor(app, make_user, make_unit, policy):
    office = make_user("office", username="office_a")
    enrolled(make_user, "admin", username="admin_b")
    leader = make_user("leader", username="leader_c")
    make_user("reporter", unit=make_unit(), username="reporter_d")
    gone = make_user("supervisor", username="supervisor_e")
    gone.active = False
    db.session.commit()
    assert [u.username for u in users_without_second_factor()] == [leader.username,
                                                                   office.username]
    assert count_users_without_second_factor() == 4
    app.config["TOTP_REQUIRED_ROLES"] = ""
    assert users_without_second_factor() == []
