"""Sign-in throttling per account and per IP, counted in the database (so across workers)."""

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from taskflow.accounts.models import LoginAttempt
from taskflow.core.clock import frozen_at
from taskflow.extensions import db
from tests.helpers import TEST_PASSWORD

T0 = datetime(2024, 5, 6, 2, 0, tzinfo=timezone.utc)  # 10:00 in Qijiang


def post_login(client, username, password, ip="10.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def signed_in(response) -> bool:
    return response.status_code == 302 and "/login" not in response.headers["Location"]


def test_account_locks_after_max_failures_even_with_the_right_password(app, client, make_user):
    user = make_user("office")
    with frozen_at(T0):
        for _ in range(5):
            response = post_login(client, user.username, "wrong-password")
            assert response.status_code == 200
            assert "用户名或密码错误" in response.get_data(as_text=True)
        refused = post_login(client, user.username, TEST_PASSWORD)
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "登录失败次数过多" in page and "15 分钟后" in page and "10:15" in page
    # Refused attempts are not counted, so the lock lifts when the window has passed.
    assert db.session.scalar(select(db.func.count(LoginAttempt.id))) == 5
    with frozen_at(T0 + timedelta(minutes=14, seconds=59)):
        assert post_login(client, user.username, TEST_PASSWORD).status_code == 429
    with frozen_at(T0 + timedelta(minutes=15, seconds=1)):
        assert signed_in(post_login(client, user.username, TEST_PASSWORD))


def test_account_lock_holds_from_every_ip_and_for_unknown_usernames(app, client, make_user):
    user = make_user("office")
    with frozen_at(T0):
        for i in range(5):
            post_login(client, user.username, "wrong-password", ip=f"10.0.1.{i}")
            post_login(client, "nobody-here", "wrong-password", ip=f"10.0.2.{i}")
        assert post_login(client, user.username, TEST_PASSWORD, ip="10.9.9.9").status_code == 429
        # An unknown name is locked the same way, so the answer never tells names apart.
        assert post_login(client, "nobody-here", "x", ip="10.9.9.8").status_code == 429


def test_failures_below_the_limit_then_success_start_the_account_count_afresh(
        app, client, make_user):
    user = make_user("office")
    with frozen_at(T0):
        for _ in range(4):
            post_login(client, user.username, "wrong-password")
        assert signed_in(post_login(client, user.username, TEST_PASSWORD))
        client.post("/logout")
        for _ in range(4):
            post_login(client, user.username, "wrong-password")
        assert signed_in(post_login(client, user.username, TEST_PASSWORD))


def test_ip_locks_after_max_failures_and_success_does_not_reset_it(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 6
    app.config["LOGIN_IP_MIN_DISTINCT_ACCOUNTS"] = 6
    victim, own = make_user("office"), make_user("supervisor")
    with frozen_at(T0):
        for i in range(3):
            post_login(client, f"guess{i}", "wrong-password")
        # A successful sign-in of some account from this IP does not wipe its failures …
        assert signed_in(post_login(client, own.username, TEST_PASSWORD))
        client.post("/logout")
        for i in range(3, 6):
            post_login(client, f"guess{i}", "wrong-password")
        # … so the IP is now blocked for every account, right password or not.
        refused = post_login(client, victim.username, TEST_PASSWORD)
        assert refused.status_code == 429
        assert post_login(client, own.username, TEST_PASSWORD).status_code == 429
        # Another IP is unaffected.
        assert signed_in(post_login(app.test_client(), victim.username, TEST_PASSWORD,
                                    ip="10.0.0.2"))


def test_colleagues_behind_one_nat_mistyping_do_not_lock_the_address(app, client, make_user):
    """The district office signs in from one address: 9 people failing 4 times each (36
    failures, once enough to lock the whole IP at 20) lock nobody but leave the IP open."""
    assert app.config["LOGIN_MAX_FAILURES_PER_IP"] == 100
    assert app.config["LOGIN_IP_MIN_DISTINCT_ACCOUNTS"] == 10
    colleagues = [make_user("office") for _ in range(9)]
    newcomer = make_user("supervisor")
    with frozen_at(T0):
        for user in colleagues:
            for _ in range(4):
                assert post_login(client, user.username, "wrong-password",
                                  ip="10.20.0.1").status_code == 200
        for user in colleagues + [newcomer]:
            assert signed_in(post_login(app.test_client(), user.username, TEST_PASSWORD,
                                        ip="10.20.0.1"))


def test_password_spraying_from_one_address_still_locks_it(app, client, make_user):
    """Many failures against many accounts (LOGIN_MAX_FAILURES_PER_IP over at least
    LOGIN_IP_MIN_DISTINCT_ACCOUNTS names) lock the address for everyone."""
    user = make_user("office")
    with frozen_at(T0):
        # 99 earlier failures against 99 names from this address (as the table holds them).
        db.session.add_all(LoginAttempt(username=f"name{i}", ip="10.30.0.1", success=False,
                                        attempted_at=T0 - timedelta(minutes=5))
                           for i in range(99))
        db.session.commit()
        assert signed_in(post_login(client, user.username, TEST_PASSWORD, ip="10.30.0.1"))
        client.post("/logout")
        post_login(client, "name99", "wrong-password", ip="10.30.0.1")  # the 100th
        refused = post_login(client, user.username, TEST_PASSWORD, ip="10.30.0.1")
        assert refused.status_code == 429
        assert signed_in(post_login(client, user.username, TEST_PASSWORD, ip="10.30.0.2"))
    with frozen_at(T0 + timedelta(minutes=11)):  # the oldest failure leaves the window
        assert signed_in(post_login(app.test_client(), user.username, TEST_PASSWORD,
                                    ip="10.30.0.1"))


def test_many_failures_against_few_accounts_do_not_lock_the_address(app, client, make_user):
    """100 failures naming fewer than 10 accounts are the accounts' business (each locks
    itself), not the address's."""
    user = make_user("office")
    with frozen_at(T0):
        db.session.add_all(LoginAttempt(username=f"name{i % 9}", ip="10.40.0.1", success=False,
                                        attempted_at=T0 - timedelta(minutes=1))
                           for i in range(150))
        db.session.commit()
        assert signed_in(post_login(client, user.username, TEST_PASSWORD, ip="10.40.0.1"))


def test_throttling_holds_across_two_app_instances(app, client, make_user, second_app):
    """Two workers share the counter because it lives in the database."""
    user = make_user("office")
    with second_app() as other_app:
        other = other_app.test_client()
        with frozen_at(T0):
            for _ in range(3):
                post_login(client, user.username, "wrong-password", ip="10.0.0.1")
            for _ in range(2):
                post_login(other, user.username, "wrong-password", ip="10.0.0.2")
            assert post_login(client, user.username, TEST_PASSWORD).status_code == 429
            assert post_login(other, user.username, TEST_PASSWORD,
                              ip="10.0.0.3").status_code == 429
        with frozen_at(T0 + timedelta(minutes=16)):
            assert signed_in(post_login(other, user.username, TEST_PASSWORD))


def test_ip_throttling_holds_across_two_app_instances(app, client, make_user, second_app):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 4
    app.config["LOGIN_IP_MIN_DISTINCT_ACCOUNTS"] = 4
    user = make_user("office")
    with second_app() as other_app:
        other_app.config["LOGIN_MAX_FAILURES_PER_IP"] = 4
        other_app.config["LOGIN_IP_MIN_DISTINCT_ACCOUNTS"] = 4
        other = other_app.test_client()
        with frozen_at(T0):
            post_login(client, "a1", "wrong", ip="10.7.7.7")
            post_login(other, "a2", "wrong", ip="10.7.7.7")
            post_login(client, "a3", "wrong", ip="10.7.7.7")
            post_login(other, "a4", "wrong", ip="10.7.7.7")
            assert post_login(client, user.username, TEST_PASSWORD,
                              ip="10.7.7.7").status_code == 429
            assert post_login(other, user.username, TEST_PASSWORD,
                              ip="10.7.7.7").status_code == 429


def test_every_attempt_is_recorded_and_logged(app, client, make_user, caplog):
    user = make_user("office")
    with caplog.at_level(logging.INFO, logger="taskflow.auth"):
        post_login(client, user.username, "wrong-password", ip="10.3.3.3")
        post_login(client, user.username, TEST_PASSWORD, ip="10.3.3.3")
    rows = db.session.execute(
        select(LoginAttempt.username, LoginAttempt.ip, LoginAttempt.success)
        .order_by(LoginAttempt.id)).all()
    assert [tuple(r) for r in rows] == [(user.username, "10.3.3.3", False),
                                         (user.username, "10.3.3.3", True)]
    messages = [r.getMessage() for r in caplog.records if r.name == "taskflow.auth"]
    assert any("sign-in failed" in m and user.username in m for m in messages)
    assert any(m.startswith("sign-in ") and "from 10.3.3.3" in m and "failed" not in m
               for m in messages)


def test_disabled_account_is_refused_with_its_own_message(app, client, make_user):
    user = make_user("office")
    user.active = False
    db.session.commit()
    response = post_login(client, user.username, TEST_PASSWORD)
    assert response.status_code == 200
    assert "账号已停用" in response.get_data(as_text=True)
    # A wrong password on a disabled account says nothing about the account.
    response = post_login(client, user.username, "wrong-password")
    assert "用户名或密码错误" in response.get_data(as_text=True)
