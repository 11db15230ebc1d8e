"""Writes on users: create, edit, passwords, sessions, sign-in bookkeeping and throttling.

Every function flushes and audits; the caller (a view or a command) commits once.
"""

import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, distinct, func, select

from config import Config
from taskflow.accounts.models import (
    LoginAttempt,
    PasswordHistory,
    RecoveryCode,
    User,
)
from taskflow.core import audit, clock, crypto
from taskflow.core.errors import EditConflict, Refusal
from taskflow.core.passwords import (
    burn_verify,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from taskflow.core.roles import UNIT_ROLES, Role
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


class AccountError(Refusal):
    """A request about an account that cannot be carried out, with a message for the user."""


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


def shown_mobile(person: User, viewer=None) -> str | None:
    """A person's mobile number as the viewer may see it: in full for the person and the
    administrator (permissions.can_see_full_mobile), masked (138****5678) for everyone else.
    The one helper every page that shows a number uses (templates: shown_mobile(user))."""
    from flask_login import current_user

    from taskflow.core import permissions

    number = person.mobile
    if not number:
        return None
    viewer = current_user if viewer is None else viewer
    return number if permissions.can_see_full_mobile(viewer, person) else mask_mobile(number)


def set_own_mobile(user: User, value: str | None) -> bool:
    """The user changes (or clears) their own mobile number; audited masked. True if changed."""
    before = mask_mobile(user.mobile)
    if not _set_mobile(user, value):
        return False
    audit.record(user, "user.mobile", user, before={"mobile": before},
                 after={"mobile": mask_mobile(user.mobile)}, summary=user.username)
    return True


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
        role=role,
        unit=unit,
        display_name=(display_name or "").strip() or username,
        email=(email or "").strip() or None,
        active=True,
        session_version=1,
    )
    _set_mobile(user, mobile)
    db.session.add(user)
    _set_password(user, password)
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
    if expected_version is not None and expected_version != user.version_id:
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
    user.version_id += 1  # by hand: version_id_generator=False, see User
    if was_active and not active:
        end_sessions(user)
    changed = {k: v for k, v in after.items()
               if before[k] != v or (k == "mobile" and mobile_changed)}
    audit.record(actor, "user.update", user, before={k: before[k] for k in changed}, after=changed,
                 summary=user.username)
    return True


# ---------------------------------------------------------------- password lifecycle


def _set_password(user: User, password: str) -> None:
    """Store a new password: its hash, when it was set, and the history of recent hashes."""
    password_hash = hash_password(password)
    user.password_hash = password_hash
    user.password_changed_at = clock.utcnow()
    user.must_change_password = False
    keep = _setting("PASSWORD_HISTORY")
    if keep <= 0:
        return
    if user.id is None:
        db.session.flush()
    db.session.add(PasswordHistory(user_id=user.id, password_hash=password_hash,
                                   created_at=clock.utcnow()))
    db.session.flush()
    stale = list(db.session.scalars(
        select(PasswordHistory.id).where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc()).offset(keep)))
    if stale:
        db.session.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(stale)))


def _check_not_reused(user: User, new_password: str, field: str = "new_password") -> None:
    """Refuse the current password and any of the last PASSWORD_HISTORY ones (compared by
    verifying against their argon2 hashes: nothing else can tell them)."""
    keep = _setting("PASSWORD_HISTORY")
    if keep <= 0:
        return
    hashes = [user.password_hash] + list(db.session.scalars(
        select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc()).limit(keep)))
    if any(verify_password(h, new_password) for h in dict.fromkeys(hashes)):
        raise AccountError(_l("You used this password recently: choose one that is not among "
                              "your last %(n)d passwords.", n=keep), field=field)


def password_expired(user: User, now: datetime | None = None) -> bool:
    """True when PASSWORD_MAX_AGE_DAYS (0 = off) have passed since the password was set."""
    days = _setting("PASSWORD_MAX_AGE_DAYS")
    if days <= 0:
        return False
    changed = user.password_changed_at or user.created_at
    return changed is None or (now or clock.utcnow()) - changed > timedelta(days=days)


def change_password(user: User, current_password: str, new_password: str) -> None:
    """The user changes their own password; every session of the user ends."""
    if not verify_password(user.password_hash, current_password):
        raise WrongPassword(_l("The current password is wrong."), field="current_password")
    if new_password == current_password:
        raise AccountError(_l("The new password must differ from the current one."),
                           field="new_password")
    _check_password(new_password, user.username, field="new_password")
    _check_not_reused(user, new_password)
    _set_password(user, new_password)
    end_sessions(user)
    audit.record(user, "user.password_change", user, summary=user.username)


def forced_password_change(user: User, new_password: str) -> None:
    """The change a sign-in requires (expired or temporary password); sessions end."""
    reason = "temporary" if user.must_change_password else "expired"
    _check_password(new_password, user.username, field="new_password")
    _check_not_reused(user, new_password)
    _set_password(user, new_password)
    end_sessions(user)
    audit.record(user, "user.password_change", user, after={"forced": reason},
                 summary=user.username)


def reset_password(user: User, new_password: str, *, actor) -> None:
    """An administrator sets a temporary password for someone else: that user's sessions end
    and the user must choose a new password at next sign-in."""
    if actor is not None and actor.id == user.id:
        raise AccountError(_l("To change your own password, use My account."))
    _check_password(new_password, user.username, field="new_password")
    _set_password(user, new_password)
    user.must_change_password = True
    end_sessions(user)
    audit.record(actor, "user.password_reset", user, summary=user.username)


# ---------------------------------------------------------------- second factor (TOTP)

TOTP_STEP_SECONDS = 30  # RFC 6238's default, what every authenticator app uses
RECOVERY_CODE_COUNT = 10
# No 0/O, 1/I/L: codes are read off paper. 10 characters of 32 = 50 bits each.
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_RECOVERY_LENGTH = 10
# Authentication methods (OpenID Connect "amr" values, RFC 8176) that prove a second factor.
MULTI_FACTOR_METHODS = frozenset({"mfa", "otp", "hwk", "sc", "swk", "sms", "face", "fpt"})


def totp_required_roles() -> frozenset[str]:
    """The roles TOTP_REQUIRED_ROLES names."""
    value = current_app.config["TOTP_REQUIRED_ROLES"] if has_app_context() else ""
    return frozenset(r.strip() for r in (value or "").split(",") if r.strip())


def second_factor_required(user: User) -> bool:
    """True when the user's role must sign in with a second factor."""
    return user.role in totp_required_roles()


def sign_in_carries_second_factor(user: User, *, method: str = "password",
                                  amr: tuple[str, ...] | list[str] = ()) -> bool:
    """Does this sign-in already carry a second factor? The one place that decides it.

    A password sign-in never does: TaskFlow then asks for the authenticator code itself. When
    the district adds single sign-on, its callback calls this with method="sso" and the
    identity provider's authentication methods (OpenID Connect `amr`, RFC 8176): if they name
    a second factor ("mfa", "otp", a hardware key ...) the provider's factor counts and
    TaskFlow asks for no code of its own; otherwise the user goes through TaskFlow's step as
    after a password. `user` is there for per-account rules (none today)."""
    if method == "password":
        return False
    return bool(MULTI_FACTOR_METHODS & {str(m).lower() for m in amr})


def sign_in_steps(user: User, *, factor_carried: bool) -> list[str]:
    """What the sign-in still needs before the user is in, in order: "code" (the enrolled
    factor), "enrol" (required but not set up), "password" (expired or temporary)."""
    steps = []
    if not factor_carried:
        if user.has_second_factor:
            steps.append("code")
        elif second_factor_required(user):
            steps.append("enrol")
    if user.must_change_password or password_expired(user):
        steps.append("password")
    return steps


def new_totp_secret() -> str:
    """A fresh random base32 secret (160 bits, RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def totp_qr_data_uri(user: User, secret: str) -> str:
    """The otpauth:// URI as an SVG QR code in a data: URI (the page's CSP allows data: images)."""
    issuer = current_app.config["TOTP_ISSUER"]
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _current_step(now: datetime | None = None) -> int:
    return int((now or clock.utcnow()).timestamp()) // TOTP_STEP_SECONDS


def _matching_step(secret: str, code: str, last_step: int | None,
                   now: datetime | None = None) -> int | None:
    """The time step (now, or one either side for clock drift) whose code this is, if it is
    later than the last accepted one: a code accepted once cannot be used again."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = _current_step(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _normalise_recovery_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def _replace_recovery_codes(user: User) -> list[str]:
    """Delete the user's recovery codes and make RECOVERY_CODE_COUNT new ones (shown once).

    Stored as argon2 hashes like passwords: a stolen database does not give codes away, and
    checking one costs at most RECOVERY_CODE_COUNT verifications, on a step that is throttled.
    """
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=hash_password(raw),
                                    created_at=clock.utcnow()))
    db.session.flush()
    return codes


def confirm_second_factor(user: User, secret: str, code: str) -> list[str]:
    """Enrol the authenticator app whose current code is given; returns new recovery codes."""
    if user.has_second_factor:
        raise AccountError(_l("An authenticator app is already set up for this account."))
    step = _matching_step(secret, code, None)
    if step is None:
        raise AccountError(_l("The code is wrong or has expired. Enter the code the app shows "
                              "now."), field="code")
    user.totp_secret = secret
    user.totp_confirmed_at = clock.utcnow()
    user.totp_last_step = step
    codes = _replace_recovery_codes(user)
    audit.record(user, "user.second_factor_enrol", user, summary=user.username)
    return codes


def verify_second_factor(user: User, code: str) -> str | None:
    """Check a 6-digit authenticator code or an unused recovery code: "totp", "recovery", or
    None when wrong (the caller counts the failure like a wrong password)."""
    if not user.has_second_factor:
        return None
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return "totp"
    raw = _normalise_recovery_code(code)
    if len(raw) != _RECOVERY_LENGTH:
        return None
    for recovery in db.session.scalars(
            select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                       RecoveryCode.used_at.is_(None))
            .order_by(RecoveryCode.id).with_for_update()):
        if verify_password(recovery.code_hash, raw):
            recovery.used_at = clock.utcnow()
            audit.record(user, "user.recovery_code_use", user, summary=user.username)
            return "recovery"
    return None


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), confirmed by a current app code."""
    if not user.has_second_factor:
        raise AccountError(_l("Set up an authenticator app first."))
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        raise WrongPassword(_l("The code is wrong or has expired. Enter the code the app shows "
                               "now."), field="code")
    user.totp_last_step = step
    codes = _replace_recovery_codes(user)
    audit.record(user, "user.recovery_codes_regenerate", user, summary=user.username)
    return codes


def reset_second_factor(user: User, *, actor) -> None:
    """An administrator removes a user's authenticator app and recovery codes (a lost phone):
    the user's sessions end and, where the role requires it, the user enrols again."""
    if actor is not None and actor.id == user.id:
        raise AccountError(_l("Another administrator must reset your own second factor."))
    if not user.has_second_factor and user.totp_secret is None:
        raise AccountError(_l("This account has no second factor to reset."))
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_sessions(user)
    audit.record(actor, "user.second_factor_reset", user, summary=user.username)


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


def _setting(name: str) -> int:
    """The declared setting `name` (config.py): of the app, or of Config outside one."""
    return int(current_app.config[name] if has_app_context() else getattr(Config, name))


def throttled_until(username: str, ip: str, now: datetime | None = None) -> datetime | None:
    """When sign-in may be tried again for this account and IP, or None when it may now.

    An account is locked after LOGIN_MAX_FAILURES_PER_ACCOUNT failures within the window (its
    own completed sign-in starts the count afresh); wrong second-factor codes count as
    failures of the account too, so the factor is throttled exactly like the password.

    The IP limit is deliberately gentler: a whole district office signs in from one NAT
    address, and its people mistyping their own passwords must never lock each other out
    (each account already stops guessing at its own limit). An IP is blocked only for
    password spraying: LOGIN_MAX_FAILURES_PER_IP failures (default 100) within the window
    that name at least LOGIN_IP_MIN_DISTINCT_ACCOUNTS different usernames (default 10),
    whoever signs in successfully from it meanwhile; the block lifts one window after the
    oldest of those failures.
    """
    now = now or clock.utcnow()
    window = timedelta(minutes=_setting("LOGIN_THROTTLE_WINDOW_MINUTES"))
    since = now - window
    max_account = _setting("LOGIN_MAX_FAILURES_PER_ACCOUNT")
    max_ip = _setting("LOGIN_MAX_FAILURES_PER_IP")
    min_accounts = _setting("LOGIN_IP_MIN_DISTINCT_ACCOUNTS")
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

    ip_failures: list[datetime] = []
    if max_ip > 0:
        ip_failures = list(db.session.scalars(
            select(LoginAttempt.attempted_at)
            .where(LoginAttempt.ip == ip, LoginAttempt.success.is_(False),
                   LoginAttempt.attempted_at >= since)
            .order_by(LoginAttempt.attempted_at.desc())
            .limit(max_ip)
        ))
    if (max_ip > 0 and len(ip_failures) >= max_ip
            and db.session.scalar(
                select(func.count(distinct(LoginAttempt.username)))
                .where(LoginAttempt.ip == ip, LoginAttempt.success.is_(False),
                       LoginAttempt.attempted_at >= since)) >= min_accounts):
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

    status: str  # "ok", "steps" (more to do: see steps), "wrong", "disabled" or "throttled"
    user: User | None = None
    retry_at: datetime | None = None
    steps: list[str] = field(default_factory=list)


def sign_in(username: str, password: str, ip: str) -> SignInResult:
    """Check throttling, then the credentials; records the attempt and audits a success.

    With the right password but further steps due (second factor, enrolment, a forced
    password change) the result is "steps" and nothing is recorded yet: the sign-in succeeds
    only in complete_sign_in(), so re-entering the password does not reset the count of
    wrong codes."""
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
    steps = sign_in_steps(user, factor_carried=sign_in_carries_second_factor(user))
    if steps:
        return SignInResult("steps", user=user, steps=steps)
    complete_sign_in(user, ip)
    return SignInResult("ok", user=user)


def complete_sign_in(user: User, ip: str, *, second_factor: str | None = None) -> None:
    """Every step passed: record the successful attempt and audit the sign-in."""
    user.last_login_at = clock.utcnow()
    record_login_attempt(user.username, ip, True)
    audit.record(user, "user.sign_in", user,
                 after={"second_factor": second_factor} if second_factor else None,
                 summary=user.username)
