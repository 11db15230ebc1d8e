"""Tables of the shared mechanisms (not of one business area): the scheduler's lease and the
working-day calendar's corrections (taskflow/core/calendar.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.db import UTCDateTime, now_default
from taskflow.extensions import db

if TYPE_CHECKING:  # core does not import an area's models; the mapper resolves "User" by name
    from taskflow.accounts.models import User


class SchedulerLease(db.Model):
    """Who runs the scheduler: one row per lease name, held while its heartbeat is recent.

    Kept in the database, not in a file under INSTANCE_DIR, so every scheduler over the same
    database sees it, whatever its instance folder or host (taskflow/scheduler.py)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # hostname:pid:uuid of the holding process
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkdayOverride(db.Model):
    """An admin's correction of the working-day calendar for one date."""

    __tablename__ = "workday_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    is_workday: Mapped[bool]
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    # The year whose State Council notice (calendar_years) wrote this day; None: set by hand.
    notice_year: Mapped[int | None] = mapped_column(Integer)


class CalendarYear(db.Model):
    """A year whose official holiday arrangement the admin entered (the pasted State Council
    notice); its rest days and make-up working days are rows of workday_overrides."""

    __tablename__ = "calendar_years"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    source: Mapped[str] = mapped_column(String(20), default="notice")
    notice_text: Mapped[str] = mapped_column(Text, default="")
    rest_days: Mapped[int] = mapped_column(Integer, default=0)
    make_up_days: Mapped[int] = mapped_column(Integer, default=0)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)

    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id])
