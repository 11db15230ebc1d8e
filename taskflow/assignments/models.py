"""Assignments and milestones."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.db import UTCDateTime, enum_check, now_default
from taskflow.extensions import db
from taskflow.accounts.models import User
from taskflow.plans.models import KeyTask
from taskflow.units.models import Unit


class AssignmentRole(StrEnum):
    """A unit's part in a key task."""

    LEAD = "lead"
    RESPONSIBLE = "responsible"


class Assignment(db.Model):
    """A key task given to one unit in one role."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "unit_id", "role"),
        enum_check("role", AssignmentRole),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("key_tasks.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # True when the office added the unit, rather than the plan document naming it.
    added_by_office: Mapped[bool] = mapped_column(default=False)
    # Order in which the plan document names the unit for this task and role.
    position: Mapped[int] = mapped_column(default=0)
    # Where the plan asks for it, the unit head signs a submission off before the office sees it.
    requires_sign_off: Mapped[bool] = mapped_column(default=False)
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
    # Closed off by the office with a written reason (销号), whatever the progress reported.
    CLOSED = "closed"


# The milestone state sets: the only definitions (measures, jobs, operations, views import these).
# Closed (办结): a 100 % report accepted, or closed off by the office (销号). A closed milestone
# always has its closure date (completed_on); measures read that date, not the state.
CLOSED_STATES = frozenset({MilestoneState.ACCEPTED, MilestoneState.CLOSED})
# The unit's report waits for its head or for the office (the milestone is still open).
WAITING_STATES = frozenset({MilestoneState.SUBMITTED, MilestoneState.SIGNED_OFF})
# A unit may report on a milestone in these states (a returned one is resubmitted; a milestone
# whose report was accepted below 100 % is back in progress for the rest).
REPORTABLE_STATES = frozenset({MilestoneState.PENDING, MilestoneState.IN_PROGRESS,
                               MilestoneState.RETURNED})
# The unit has done its part (closed, or a report waiting for review): nothing to chase it for.
UNIT_DONE_STATES = CLOSED_STATES | WAITING_STATES


class Milestone(db.Model):
    """A dated step of an assignment; the original due date survives extensions."""

    __tablename__ = "milestones"
    __table_args__ = (enum_check("state", MilestoneState),)

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
    # The progress of the latest report the office accepted (a report accepted below 100 % keeps
    # the milestone open for the rest).
    accepted_progress: Mapped[int] = mapped_column(default=0, server_default="0")
    # Closure (办结): the local date the office accepted a 100 % report or closed the milestone off
    # (销号), and its lateness in working days against the original due date, recorded then and
    # never erased by an extension (taskflow.measures.milestones).
    completed_on: Mapped[date | None]
    days_late: Mapped[int | None]
    # 销号: who closed the milestone off, and why.
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closure_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    version_id: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    assignment: Mapped[Assignment] = relationship(back_populates="milestones")

    __mapper_args__ = {"version_id_col": version_id}


class UpdateState(StrEnum):
    """Where one status update is in sign-off and review."""

    SUBMITTED = "submitted"
    SIGNED_OFF = "signed_off"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class ReturnReason(StrEnum):
    """Why a submission is returned (退回原因)."""

    INCOMPLETE = "incomplete"
    NO_EVIDENCE = "no_evidence"
    FIGURES_INCONSISTENT = "figures_inconsistent"
    FALSE_REPORTING = "false_reporting"


class StatusUpdate(db.Model):
    """A unit's report on a milestone; a resubmission is a new row, so history is kept."""

    __tablename__ = "status_updates"
    # The office's review queue and its navigation badge select on (state, needs_sign_off)
    # (awaiting_office_clause): a handful of rows among a city's million reports.
    __table_args__ = (
        Index("ix_status_updates_state_needs_sign_off", "state", "needs_sign_off"),
        enum_check("state", UpdateState),
        enum_check("reason_code", ReturnReason),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    progress: Mapped[int] = mapped_column(default=0)
    narrative: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[str] = mapped_column(Text, default="")
    next_steps: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default, index=True)
    state: Mapped[str] = mapped_column(String(20), default=UpdateState.SUBMITTED, index=True)
    # Captured at submission: this update waits for the unit head before the office sees it.
    needs_sign_off: Mapped[bool] = mapped_column(default=False)
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason_code: Mapped[str | None] = mapped_column(String(30))
    comment: Mapped[str] = mapped_column(Text, default="")
    version_id: Mapped[int] = mapped_column(default=1)

    milestone: Mapped[Milestone] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    signed_off_by: Mapped[User | None] = relationship(foreign_keys=[signed_off_by_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    evidence: Mapped[list["Evidence"]] = relationship(
        back_populates="status_update", order_by="Evidence.id"
    )

    __mapper_args__ = {"version_id_col": version_id}

    @property
    def awaiting_office(self) -> bool:
        """In the office's review queue."""
        return self.state == UpdateState.SIGNED_OFF or (
            self.state == UpdateState.SUBMITTED and not self.needs_sign_off
        )

    @property
    def awaiting_sign_off(self) -> bool:
        """In the unit head's sign-off queue."""
        return self.state == UpdateState.SUBMITTED and self.needs_sign_off


def awaiting_office_clause():
    """SQL for "in the office's review queue" (StatusUpdate.awaiting_office)."""
    # Both branches are equalities on ix_status_updates_state_needs_sign_off (state,
    # needs_sign_off): SQLite answers with a MULTI-INDEX OR, PostgreSQL with a BitmapOr. "= false"
    # rather than "IS false", which neither database matches against an index column.
    return or_(
        StatusUpdate.state == UpdateState.SIGNED_OFF,
        and_(StatusUpdate.state == UpdateState.SUBMITTED, StatusUpdate.needs_sign_off == false()),
    )


# The queue lists the waiting reports oldest first, 50 a page: without this partial index
# PostgreSQL walks ix_status_updates_created_at from the oldest report and filters ~1M rows to
# find them (0.9 s at city scale). SQLite ignores it and sorts the few thousand waiting rows.
Index("ix_status_updates_awaiting_office", StatusUpdate.created_at, StatusUpdate.id,
      postgresql_where=awaiting_office_clause(), sqlite_where=awaiting_office_clause())


class Evidence(db.Model):
    """An immutable stored file attached to a status update; never overwritten.

    A resubmission after a return keeps the files the reporter did not remove: each kept file
    gets a row of its own on the new update (`kept_from_id` names the row it copies) pointing at
    the same stored file, so every report keeps its own file list and no byte is written twice.
    Several rows may therefore share a storage_key; stored files are never deleted while a row
    references them (the sweeps read the referenced keys)."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    status_update_id: Mapped[int] = mapped_column(ForeignKey("status_updates.id"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    detected_type: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str] = mapped_column(String(120))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    # The row of the returned report this one keeps (the same stored file), or None if uploaded.
    kept_from_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))

    status_update: Mapped[StatusUpdate] = relationship(back_populates="evidence")
    uploaded_by: Mapped[User] = relationship()

    @property
    def preview(self) -> str | None:
        """How a page shows the file: "pdf" (the viewer), "image" (a thumbnail), None (download
        only). The inline route checks the stored bytes again before serving."""
        from taskflow.core.uploads import INLINE_KINDS

        return INLINE_KINDS.get(self.detected_type)


class ExtensionState(StrEnum):
    """An extension request's decision."""

    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"


class ExtensionRequest(db.Model):
    """A unit asks, before the due date, to move a milestone's due date (延期申请)."""

    __tablename__ = "extension_requests"
    __table_args__ = (enum_check("state", ExtensionState),)

    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    # The due date when the request was filed, and the date asked for.
    current_due_date: Mapped[date]
    requested_due_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    state: Mapped[str] = mapped_column(String(20), default=ExtensionState.PENDING, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str] = mapped_column(Text, default="")
    version_id: Mapped[int] = mapped_column(default=1)

    milestone: Mapped[Milestone] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version_id}


report_citations = Table(
    "report_citations",
    db.metadata,
    Column(
        "report_id",
        Integer,
        ForeignKey("consolidated_reports.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("status_update_id", Integer, ForeignKey("status_updates.id"), primary_key=True),
)


class ConsolidatedReport(db.Model):
    """A lead unit's report on its key task, citing its responsible units' updates."""

    __tablename__ = "consolidated_reports"
    __table_args__ = (CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    # The quarter the report covers (汇总报告 of 2024 Q1: quarter_year 2024, quarter 1). Reports
    # written before the field existed were given one by migration 0023_lead_view.
    quarter_year: Mapped[int | None]
    quarter: Mapped[int | None]

    @property
    def quarter_label(self) -> str:
        """2024Q1 (empty when unknown)."""
        return f"{self.quarter_year}Q{self.quarter}" if self.quarter_year and self.quarter else ""

    assignment: Mapped[Assignment] = relationship()
    author: Mapped[User] = relationship()
    citations: Mapped[list[StatusUpdate]] = relationship(
        secondary=report_citations, order_by=StatusUpdate.id
    )
