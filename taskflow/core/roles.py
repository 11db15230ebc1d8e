"""The roles a user can hold (DESIGN.md §2); what each may do is in core/permissions.py."""

from enum import StrEnum


class Role(StrEnum):
    """What a user may do (DESIGN.md §2)."""

    REPORTER = "reporter"
    UNIT_HEAD = "unit_head"
    OFFICE = "office"
    SUPERVISOR = "supervisor"
    LEADER = "leader"
    ADMIN = "admin"


UNIT_ROLES = frozenset({Role.REPORTER, Role.UNIT_HEAD})


def role_of(user) -> Role | None:
    """The signed-in user's role (None when signed out), for labels, logs and start pages."""
    if not user.is_authenticated:
        return None
    try:
        return Role(user.role)
    except ValueError:
        return None
