"""Users and their roles."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.crypto import EncryptedString
from taskflow.core.db import UTCDateTime, enum_check, now_default
from taskflow.core.roles import UNIT_ROLES, Role
from taskflow.extensions import db
from taskflow.units.models import Unit


class User(UserMixin, db.Model):
    """A person who signs in; reporters and unit heads belong to one unit."""

    __tablename__ = "users"
    __table_args__ = (enum_check("role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on sign-out everywhere, password change and disabling: old sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    # The optimistic lock, bumped by each administrator's edit of the account only (not by a
    # sign-in): a form made from an older version is refused (two administrators editing one
    # account at once: the second is told, not lost).
    version_id: Mapped[int] = mapped_column(default=1, server_default="1")
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Confidential (issue 12 B.4): the mobile number, normalised, stored SM4-encrypted; its blind
    # index (HMAC-SM3) lets the administrator find an account by exact number (core/crypto.py).
    # Deferred: the user loaded on every request does not decrypt it.
    mobile: Mapped[str | None] = mapped_column(EncryptedString(255, index="mobile_index"),
                                               deferred=True)
    mobile_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # Second factor (RFC 6238 TOTP): the base32 secret, set when enrolment is confirmed; the
    # last accepted 30-second time step, so an accepted code cannot be replayed.
    # Stored SM4-encrypted like other confidential fields (core/crypto.py): a copy of the
    # database alone cannot mint codes. Deferred: only the code check decrypts it.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString(255), deferred=True)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None]
    # Password lifecycle: expiry counts from here (NULL: accounts older than the column, from
    # created_at); an administrator's temporary password must be changed at next sign-in.
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())

    unit: Mapped[Unit | None] = relationship()

    # Checked on every UPDATE, bumped by hand in update_user only: a sign-in or a session change
    # must not make an administrator's open form stale.
    __mapper_args__ = {"version_id_col": version_id, "version_id_generator": False}

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_unit_user(self) -> bool:
        return self.role in UNIT_ROLES

    @property
    def has_second_factor(self) -> bool:
        """True when the user has confirmed an authenticator app."""
        # Enrolment sets the secret and this time together and a reset clears both: the time
        # alone answers, so the (encrypted, deferred) secret is not loaded for the question.
        return self.totp_confirmed_at is not None

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class RecoveryCode(db.Model):
    """A one-time code that stands in for the authenticator app (argon2 hash; used once)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordHistory(db.Model):
    """A password a user had (argon2 hash), so the last few cannot be chosen again."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)


class LoginAttempt(db.Model):
    """One sign-in attempt, kept in the database so throttling holds across every web worker."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_attempted_at", "username", "attempted_at"),
        Index("ix_login_attempts_ip_attempted_at", "ip", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # As typed (stripped): unknown usernames are throttled too, so nothing tells them apart.
    username: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool]
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
