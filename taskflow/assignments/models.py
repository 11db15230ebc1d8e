"""Assignments and milestones."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.db import UTCDateTime, now_default
from taskflow.extensions import db
from taskflow.plans.models import KeyTask
from taskflow.units.models import Unit


class AssignmentRole(StrEnum):
    """A unit's part in a key task."""

    LEAD = "lead"
    RESPONSIBLE = "responsible"


class Assignment(db.Model):
    """A key task given to one unit in one role."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("task_id", "unit_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("key_tasks.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # True when the office added the unit, rather than the plan document naming it.
    added_by_office: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)

    task: Mapped[KeyTask] = relationship()
    unit: Mapped[Unit] = relationship()
    milestones: Mapped[list["Milestone"]] = relationship(
        back_populates="assignment", order_by="Milestone.due_date", cascade="all, delete-orphan"
    )


class MilestoneState(StrEnum):
    """Where a milestone is in the report → review cycle."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    SIGNED_OFF = "signed_off"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class Milestone(db.Model):
    """A dated step of an assignment; the original due date survives extensions."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(index=True)
    original_due_date: Mapped[date]
    weight: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("1"))
    required_evidence: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default=MilestoneState.PENDING, index=True)
    progress: Mapped[int] = mapped_column(default=0)
    # Lateness is recorded when the milestone is completed and never erased by an extension.
    completed_on: Mapped[date | None]
    days_late: Mapped[int | None]
    version_id: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    assignment: Mapped[Assignment] = relationship(back_populates="milestones")

    __mapper_args__ = {"version_id_col": version_id}
