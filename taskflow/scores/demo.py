"""Demo scores: the default rules, a recognition, scored months (the oldest one published), the last
two quarters published and the last quarter's bulletin published (with its 文号), as of the
quarter's end."""

from datetime import date, timedelta

from sqlalchemy import func, select

from taskflow.core import clock
from taskflow.core.calendar import quarter_of
from taskflow.extensions import db
from taskflow.scores import operations, queries
from taskflow.scores.models import Bulletin, BulletinState, Recognition, ScorePeriodState
from taskflow.scores.rules import periods_containing, previous_key


def _months_back(today: date, n: int) -> list[str]:
    keys = []
    day = today.replace(day=1)
    for _ in range(n):
        day = (day - timedelta(days=1)).replace(day=1)
        keys.append(f"{day.year}-{day.month:02d}")
    return keys[::-1]


def setup_demo(plan, echo) -> None:
    """Safe to run again: locked and published periods are left as they are."""
    if plan is None:
        return
    operations.ensure_default_rules(None)
    today = clock.local_today()
    units = queries.scored_units(plan.id)
    has_recognition = db.session.scalar(select(func.count()).select_from(Recognition))
    if units and not has_recognition:
        operations.add_recognition(None, unit=units[0], awarded_on=today.replace(day=1),
                                   title="市级科技创新工作先进集体",
                                   points_value=2, evidence="示例：渝科发〔2024〕示例号 表彰文件（存督查组档案）")
    keys = _months_back(today, 3) + [p.key for p in periods_containing(today)]
    for key in keys:
        existing = queries.latest_period(plan.id, key)
        if existing is None or existing.state == ScorePeriodState.DRAFT:
            operations.recompute(plan.id, key, None, today=today)
    oldest = queries.latest_period(plan.id, keys[0])
    if oldest is not None and oldest.state == ScorePeriodState.DRAFT:
        operations.lock(oldest, None)
        operations.publish(oldest, None)
    last_quarter = previous_key("{}Q{}".format(*quarter_of(today)))
    # The quarter before it first, so the bulletin's 名次变化 compares with published ranks.
    for key in (previous_key(last_quarter), last_quarter):
        quarter = queries.latest_period(plan.id, key)
        if quarter is None or quarter.state == ScorePeriodState.DRAFT:
            quarter = operations.recompute(plan.id, key, None, today=today)
            operations.lock(quarter, None)
            operations.publish(quarter, None)
    bulletin = db.session.scalar(select(Bulletin).where(Bulletin.period_id == quarter.id)
                                 .order_by(Bulletin.id).limit(1))
    if bulletin is None:
        bulletin = operations.create_bulletin(quarter, None, today=today)
    if bulletin.state == BulletinState.DRAFT and not bulletin.is_superseded:
        # Published, with its 文号: the office downloads the quarter's bulletin as sent.
        operations.publish_bulletin(bulletin, None)
    echo(f"scores: computed {', '.join(keys)}; {keys[0]} published; {previous_key(last_quarter)} "
         f"and {last_quarter} published, with the bulletin {bulletin.number}")
