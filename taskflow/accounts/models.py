"""Users and their roles."""

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.crypto import EncryptedString
from taskflow.core.db import UTCDateTime, now_default
from taskflow.extensions import db
from taskflow.units.models import Unit


class Role(StrEnum):
    """What a user may do (DESIGN.md §2)."""

    REPORTER = "reporter"
    UNIT_HEAD = "unit_head"
    OFFICE = "office"
    SUPERVISOR = "supervisor"
    LEADER = "leader"
    ADMIN = "admin"


UNIT_ROLES = frozenset({Role.REPORTER, Role.UNIT_HEAD})


class User(UserMixin, db.Model):
    """A person who signs in; reporters and unit heads belong to one unit."""

    __tablename__ = "users"

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
    # Bumped by each administrator's edit of the account: a form made from an older version is
    # refused (two administrators editing one account at once: the second is told, not lost).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Confidential (issue 12 B.4): the mobile number, normalised, stored SM4-encrypted; its blind
    # index (HMAC-SM3) lets the administrator find an account by exact number (core/crypto.py).
    # Deferred: the user loaded on every request does not decrypt it.
    mobile: Mapped[str | None] = mapped_column(EncryptedString(255, index="mobile_index"),
                                               deferred=True)
    mobile_index: Mapped[str | None] = mapped_column(String(64), index=True)

    unit: Mapped[Unit | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_unit_user(self) -> bool:
        return self.role in UNIT_ROLES

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


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
