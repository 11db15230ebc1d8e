"""Score rule sets, scored periods, score cards, their items, adjustments, recognitions, bulletins."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.accounts.models import User
from taskflow.core.db import UTCDateTime, enum_check, now_default
from taskflow.extensions import db
from taskflow.units.models import PeerGroup, Unit

POINTS = Numeric(8, 2)


class Component(StrEnum):
    """The parts of a unit's score (DESIGN.md §6, the plan's 督查激励考核)."""

    EXECUTION = "execution"
    INDICATORS = "indicators"
    RESPONSIVENESS = "responsiveness"
    QUALITY = "quality"
    INCENTIVE = "incentive"


COMPONENTS = tuple(c.value for c in Component)


class ScorePeriodState(StrEnum):
    """draft (recomputed freely) → locked (under review, frozen) → published (never changes)."""

    DRAFT = "draft"
    LOCKED = "locked"
    PUBLISHED = "published"


class ScorePeriodKind(StrEnum):
    """How long a scored period is (its key: 2024-03, 2024Q1, 2024)."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class ScoreRuleSet(db.Model):
    """One version of the scoring rules; editing the rules adds a version, never changes one."""

    __tablename__ = "score_rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[date]
    parameters: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)

    created_by: Mapped[User | None] = relationship()


class ScorePeriod(db.Model):
    """One revision of the scores of a month, quarter or year; a correction adds a revision."""

    __tablename__ = "score_periods"
    __table_args__ = (
        UniqueConstraint("plan_id", "key", "revision"),
        enum_check("kind", ScorePeriodKind),
        enum_check("state", ScorePeriodState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    key: Mapped[str] = mapped_column(String(10), index=True)  # 2024-03, 2024Q1, 2024
    kind: Mapped[str] = mapped_column(String(10))  # month | quarter | year
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    revision: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(12), default=ScorePeriodState.DRAFT)
    rule_set_id: Mapped[int | None] = mapped_column(ForeignKey("score_rule_sets.id"))
    # The day the facts were read as of (min(period end, today) at the last recompute).
    as_of: Mapped[date | None]
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("score_periods.id"))
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    version_id: Mapped[int] = mapped_column(default=1)

    rule_set: Mapped[ScoreRuleSet | None] = relationship()
    locked_by: Mapped[User | None] = relationship(foreign_keys=[locked_by_id])
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])

    __mapper_args__ = {"version_id_col": version_id}

    @property
    def is_frozen(self) -> bool:
        return self.state != ScorePeriodState.DRAFT


class ScoreCard(db.Model):
    """A unit's score in one period revision: components, computed total, adjustment, grade, rank."""

    __tablename__ = "score_cards"
    __table_args__ = (
        UniqueConstraint("period_id", "unit_id"),
        Index("ix_score_cards_period_group_rank", "period_id", "peer_group", "rank"),
        enum_check("peer_group", PeerGroup),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("score_periods.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    peer_group: Mapped[str] = mapped_column(String(32))
    base: Mapped[Decimal] = mapped_column(POINTS)
    execution: Mapped[Decimal] = mapped_column(POINTS)
    indicators: Mapped[Decimal] = mapped_column(POINTS)
    responsiveness: Mapped[Decimal] = mapped_column(POINTS)
    quality: Mapped[Decimal] = mapped_column(POINTS)
    incentive: Mapped[Decimal] = mapped_column(POINTS)
    computed_total: Mapped[Decimal] = mapped_column(POINTS)
    adjustment: Mapped[Decimal] = mapped_column(POINTS, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(POINTS)
    grade: Mapped[str] = mapped_column(String(12))
    rank: Mapped[int | None]
    group_size: Mapped[int | None]
    previous_rank: Mapped[int | None]

    period: Mapped[ScorePeriod] = relationship()
    unit: Mapped[Unit] = relationship()

    @property
    def movement(self) -> int | None:
        """Places gained since the previous period (negative: places lost)."""
        if self.previous_rank is None or self.rank is None:
            return None
        return self.previous_rank - self.rank

    def component(self, name: str) -> Decimal:
        return getattr(self, name)


class ScoreItem(db.Model):
    """One line of a score: points for one event, with the object behind it."""

    __tablename__ = "score_items"
    __table_args__ = (
        Index("ix_score_items_period_unit", "period_id", "unit_id"),
        enum_check("component", Component),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("score_periods.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    component: Mapped[str] = mapped_column(String(20))
    points: Mapped[Decimal] = mapped_column(POINTS)
    reason: Mapped[str] = mapped_column(String(40))
    # Parameters for the reason's sentence (title, days late, weight, role, figures, …).
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    source_type: Mapped[str] = mapped_column(String(40), default="")
    source_id: Mapped[int | None]


class ScoreAdjustment(db.Model):
    """A supervisor's change to a unit's score, with the reason; the computed value is kept."""

    __tablename__ = "score_adjustments"
    __table_args__ = (Index("ix_score_adjustments_period_unit", "period_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("score_periods.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    points: Mapped[Decimal] = mapped_column(POINTS)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)

    created_by: Mapped[User | None] = relationship()
    unit: Mapped[Unit] = relationship()


class Recognition(db.Model):
    """A commendation entered by the supervision team, with its evidence; earns incentive points."""

    __tablename__ = "score_recognitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    awarded_on: Mapped[date] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(200))
    points: Mapped[Decimal] = mapped_column(POINTS)
    # The document that proves it: issuing body, document number, where it is filed.
    evidence: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)

    unit: Mapped[Unit] = relationship()
    created_by: Mapped[User | None] = relationship()


class BulletinState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Bulletin(db.Model):
    """The quarterly bulletin (季通报), drafted from a published period; frozen when published.

    When the period's scores are corrected (a new revision), the bulletin built on the old
    revision is marked superseded: it stays readable, says so, and can no longer be published.
    """

    __tablename__ = "score_bulletins"
    __table_args__ = (
        UniqueConstraint("number_year", "number_sequence", name="uq_score_bulletins_number"),
        enum_check("state", BulletinState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("score_periods.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(12), default=BulletinState.DRAFT)
    # Tables and chart figures taken when the draft was made, so the document never drifts.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("score_periods.id"))
    # The 文号 from the office's numbering series, given when published (綦双倍增办〔2026〕3号):
    # (year, sequence) is unique, so two publications never share a number.
    number_year: Mapped[int | None]
    number_sequence: Mapped[int | None]
    number: Mapped[str | None] = mapped_column(String(60))
    version_id: Mapped[int] = mapped_column(default=1)

    period: Mapped[ScorePeriod] = relationship(foreign_keys=[period_id])
    superseded_by: Mapped[ScorePeriod | None] = relationship(foreign_keys=[superseded_by_id])
    sections: Mapped[list["BulletinSection"]] = relationship(
        back_populates="bulletin", order_by="BulletinSection.position", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version_id}

    @property
    def is_superseded(self) -> bool:
        return self.superseded_at is not None


class BulletinSection(db.Model):
    """One editable text section of a bulletin (intro, rankings, red list, …)."""

    __tablename__ = "score_bulletin_sections"
    __table_args__ = (UniqueConstraint("bulletin_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("score_bulletins.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(30))
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")

    bulletin: Mapped[Bulletin] = relationship(back_populates="sections")


class ConfirmationState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


class ConfirmationAction(StrEnum):
    """What a second person is asked to confirm."""

    LOCK = "lock"
    PUBLISH = "publish"
    BULLETIN_PUBLISH = "bulletin_publish"


class ScoreConfirmation(db.Model):
    """A lock or publish asked for by one person, waiting for (or given) a second person's
    confirmation, when the rules require two people (governance.second_person)."""

    __tablename__ = "score_confirmations"
    __table_args__ = (
        Index("ix_score_confirmations_period", "period_id", "action", "state"),
        Index("ix_score_confirmations_bulletin", "bulletin_id", "action", "state"),
        enum_check("action", ConfirmationAction),
        enum_check("state", ConfirmationState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int | None] = mapped_column(
        ForeignKey("score_periods.id", ondelete="CASCADE"))
    bulletin_id: Mapped[int | None] = mapped_column(
        ForeignKey("score_bulletins.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))  # lock | publish | bulletin_publish
    # The object's version when asked: a change since then cancels the request.
    object_version: Mapped[int]
    state: Mapped[str] = mapped_column(String(12), default=ConfirmationState.PENDING)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])
