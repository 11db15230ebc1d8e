"""`flask users create`, `flask users list` and `flask users reset-second-factor`."""

import pytest
from sqlalchemy import func, select

from taskflow.accounts.models import User
from taskflow.audit.models import AuditEvent
from taskflow.core.passwords import verify_password
from taskflow.extensions import db
from taskflow.units.models import UnitAlias

STRONG = "river-lantern-47"


def create(runner, *args):
    return runner.invoke(args=["users", "create", *args])


def test_create_office_user(runner):
    result = create(runner, "--username", "office_wang", "--password", STRONG, "--role", "office",
                    "--display-name", "王主任", "--email", "wang@qj.gov.cn")
    assert result.exit_code == 0, result.output
    assert "created office_wang (office)" in result.output
    user = db.session.scalar(select(User).where(User.username == "office_wang"))
    assert user.display_name == "王主任" and user.email == "wang@qj.gov.cn"
    assert verify_password(user.password_hash, STRONG)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert event.actor_id is None and event.actor_name == "system"


def test_create_reporter_by_unit_name_and_by_alias(runner, make_unit):
    bureau = make_unit(name="区大数据发展局", kind="department", peer_group="department")
    db.session.add(UnitAlias(plan_id=bureau.plan_id, unit_id=bureau.id, alias="区大数据局"))
    db.session.commit()
    result = create(runner, "--username", "bd_rep", "--password", STRONG, "--role", "reporter",
                    "--unit", "区大数据发展局")
    assert result.exit_code == 0, result.output
    result = create(runner, "--username", "bd_head", "--password", STRONG, "--role", "unit_head",
                    "--unit", "区大数据局")
    assert result.exit_code == 0, result.output
    assert "in 区大数据发展局" in result.output
    units = db.session.scalars(select(User.unit_id).where(User.username.in_(["bd_rep",
                                                                             "bd_head"])))
    assert set(units) == {bureau.id}


@pytest.mark.parametrize("args, message", [
    (["--role", "reporter", "--unit", "不存在的镇"], "unknown unit: '不存在的镇'"),
    (["--role", "reporter"], "必须选择所属单位"),
    (["--role", "office", "--unit", "古南街道"], "只有填报员和单位负责人才隶属于单位"),
    (["--role", "office", "--password", "password2024"], "过于常见"),
    (["--role", "office", "--password", "short"], "至少 10 个字符"),
    (["--role", "office", "--password", "cli_user_1"], "不能与用户名相同"),
    (["--role", "office", "--username", "taken_name"], "已被使用"),
    (["--role", "office", "--username", "bad name!"], "用户名为 3 至 80 个字符"),
])
def test_create_refusals(runner, make_unit, make_user, args, message):
    make_unit(name="古南街道")
    make_user("leader", username="taken_name")
    base = {"--username": "cli_user_1", "--password": STRONG}
    pairs = dict(zip(args[::2], args[1::2]))
    merged = {**base, **pairs}
    argv = [item for pair in merged.items() for item in pair]
    result = create(runner, *argv)
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert db.session.scalar(select(db.func.count(User.id))) == 1


def test_unknown_role_is_refused(runner):
    result = create(runner, "--username", "x_user", "--password", STRONG, "--role", "boss")
    assert result.exit_code != 0 and "boss" in result.output


def test_unit_needs_a_district_plan(runner, make_plan):
    make_plan(code="city", level="city")
    result = create(runner, "--username", "x_user", "--password", STRONG, "--role", "reporter",
                    "--unit", "古南街道")
    assert result.exit_code != 0 and "no district plan" in result.output


def test_ambiguous_unit_across_two_district_plans(runner, make_plan, make_unit):
    second = make_plan(code="second")
    make_unit(name="古南街道")
    make_unit(name="古南街道", plan_id=second.id)
    result = create(runner, "--username", "x_user", "--password", STRONG, "--role", "reporter",
                    "--unit", "古南街道")
    assert result.exit_code != 0 and "ambiguous" in result.output


def test_unit_of_a_city_plan_is_not_found(runner, make_plan, make_unit):
    city = make_plan(code="city", level="city")
    make_unit(name="古南街道")
    make_unit(name="綦江区", plan_id=city.id, kind="district", peer_group="new_urban")
    result = create(runner, "--username", "x_user", "--password", STRONG, "--role", "reporter",
                    "--unit", "綦江区")
    assert result.exit_code != 0 and "unknown unit" in result.output


def test_list_users(runner, make_user, make_unit):
    town = make_unit(name="古南街道")
    assert runner.invoke(args=["users", "list"]).output.strip() == "no users"
    make_user("reporter", unit=town, username="gunan_rep")
    make_user("admin", username="sys_admin")
    output = runner.invoke(args=["users", "list"]).output
    lines = output.strip().splitlines()
    assert lines[0].split()[:4] == ["username", "role", "unit", "status"]
    assert any("gunan_rep" in line and "古南街道" in line and "active" in line for line in lines)
    assert any("sys_admin" in line and "admin" in line for line in lines)


def test_reset_second_factor_from_the_command_line(runner, make_user):
    import pyotp

    from taskflow.accounts.operations import confirm_second_factor, new_totp_secret

    admin = make_user("admin", username="only_admin")
    secret = new_totp_secret()
    confirm_second_factor(admin, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    result = runner.invoke(args=["users", "reset-second-factor", "only_admin"])
    assert result.exit_code == 0, result.output
    db.session.refresh(admin)
    assert not admin.has_second_factor
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "user.second_factor_reset"))
    assert event.actor_name == "system" and event.object_id == admin.id
    again = runner.invoke(args=["users", "reset-second-factor", "only_admin"])
    assert again.exit_code != 0 and "没有可重置" in again.output
    unknown = runner.invoke(args=["users", "reset-second-factor", "nobody"])
    assert unknown.exit_code != 0 and "unknown user" in unknown.output


def test_prune_attempts_keeps_the_security_log_retention(runner):
    from datetime import timedelta

    from taskflow.accounts.models import LoginAttempt
    from taskflow.core import clock

    now = clock.utcnow()
    for days in (10, 179, 181, 400):
        db.session.add(LoginAttempt(username=f"u{days}", ip="10.0.0.1", success=False,
                                    attempted_at=now - timedelta(days=days)))
    db.session.commit()

    refused = runner.invoke(args=["users", "prune-attempts", "--days", "90"])
    assert refused.exit_code != 0 and "180" in refused.output
    assert db.session.scalar(select(func.count(LoginAttempt.id))) == 4

    result = runner.invoke(args=["users", "prune-attempts"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 " in result.output
    kept = set(db.session.scalars(select(LoginAttempt.username)))
    assert kept == {"u10", "u179"}
