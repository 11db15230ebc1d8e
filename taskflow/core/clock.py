"""The one source of "now", so jobs and tests can run at any simulated time."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

_frozen: datetime | None = None


def utcnow() -> datetime:
    """Current time as an aware UTC datetime (or the frozen time, if set)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc)


def local_now() -> datetime:
    """Current time in Asia/Shanghai."""
    return utcnow().astimezone(LOCAL_TZ)


def local_today() -> date:
    """Today's date in Asia/Shanghai, the date every deadline is counted in."""
    return local_now().date()


def to_local(moment: datetime | None) -> datetime | None:
    """Convert a stored UTC datetime (aware or naive) to Asia/Shanghai."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(LOCAL_TZ)


def parse_now(value: str | None) -> datetime | None:
    """Parse a --now option: an ISO time, read as Asia/Shanghai when it has no zone."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(timezone.utc)


class frozen_at:
    """Context manager that pins utcnow() to one moment (for --now and tests)."""

    def __init__(self, moment: datetime | None):
        self.moment = moment
        self.previous: datetime | None = None

    def __enter__(self):
        global _frozen
        self.previous = _frozen
        if self.moment is not None:
            _frozen = self.moment
        return self.moment

    def __exit__(self, *exc):
        global _frozen
        _frozen = self.previous
        return False
