"""Writes on users: create, edit, passwords, sessions, sign-in bookkeeping and throttling.

Every function flushes and audits; the caller (a view or a command) commits once.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from taskflow.accounts.models import UNIT_ROLES, LoginAttempt, Role, User
from taskflow.core import audit, clock, crypto
from taskflow.core.passwords import (
    burn_verify,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from taskflow.extensions import db
from taskflow.units.models import Unit

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{3,80}$")
LOCALES = ("zh_CN", "en")
# A mainland mobile number (11 digits); spaces, dashes and a +86/0086 prefix are dropped first.
MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
_KEEP = object()  # update_user(mobile=...) not given: the number stays as it is

# Built lazily so the messages render in the reader's language (and need no request here).
PASSWORD_MESSAGES = {
    "too_short": lambda n: _l("The password must have at least %(n)d characters.", n=n),
    "too_long": lambda n: _l("The password must have at most %(n)d characters.", n=n),
    "same_as_username": lambda: _l("The password must not be the same as the username."),
    "too_simple": lambda: _l("The password is too simple: use more different characters."),
    "only_digits": lambda: _l("The password must not consist of digits only."),
    "common": lambda: _l("This password is too common and easy to guess. Choose another one."),
}


class AccountError(ValueError):
    """A request about an account that cannot be carried out, with a message for the user."""

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field  # the form field the message belongs to, when there is one

    def __str__(self) -> str:
        return str(self.message)


class EditConflict(AccountError):
    """The account changed since the form was made from it."""


class WrongPassword(AccountError):
    """The password given to confirm an action is wrong (counted like a failed sign-in)."""


def password_error(password: str, username: str | None = None):
    """The message explaining why a password is refused, or None when it is acceptable."""
    problem = password_problem(password, username=username)
    if problem is None:
        return None
    code, params = problem
    return PASSWORD_MESSAGES[code](**params)


def _check_password(password: str, username: str, field: str = "password") -> None:
    message = password_error(password, username)
    if message is not None:
        raise AccountError(message, field=field)


def _check_role_and_unit(role: str, unit: Unit | None) -> None:
    if role not in {r.value for r in Role}:
        raise AccountError(_l("Unknown role: %(role)s", role=role), field="role")
    if role in UNIT_ROLES and unit is None:
        raise AccountError(_l("A reporter or unit head must belong to a unit."), field="unit_id")
    if role not in UNIT_ROLES and unit is not None:
        raise AccountError(_l("Only reporters and unit heads belong to a unit."), field="unit_id")


def normalise_mobile(value: str | None) -> str | None:
    """The 11 digits of a mainland mobile number, None for an empty value; ValueError otherwise."""
    number = re.sub(r"[\s\-]", "", value or "")
    if not number:
        return None
    number = re.sub(r"^(\+86|0086)", "", number)
    if not MOBILE_PATTERN.match(number):
        raise ValueError("not a mainland mobile number")
    return number


def mask_mobile(number: str | None) -> str | None:
    """138****1234: what lists and audit events show of a mobile number."""
    if not number:
        return None
    return f"{number[:3]}****{number[-4:]}" if len(number) >= 7 else "****"


def _set_mobile(user: User, value: str | None) -> bool:
    """Store a (normalised) mobile number and its blind index; True when it changed."""
    try:
        number = normalise_mobile(value)
    except ValueError:
        raise AccountError(_l("Enter an 11-digit mainland mobile number, e.g. 13812345678."),
                           field="mobile") from None
    if number is None and user.mobile_index is None:
        return False
    # The same number under the old key (a rotation pending) is unchanged too.
    if number is not None and user.mobile_index in crypto.blind_indexes(number):
        return False
    user.mobile, user.mobile_index = number, crypto.blind_index(number)
    return True


def user_snapshot(user: User) -> dict:
    """What an audit event shows of a user (never the password hash, the mobile number masked)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "unit": user.unit.name if user.unit else None,
        "active": user.active,
        "locale": user.locale,
        "mobile": mask_mobile(user.mobile),
    }


def create_user(
    username: str,
    password: str,
    role: str,
    *,
    unit: Unit | None = None,
    display_name: str = "",
    email: str | None = None,
    actor=None,
    mobile: str | None = None,
) -> User:
    """Create a user; reporters and unit heads must belong to a unit, others must not."""
    username = (username or "").strip()
    if not USERNAME_PATTERN.match(username):
        raise AccountError(_l(
            "A username has 3 to 80 characters: letters, digits, dot, dash or underscore."),
            field="username")
    _check_role_and_unit(role, unit)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(_l("The username %(username)s is already taken.", username=username),
                           field="username")
    _check_password(password, username)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        unit=unit,
        display_name=(display_name or "").strip() or username,
        email=(email or "").strip() or None,
        active=True,
        session_version=1,
    )
    _set_mobile(user, mobile)
    db.session.add(user)
    audit.record(actor, "user.create", user, after=user_snapshot(user),
                 summary=f"{username} ({role})")
    return user


def end_sessions(user: User) -> None:
    """Make every existing session of this user invalid (the user loader checks the version)."""
    user.session_version = (user.session_version or 0) + 1


def update_user(
    user: User,
    *,
    display_name: str,
    email: str | None,
    role: str,
    unit: Unit | None,
    active: bool,
    actor,
    expected_version: int | None = None,
    mobile=_KEEP,
) -> bool:
    """Change a user's details; disabling ends the user's sessions. True when anything changed.

    `expected_version` is the account's version the edit form was made from: when someone saved
    the account since, the edit is refused (EditConflict) and nothing is written."""
    if expected_version is not None and expected_version != user.version:
        raise EditConflict(_l("Someone else changed this account in the meantime. What is saved "
                              "now is shown above your entries: check it, then save again."))
    _check_role_and_unit(role, unit)
    if actor is not None and actor.id == user.id:
        if role != user.role:
            raise AccountError(_l("You cannot change your own role."), field="role")
        if not active:
            raise AccountError(_l("You cannot disable your own account."), field="active")
    before = user_snapshot(user)
    was_active = user.active
    user.display_name = (display_name or "").strip() or user.username
    user.email = (email or "").strip() or None
    user.role = role
    user.unit = unit
    user.active = active
    # A change of a middle digit keeps the mask: the blind index tells that the number changed.
    mobile_changed = mobile is not _KEEP and _set_mobile(user, mobile)
    after = user_snapshot(user)
    if before == after and not mobile_changed:
        return False
    user.version += 1
    if was_active and not active:
        end_sessions(user)
    changed = {k: v for k, v in after.items()
               if before[k] != v or (k == "mobile" and mobile_changed)}
    audit.record(actor, "user.update", user, before={k: before[k] for k in changed}, after=changed,
                 summary=user.username)
    return True


def change_password(user: User, current_password: str, new_password: str) -> None:
    """The user changes their own password; every session of the user ends."""
    if not verify_password(user.password_hash, current_password):
        raise WrongPassword(_l("The current password is wrong."), field="current_password")
    if new_password == current_password:
        raise AccountError(_l("The new password must differ from the current one."),
                           field="new_password")
    _check_password(new_password, user.username, field="new_password")
    user.password_hash = hash_password(new_password)
    end_sessions(user)
    audit.record(user, "user.password_change", user, summary=user.username)


def reset_password(user: User, new_password: str, *, actor) -> None:
    """An administrator sets a new password for someone else; that user's sessions end."""
    if actor is not None and actor.id == user.id:
        raise AccountError(_l("To change your own password, use My account."))
    _check_password(new_password, user.username, field="new_password")
    user.password_hash = hash_password(new_password)
    end_sessions(user)
    audit.record(actor, "user.password_reset", user, summary=user.username)


def set_user_locale(user: User, locale: str) -> None:
    """Save the user's interface language."""
    if locale not in LOCALES:
        raise AccountError(_l("Unknown language: %(locale)s", locale=locale))
    if user.locale == locale:
        return
    before = {"locale": user.locale}
    user.locale = locale
    audit.record(user, "user.locale", user, before=before, after={"locale": locale},
                 summary=user.username)


def sign_out(user: User) -> None:
    """End the user's sessions: a copied session cookie stops working after sign-out."""
    end_sessions(user)
    audit.record(user, "user.sign_out", user, summary=user.username)


# ---------------------------------------------------------------- sign-in and throttling


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


def throttled_until(username: str, ip: str, now: datetime | None = None) -> datetime | None:
    """When sign-in may be tried again for this account and IP, or None when it may now.

    An account is locked after LOGIN_MAX_FAILURES_PER_ACCOUNT failures within the window (its
    own successful sign-in starts the count afresh); an IP after LOGIN_MAX_FAILURES_PER_IP
    failures within the window, whoever signs in successfully from it meanwhile.
    """
    now = now or clock.utcnow()
    window = timedelta(minutes=_setting("LOGIN_THROTTLE_WINDOW_MINUTES", 15))
    since = now - window
    max_account = _setting("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    max_ip = _setting("LOGIN_MAX_FAILURES_PER_IP", 20)
    until: datetime | None = None

    last_success = (
        select(LoginAttempt.attempted_at)
        .where(LoginAttempt.username == username, LoginAttempt.success.is_(True),
               LoginAttempt.attempted_at >= since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    account_failures = list(db.session.scalars(
        select(LoginAttempt.attempted_at)
        .where(LoginAttempt.username == username, LoginAttempt.success.is_(False),
               LoginAttempt.attempted_at >= since,
               (LoginAttempt.attempted_at > last_success) | last_success.is_(None))
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(max_account)
    ))
    if max_account > 0 and len(account_failures) >= max_account:
        until = account_failures[-1] + window

    ip_failures = list(db.session.scalars(
        select(LoginAttempt.attempted_at)
        .where(LoginAttempt.ip == ip, LoginAttempt.success.is_(False),
               LoginAttempt.attempted_at >= since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(max_ip)
    ))
    if max_ip > 0 and len(ip_failures) >= max_ip:
        ip_until = ip_failures[-1] + window
        until = max(until, ip_until) if until else ip_until
    return until if until and until > now else None


def record_login_attempt(username: str, ip: str, success: bool) -> LoginAttempt:
    """Store one sign-in attempt (the caller commits, also when the attempt failed)."""
    attempt = LoginAttempt(username=username[:80], ip=(ip or "")[:64], success=success,
                           attempted_at=clock.utcnow())
    db.session.add(attempt)
    db.session.flush()
    return attempt


def prune_login_attempts(older_than_days: int = 90) -> int:
    """Delete attempts older than the given number of days; returns how many."""
    cutoff = clock.utcnow() - timedelta(days=older_than_days)
    result = db.session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < cutoff))
    return result.rowcount or 0


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None; upgrades an outdated hash."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        burn_verify(password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = clock.utcnow()
    return user


@dataclass
class SignInResult:
    """What happened to a sign-in attempt."""

    status: str  # "ok", "wrong", "disabled" or "throttled"
    user: User | None = None
    retry_at: datetime | None = None


def sign_in(username: str, password: str, ip: str) -> SignInResult:
    """Check throttling, then the credentials; records the attempt and audits a success."""
    username = (username or "").strip()[:80]
    retry_at = throttled_until(username, ip)
    if retry_at is not None:
        # Refused without checking the password; not counted, so the lock lifts on time.
        return SignInResult("throttled", retry_at=retry_at)
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        burn_verify(password)
        record_login_attempt(username, ip, False)
        return SignInResult("wrong")
    if not verify_password(user.password_hash, password):
        record_login_attempt(username, ip, False)
        return SignInResult("wrong")
    if not user.active:
        record_login_attempt(username, ip, False)
        return SignInResult("disabled")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = clock.utcnow()
    record_login_attempt(username, ip, True)
    audit.record(user, "user.sign_in", user, summary=user.username)
    return SignInResult("ok", user=user)
