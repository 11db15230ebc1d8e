"""The enterprise register, its history and claim conflicts; staged imports; monthly dispatch."""

from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.core.db import UTCDateTime, enum_check, now_default
from taskflow.extensions import db
from taskflow.units.models import Unit

HIGH_TECH_VALID_YEARS = 3


class Source(StrEnum):
    """How an enterprise came to the unit: 2022 stock, cultivated (培育) or attracted (招引)."""

    STOCK = "stock"
    CULTIVATED = "cultivated"
    ATTRACTED = "attracted"


class EnterpriseStatus(StrEnum):
    """Whether the enterprise still operates in the district."""

    ACTIVE = "active"
    CLOSED = "closed"  # deregistered or moved out of the district


class ClaimState(StrEnum):
    """An open claim waits for the office: keep the current unit or transfer to the claimant."""

    OPEN = "open"
    KEPT = "kept"
    TRANSFERRED = "transferred"


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 Feb → 28 Feb)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# A re-review certificate dated up to this long after the old one's expiry keeps the status
# continuous; a later one is a new certification (the enterprise counts as new again).
RENEWAL_GRACE_DAYS = 90


def is_renewal(new_on: date | None, old_on: date | None, old_expires: date | None) -> bool:
    """A certificate dated in the old one's third year (or just after expiry) is a re-review."""
    if new_on is None or old_on is None or old_expires is None:
        return False
    return add_years(old_on, 2) <= new_on <= old_expires + timedelta(days=RENEWAL_GRACE_DAYS)


def certificate_fields(new_on: date | None, old_on: date | None, old_first: date | None,
                       old_expires: date | None) -> dict:
    """first_on (start of the continuous high-tech run), expiry and re-review due of a new date."""
    if new_on is None:
        return {"high_tech_first_on": None, "high_tech_expires_on": None, "re_review_due_on": None}
    expires = add_years(new_on, HIGH_TECH_VALID_YEARS)
    if is_renewal(new_on, old_on, old_expires):
        first = old_first or old_on
    elif old_on is not None and new_on != old_on and old_first not in (None, old_on) \
            and old_on <= new_on <= (old_expires or new_on):
        first = old_first  # a correction of a renewed certificate's date
    elif old_on is not None and old_expires is not None and new_on > old_expires:
        first = new_on  # lapsed, then certified anew
    else:
        first = new_on if old_first in (None, old_on) else min(old_first, new_on)
    return {"high_tech_first_on": first, "high_tech_expires_on": expires,
            "re_review_due_on": expires}


class Enterprise(db.Model):
    """One enterprise, once: counted only for the unit it is attributed to."""

    __tablename__ = "enterprises"
    __table_args__ = (
        enum_check("source", Source),
        enum_check("status", EnterpriseStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    source: Mapped[str] = mapped_column(String(20), default=Source.STOCK)
    # 科技型企业: in the library from this date until removed.
    tech_in_library_on: Mapped[date | None] = mapped_column(Date)
    tech_removed_on: Mapped[date | None] = mapped_column(Date)
    # 高新技术企业: the current certificate; first_on starts the continuous high-tech run (kept
    # through re-reviews), so validity on any past day and "new this year" follow from it.
    high_tech_cert_no: Mapped[str | None] = mapped_column(String(40))
    high_tech_cert_on: Mapped[date | None] = mapped_column(Date)
    high_tech_first_on: Mapped[date | None] = mapped_column(Date)
    high_tech_expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    # The re-review (重新认定) must be passed by this date, the certificate's expiry.
    re_review_due_on: Mapped[date | None] = mapped_column(Date)
    specialised_sme: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=EnterpriseStatus.ACTIVE)
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    version_id: Mapped[int] = mapped_column(default=1)

    unit: Mapped[Unit] = relationship()
    events: Mapped[list["EnterpriseEvent"]] = relationship(
        back_populates="enterprise", order_by="EnterpriseEvent.id.desc()"
    )

    __mapper_args__ = {"version_id_col": version_id}

    def set_certificate(self, number: str | None, certified_on: date | None) -> bool:
        """Set the high-tech certificate and derive its expiry and re-review due date.

        Returns True when the new certificate is a re-review of the current one."""
        fields = certificate_fields(certified_on, self.high_tech_cert_on, self.high_tech_first_on,
                                    self.high_tech_expires_on)
        renewed = is_renewal(certified_on, self.high_tech_cert_on, self.high_tech_expires_on)
        self.high_tech_cert_no = number or None
        self.high_tech_cert_on = certified_on
        for key, value in fields.items():
            setattr(self, key, value)
        return renewed


class EnterpriseEvent(db.Model):
    """A line of an enterprise's history: created, changed, transferred, re-reviewed, …"""

    __tablename__ = "enterprise_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    changes: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(500), default="")

    enterprise: Mapped[Enterprise] = relationship(back_populates="events")
    actor = relationship("User")
    unit: Mapped[Unit | None] = relationship()


class ClaimConflict(db.Model):
    """A second unit claims an attributed enterprise: the office decides, never a double count."""

    __tablename__ = "claim_conflicts"
    __table_args__ = (Index("ix_claim_conflicts_state", "state"), enum_check("state", ClaimState))

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    holder_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    claimant_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    claim_data: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(20), default=ClaimState.OPEN)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    version_id: Mapped[int] = mapped_column(default=1)

    enterprise: Mapped[Enterprise] = relationship()
    holder_unit: Mapped[Unit] = relationship(foreign_keys=[holder_unit_id])
    claimant_unit: Mapped[Unit] = relationship(foreign_keys=[claimant_unit_id])
    claimed_by = relationship("User", foreign_keys=[claimed_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version_id}


class ImportOutcome(StrEnum):
    """What confirming a staged row would do."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    INVALID = "invalid"


class ImportState(StrEnum):
    PREVIEW = "preview"
    CONFIRMED = "confirmed"
    DISCARDED = "discarded"


class EnterpriseImport(db.Model):
    """An uploaded Excel list staged for preview, bound to the user who uploaded it."""

    __tablename__ = "enterprise_imports"
    __table_args__ = (enum_check("state", ImportState),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    filename: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(20), default=ImportState.PREVIEW)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship()
    user = relationship("User")


class EnterpriseImportRow(db.Model):
    """One row of a staged import: the parsed values, the outcome and its reason."""

    __tablename__ = "enterprise_import_rows"
    __table_args__ = (
        Index("ix_enterprise_import_rows_batch_outcome", "import_id", "outcome"),
        enum_check("outcome", ImportOutcome),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("enterprise_imports.id", ondelete="CASCADE"), index=True
    )
    row_number: Mapped[int]
    credit_code: Mapped[str] = mapped_column(String(40), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict | None] = mapped_column(JSON)


class DispatchPeriodState(StrEnum):
    """Whether a month of the monthly dispatch still takes confirmations."""

    OPEN = "open"
    CLOSED = "closed"


class DispatchPeriod(db.Model):
    """A month of the monthly dispatch (月调度), opened by the office."""

    __tablename__ = "dispatch_periods"
    __table_args__ = (
        UniqueConstraint("plan_id", "month"),
        enum_check("state", DispatchPeriodState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    state: Mapped[str] = mapped_column(String(20), default=DispatchPeriodState.OPEN)
    due_on: Mapped[date] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    opened_by = relationship("User", foreign_keys=[opened_by_id])

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")

    @property
    def month_end(self) -> date:
        import calendar

        return self.month.replace(day=calendar.monthrange(self.month.year, self.month.month)[1])


class DispatchConfirmation(db.Model):
    """A unit's confirmation of its month figures; a row without confirmed_at marks a late unit."""

    __tablename__ = "dispatch_confirmations"
    __table_args__ = (UniqueConstraint("period_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(
        ForeignKey("dispatch_periods.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    figures: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    version_id: Mapped[int] = mapped_column(default=1)

    period: Mapped[DispatchPeriod] = relationship()
    unit: Mapped[Unit] = relationship()
    confirmed_by = relationship("User", foreign_keys=[confirmed_by_id])

    __mapper_args__ = {"version_id_col": version_id}


class ExportState(StrEnum):
    """A background export: waiting for the worker, being written, ready, or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(db.Model):
    """A large export written by the scheduler (enterprises.jobs.run_export_jobs) into
    DATA_DIR/exports and downloaded by the person who asked for it until `expires_at`."""

    __tablename__ = "export_jobs"
    __table_args__ = (enum_check("state", ExportState),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), default="register")
    state: Mapped[str] = mapped_column(String(20), default=ExportState.QUEUED)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    file_name: Mapped[str] = mapped_column(String(200), default="")  # shown to the user
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    # The file under DATA_DIR/exports (a random name); "" until written and after the sweep.
    storage_name: Mapped[str] = mapped_column(String(100), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by = relationship("User", foreign_keys=[requested_by_id])

    @property
    def percent(self) -> int:
        if self.state == ExportState.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
