"""Urge notices (催办/督办), in-app notifications, the outbox and reminder claims."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taskflow.accounts.models import User
from taskflow.assignments.models import Milestone
from taskflow.core.crypto import EncryptedString
from taskflow.core.db import UTCDateTime, enum_check, now_default
from taskflow.extensions import db
from taskflow.units.models import Unit


class NoticeLevel(StrEnum):
    """The colour of an urge notice: blue reminder, yellow 催办, red 督办."""

    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"


class NoticeSeries(StrEnum):
    """Numbering series: 催办 (blue, yellow) and 督办 (red) are numbered separately per year."""

    URGE = "urge"
    SUPERVISE = "supervise"


class NoticeSource(StrEnum):
    """Who issued a notice."""

    SCAN = "scan"
    OFFICE = "office"


urge_notice_items = Table(
    "urge_notice_items",
    db.metadata,
    Column("notice_id", Integer, ForeignKey("urge_notices.id", ondelete="CASCADE"),
           primary_key=True),
    Column("milestone_id", Integer, ForeignKey("milestones.id", ondelete="CASCADE"),
           primary_key=True),
)


class UrgeNotice(db.Model):
    """A numbered 催办/督办 notice to one unit about some of its overdue milestones."""

    __tablename__ = "urge_notices"
    __table_args__ = (
        UniqueConstraint("series", "year", "sequence"),
        enum_check("series", NoticeSeries),
        enum_check("level", NoticeLevel),
        enum_check("source", NoticeSource),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(String(20))
    year: Mapped[int]
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(60), unique=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    response_due: Mapped[date]
    source: Mapped[str] = mapped_column(String(10))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    response: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Recorded with the answer (local date after response_due), for the scores.
    answered_late: Mapped[bool | None]
    version_id: Mapped[int] = mapped_column(default=1)

    unit: Mapped[Unit] = relationship()
    items: Mapped[list[Milestone]] = relationship(
        secondary=urge_notice_items, order_by=Milestone.due_date
    )
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    responded_by: Mapped[User | None] = relationship(foreign_keys=[responded_by_id])

    __mapper_args__ = {"version_id_col": version_id}

    @property
    def status(self) -> str:
        """issued → acknowledged → answered."""
        if self.responded_at is not None:
            return "answered"
        if self.acknowledged_at is not None:
            return "acknowledged"
        return "issued"


class ReminderOutcome(StrEnum):
    """What became of a claimed reminder."""

    SENT = "sent"  # messages went out
    SUPERSEDED = "superseded"  # a later step of the ladder was sent instead (catch-up)


class ReminderClaim(db.Model):
    """The claim on one reminder or notice: (item, kind, period) is sent at most once."""

    # The table and Notification.dispatch_id keep their first names: "dispatch" in code means
    # only the monthly 月调度 now, but renaming stored names would churn the schema for nothing.
    __tablename__ = "reminder_dispatches"
    __table_args__ = (
        UniqueConstraint("item_type", "item_id", "kind", "period"),
        enum_check("outcome", ReminderOutcome),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(30))
    item_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20), default=ReminderOutcome.SENT)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default, index=True)
    urge_notice_id: Mapped[int | None] = mapped_column(ForeignKey("urge_notices.id"), index=True)
    webhook_outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id"), index=True
    )


class OutboxState(StrEnum):
    """Delivery state of one outgoing message."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxChannel(StrEnum):
    """How an outgoing message travels."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    ROBOT = "robot"  # a group robot of DingTalk, WeCom or Feishu (Robot, channels.py)


class RobotPlatform(StrEnum):
    """The messaging platform a group robot (custom bot) belongs to."""

    DINGTALK = "dingtalk"  # DingTalk and its government editions (渝快政, 浙政钉)
    WECOM = "wecom"  # WeCom (企业微信)
    FEISHU = "feishu"  # Feishu (飞书)


class Robot(db.Model):
    """A group robot's webhook: a unit's work group (unit_id) or the joint-meeting office's
    (unit_id empty). The URL (it carries the access token or key) and the signing secret are
    stored SM4-encrypted (core/crypto.py) and never shown back in full."""

    __tablename__ = "robots"
    __table_args__ = (enum_check("platform", RobotPlatform),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(120))
    webhook_url: Mapped[str] = mapped_column(EncryptedString(2000))
    # DingTalk 加签 / Feishu 签名校验; empty when the robot uses keywords or an IP list instead.
    secret: Mapped[str | None] = mapped_column(EncryptedString(500))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version_id: Mapped[int] = mapped_column(default=1)

    unit: Mapped[Unit | None] = relationship()

    __mapper_args__ = {"version_id_col": version_id}


class OutboxMessage(db.Model):
    """An e-mail or webhook post waiting to be delivered, delivered, or failed."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_state_next", "state", "next_attempt_at"),
        Index("ix_outbox_messages_robot_claimed", "robot_id", "claimed_at"),
        # Exactly once: one message per robot and event, whoever enqueues it and how often.
        UniqueConstraint("robot_id", "dedupe_key"),
        enum_check("channel", OutboxChannel),
        enum_check("state", OutboxState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Robot messages: the robot, and the event's key (operations.robot_event_key).
    robot_id: Mapped[int | None] = mapped_column(ForeignKey("robots.id"))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User | None] = relationship()
    robot: Mapped[Robot | None] = relationship()


class Notification(db.Model):
    """One item in a user's in-app inbox; its text is rendered from kind and params."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_default, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatch_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminder_dispatches.id"), index=True
    )
    urge_notice_id: Mapped[int | None] = mapped_column(ForeignKey("urge_notices.id"), index=True)
    # The daily e-mail digest that carried this item (empty: not e-mailed yet).
    digest_outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id"), index=True
    )

    user: Mapped[User] = relationship()
