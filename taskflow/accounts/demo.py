"""Demo accounts, one per role, for `flask demo setup` (`make run`)."""

import secrets

from taskflow.accounts.operations import AccountError, create_user
from taskflow.accounts.queries import user_count
from taskflow.units.queries import unit_by_name

# (username, role, unit name or None, display name, mobile number). The numbers are made up
# (valid in form, 1380000xxxx, so the robots' @-mentions can be tried); no real person's.
DEMO_ACCOUNTS = (
    ("reporter", "reporter", "古南街道", "古南街道填报员", "13800000101"),
    ("unit_head", "unit_head", "古南街道", "古南街道负责人", "13800000102"),
    ("reporter_keji", "reporter", "区科技局", "区科技局填报员", "13800000201"),
    ("reporter_sanjiang", "reporter", "三江街道", "三江街道填报员", "13800000301"),
    ("office", "office", None, "联席会议办公室", "13800000401"),
    ("supervisor", "supervisor", None, "督查组", "13800000501"),
    ("leader", "leader", None, "区领导", None),
    ("admin", "admin", None, "系统管理员", None),
)


def create_demo_accounts(district_plan) -> list[tuple[str, str, str, str | None]]:
    """Create one account per role when no user exists yet; (username, password, role, unit).

    Passwords are random (secrets.token_urlsafe); the caller prints them and commits. The
    development policy applies as configured: office, supervisor, leader and admin enrol an
    authenticator app at their first sign-in (TOTP_REQUIRED_ROLES). Returns
    an empty list, creating nothing, when any user already exists. A unit missing from the plan
    raises AccountError naming it.
    """
    if user_count() > 0:
        return []
    created = []
    for username, role, unit_name, display_name, mobile in DEMO_ACCOUNTS:
        unit = None
        if unit_name is not None:
            unit = unit_by_name(district_plan.id, unit_name)
            if unit is None:
                raise AccountError(f"demo accounts: unit {unit_name} is not in plan "
                                   f"{district_plan.code}")
        password = secrets.token_urlsafe(12)
        create_user(username, password, role, unit=unit, display_name=display_name,
                    mobile=mobile)
        created.append((username, password, role, unit_name))
    return created
