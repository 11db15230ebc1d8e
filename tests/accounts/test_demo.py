"""Demo accounts for `flask demo setup`."""

import pytest
from sqlalchemy import select

from taskflow.accounts.demo import create_demo_accounts
from taskflow.accounts.models import User
from taskflow.accounts.operations import AccountError
from taskflow.extensions import db


@pytest.fixture
def demo_units(make_unit):
    return {
        "古南街道": make_unit(name="古南街道", kind="street"),
        "三江街道": make_unit(name="三江街道", kind="street"),
        "区科技局": make_unit(name="区科技局", kind="department", peer_group="department"),
    }


def test_one_account_per_role_with_working_random_passwords(app, client, plan, demo_units):
    accounts = create_demo_accounts(plan)
    db.session.commit()
    by_name = {username: (password, role, unit) for username, password, role, unit in accounts}
    assert set(by_name) == {"reporter", "unit_head", "office", "supervisor", "leader", "admin",
                            "reporter_keji", "reporter_sanjiang"}
    assert {role for _, role, _ in by_name.values()} == {
        "reporter", "unit_head", "office", "supervisor", "leader", "admin"}
    assert by_name["reporter"][2] == "古南街道" and by_name["unit_head"][2] == "古南街道"
    assert by_name["reporter_keji"][2] == "区科技局"
    assert by_name["reporter_sanjiang"][2] == "三江街道"
    assert by_name["office"][2] is None
    passwords = [password for password, _, _ in by_name.values()]
    assert len(set(passwords)) == len(passwords) and all(len(p) >= 16 for p in passwords)
    user = db.session.scalar(select(User).where(User.username == "reporter_sanjiang"))
    assert user.unit_id == demo_units["三江街道"].id
    response = client.post("/login", data={"username": "reporter",
                                           "password": by_name["reporter"][0]})
    assert response.status_code == 302 and "/login" not in response.headers["Location"]


def test_office_roles_enrol_a_second_factor_at_first_sign_in(app, client, plan, demo_units):
    from config import Config

    app.config["TOTP_REQUIRED_ROLES"] = Config.TOTP_REQUIRED_ROLES  # the development policy
    accounts = {username: password for username, password, _, _ in create_demo_accounts(plan)}
    db.session.commit()
    for username in ("office", "supervisor", "leader", "admin"):
        fresh = app.test_client()
        response = fresh.post("/login", data={"username": username,
                                              "password": accounts[username]})
        assert response.headers["Location"].endswith("/login/enrol"), username
    response = client.post("/login", data={"username": "unit_head",
                                           "password": accounts["unit_head"]})
    assert "/login" not in response.headers["Location"]


def test_nothing_is_created_when_users_exist(app, plan, demo_units, make_user):
    make_user("admin")
    assert create_demo_accounts(plan) == []
    assert db.session.scalar(select(db.func.count(User.id))) == 1


def test_missing_unit_is_named(app, plan, make_unit):
    make_unit(name="古南街道")
    with pytest.raises(AccountError) as caught:
        create_demo_accounts(plan)
    assert "区科技局" in str(caught.value)
