"""Named permission rules, checked by views before any work (DESIGN.md §5).

Conventions: an object of another unit answers 404 (it "does not exist" for this user), a
forbidden action on a visible object answers 403. Areas add their rules below their own
section comment; each rule is a plain function of (user, object) returning bool.
"""

from flask import abort

from taskflow.accounts.models import UNIT_ROLES, Role

STAFF_ROLES = frozenset({Role.OFFICE, Role.SUPERVISOR, Role.ADMIN})
READ_ALL_ROLES = frozenset({Role.OFFICE, Role.SUPERVISOR, Role.LEADER, Role.ADMIN})


def require(allowed: bool) -> None:
    """403 unless allowed."""
    if not allowed:
        abort(403)


def require_visible(visible: bool) -> None:
    """404 unless the object is visible to the user (never reveal another unit's objects)."""
    if not visible:
        abort(404)


# ---------------------------------------------------------------- roles


def is_unit_user(user) -> bool:
    """A reporter or unit head: sees only its own unit."""
    return user.is_authenticated and user.role in UNIT_ROLES


def reads_everything(user) -> bool:
    """Office, supervisor, leader and admin read across units."""
    return user.is_authenticated and user.role in READ_ALL_ROLES


def is_office(user) -> bool:
    """The joint-meeting office (联席会议办公室)."""
    return user.is_authenticated and user.role == Role.OFFICE


def is_supervisor(user) -> bool:
    """The supervision team (督查组)."""
    return user.is_authenticated and user.role == Role.SUPERVISOR


def is_admin(user) -> bool:
    """The system administrator."""
    return user.is_authenticated and user.role == Role.ADMIN


# ---------------------------------------------------------------- units


def can_view_unit(user, unit_id: int | None) -> bool:
    """Own unit for unit users; any unit for the reading roles."""
    if reads_everything(user):
        return True
    return is_unit_user(user) and unit_id is not None and user.unit_id == unit_id


def acts_for_unit(user, unit_id: int | None) -> bool:
    """A reporter or unit head of exactly this unit."""
    return is_unit_user(user) and unit_id is not None and user.unit_id == unit_id


# ---------------------------------------------------------------- plans


def can_view_plan(user) -> bool:
    """Every signed-in user reads the plan, its tasks and its target table."""
    return user.is_authenticated


def can_edit_plan(user) -> bool:
    """The office keeps the plan, its assignments and milestones."""
    return is_office(user)


# ---------------------------------------------------------------- assignments and reporting


def can_view_assignment(user, assignment) -> bool:
    """Own unit's assignments; the task's lead unit reads its responsible units' too."""
    if can_view_unit(user, assignment.unit_id):
        return True
    return is_unit_user(user) and user.unit_id in lead_unit_ids(assignment.task_id)


def can_report(user, assignment) -> bool:
    """Report progress, upload evidence, ask for an extension: the assignment's own unit."""
    return acts_for_unit(user, assignment.unit_id)


def can_sign_off(user, assignment) -> bool:
    """The unit head approves the unit's submission before the office sees it."""
    return user.is_authenticated and user.role == Role.UNIT_HEAD and user.unit_id == assignment.unit_id


def can_review(user) -> bool:
    """Accept or return submissions, grant extensions: the office."""
    return is_office(user)


def lead_unit_ids(task_id: int) -> set[int]:
    """The units leading a key task (one indexed query)."""
    from sqlalchemy import select

    from taskflow.assignments.models import Assignment, AssignmentRole
    from taskflow.extensions import db

    return set(db.session.scalars(
        select(Assignment.unit_id).where(
            Assignment.task_id == task_id, Assignment.role == AssignmentRole.LEAD
        )
    ))


# ---------------------------------------------------------------- accounts and audit


def can_manage_users(user) -> bool:
    """Users, units and settings: the administrator."""
    return is_admin(user)


def can_view_audit(user) -> bool:
    """The audit trail: office, supervisor and admin."""
    return user.is_authenticated and user.role in STAFF_ROLES
