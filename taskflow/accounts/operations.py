"""Writes on users: create, sign-in bookkeeping."""

from sqlalchemy import select

from taskflow.accounts.models import UNIT_ROLES, Role, User
from taskflow.core import audit, clock
from taskflow.core.passwords import hash_password, needs_rehash, verify_password
from taskflow.extensions import db
from taskflow.units.models import Unit


class AccountError(ValueError):
    """A request about an account that cannot be carried out, with a message for the user."""


def create_user(
    username: str,
    password: str,
    role: str,
    *,
    unit: Unit | None = None,
    display_name: str = "",
    email: str | None = None,
    actor=None,
) -> User:
    """Create a user; reporters and unit heads must belong to a unit, others must not."""
    if role not in {r.value for r in Role}:
        raise AccountError(f"unknown role: {role}")
    if role in UNIT_ROLES and unit is None:
        raise AccountError(f"role {role} needs a unit")
    if role not in UNIT_ROLES and unit is not None:
        raise AccountError(f"role {role} does not belong to a unit")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"username already taken: {username}")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        unit=unit,
        display_name=display_name or username,
        email=email,
    )
    db.session.add(user)
    audit.record(actor, "user.create", user, after={"username": username, "role": role,
                                                     "unit": unit.name if unit else None})
    return user


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None; upgrades an outdated hash."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not verify_password(user.password_hash, password):
        return None
    if not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = clock.utcnow()
    return user
