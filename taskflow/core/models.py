"""Tables of the shared mechanisms (not of one business area)."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from taskflow.core.db import UTCDateTime
from taskflow.extensions import db


class SchedulerLease(db.Model):
    """Who runs the scheduler: one row per lease name, held while its heartbeat is recent.

    Kept in the database, not in a file under INSTANCE_DIR, so every scheduler over the same
    database sees it, whatever its instance folder or host (taskflow/scheduler.py)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # hostname:pid:uuid of the holding process
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
