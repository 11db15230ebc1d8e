"""Reads about users and the units they can belong to."""

from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, undefer

from taskflow.accounts.models import RecoveryCode, User
from taskflow.core import crypto
from taskflow.extensions import db
from taskflow.plans.models import Plan
from taskflow.units.models import PeerGroup, Unit, UnitAlias


def _mobile_or_none(text: str) -> str | None:
    from taskflow.accounts.operations import normalise_mobile

    try:
        return normalise_mobile(text)
    except ValueError:
        return None


def users_query(*, role: str | None = None, unit_id: int | None = None,
                search: str | None = None, active: bool | None = None) -> Select:
    """Users matching the filters with their unit loaded, by role then username."""
    query = select(User).options(joinedload(User.unit), undefer(User.mobile))
    if role:
        query = query.where(User.role == role)
    if unit_id:
        query = query.where(User.unit_id == unit_id)
    if active is not None:
        query = query.where(User.active.is_(active))
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = [User.username.ilike(pattern, escape="\\"),
                   User.display_name.ilike(pattern, escape="\\")]
        # A whole mobile number finds its account by the blind index (numbers are encrypted).
        number = _mobile_or_none(search)
        if number is not None:
            matches.append(User.mobile_index.in_(crypto.blind_indexes(number)))
        query = query.where(or_(*matches))
    return query.order_by(User.role, User.username)


def district_plans() -> list[Plan]:
    """Every district-level plan (usually one)."""
    return list(db.session.scalars(select(Plan).where(Plan.level == "district").order_by(Plan.id)))


def district_units() -> list[tuple[Unit, str]]:
    """(unit, plan title) for the units users can belong to: those of the district plans,
    by plan, peer group and the plan's order."""
    order = {group: i for i, group in enumerate(PeerGroup)}
    rows = list(db.session.execute(
        select(Unit, Plan.title).join(Plan, Plan.id == Unit.plan_id).where(Plan.level == "district")
    ).tuples())
    rows.sort(key=lambda r: (r[0].plan_id, order.get(r[0].peer_group, len(order)),
                             r[0].sort_order, r[0].name))
    return rows


def is_district_unit(unit_id: int) -> bool:
    """True when the unit belongs to a district plan."""
    return db.session.scalar(
        select(func.count(Unit.id)).join(Plan, Plan.id == Unit.plan_id)
        .where(Unit.id == unit_id, Plan.level == "district")
    ) == 1


def find_district_units(name: str) -> list[Unit]:
    """District-plan units whose canonical name or alias is exactly this name (one per plan)."""
    name = name.strip()
    by_name = select(Unit.id).join(Plan, Plan.id == Unit.plan_id).where(
        Plan.level == "district", Unit.name == name)
    by_alias = select(UnitAlias.unit_id).join(Plan, Plan.id == UnitAlias.plan_id).where(
        Plan.level == "district", UnitAlias.alias == name)
    return list(db.session.scalars(
        select(Unit).where(or_(Unit.id.in_(by_name), Unit.id.in_(by_alias))).order_by(Unit.plan_id)
    ))


def user_count() -> int:
    """How many users exist."""
    return db.session.scalar(select(func.count(User.id))) or 0


def recovery_codes_left(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return db.session.scalar(
        select(func.count(RecoveryCode.id))
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def _not_enrolled():
    return User.totp_confirmed_at.is_(None)


def users_without_second_factor() -> list[User]:
    """Active users whose role requires a second factor (TOTP_REQUIRED_ROLES) and who have not
    enrolled, by role and username."""
    from taskflow.accounts.operations import totp_required_roles

    roles = sorted(totp_required_roles())
    if not roles:
        return []
    return list(db.session.scalars(
        select(User).where(User.active.is_(True), User.role.in_(roles), _not_enrolled())
        .order_by(User.role, User.username)))


def count_users_without_second_factor() -> int:
    """How many users, of any role and active or not, have no second factor."""
    return db.session.scalar(select(func.count(User.id)).where(_not_enrolled())) or 0


def users_with_expired_password(as_of: datetime) -> list[User]:
    """Active users whose password is older than PASSWORD_MAX_AGE_DAYS at `as_of`, or who must
    change an administrator's temporary password (empty when expiry is off and none must)."""
    from flask import current_app

    days = int(current_app.config["PASSWORD_MAX_AGE_DAYS"])
    conditions = [User.must_change_password.is_(True)]
    if days > 0:
        cutoff = as_of - timedelta(days=days)
        conditions.append(func.coalesce(User.password_changed_at, User.created_at) < cutoff)
    return list(db.session.scalars(
        select(User).where(User.active.is_(True), or_(*conditions))
        .order_by(User.role, User.username)))
