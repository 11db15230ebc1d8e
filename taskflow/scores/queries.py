"""Reads of the scores area: periods, rankings, breakdowns, the five-colour map, cockpit figures.

Every function runs a fixed number of queries whatever the number of units or items.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload

from taskflow.extensions import db
from taskflow.measures import milestones as measures
from taskflow.plans.models import Plan
from taskflow.scores.models import (
    Component,
    Recognition,
    ScoreAdjustment,
    ScoreCard,
    ScoreItem,
    ScorePeriod,
    ScorePeriodState,
    ScoreRuleSet,
)
from taskflow.scores.rules import parse_period_key, previous_key
from taskflow.units.models import RANKED_PEER_GROUPS, Unit

# ---------------------------------------------------------------- rules


def rule_sets() -> list[ScoreRuleSet]:
    """Every version, newest first."""
    return list(db.session.scalars(
        select(ScoreRuleSet).options(joinedload(ScoreRuleSet.created_by))
        .order_by(ScoreRuleSet.version.desc())
    ))


def rule_set_for(day: date) -> ScoreRuleSet | None:
    """The rules in force on `day`: the newest version effective by then (else the oldest)."""
    found = db.session.scalar(
        select(ScoreRuleSet).where(ScoreRuleSet.effective_from <= day)
        .order_by(ScoreRuleSet.effective_from.desc(), ScoreRuleSet.version.desc()).limit(1)
    )
    if found is None:
        found = db.session.scalar(select(ScoreRuleSet).order_by(ScoreRuleSet.version).limit(1))
    return found


# ---------------------------------------------------------------- periods


def latest_period(plan_id: int, key: str) -> ScorePeriod | None:
    """The newest revision of a period."""
    return db.session.scalar(
        select(ScorePeriod).options(joinedload(ScorePeriod.rule_set))
        .where(ScorePeriod.plan_id == plan_id, ScorePeriod.key == key)
        .order_by(ScorePeriod.revision.desc()).limit(1)
    )


def period_revision(plan_id: int, key: str, revision: int) -> ScorePeriod | None:
    return db.session.scalar(
        select(ScorePeriod).options(joinedload(ScorePeriod.rule_set))
        .where(ScorePeriod.plan_id == plan_id, ScorePeriod.key == key,
               ScorePeriod.revision == revision)
    )


def period_revisions(plan_id: int, key: str) -> list[ScorePeriod]:
    """Every revision of a period, newest first (both stay visible after a correction)."""
    return list(db.session.scalars(
        select(ScorePeriod).where(ScorePeriod.plan_id == plan_id, ScorePeriod.key == key)
        .order_by(ScorePeriod.revision.desc())
    ))


def latest_periods(plan_id: int, *, published_only: bool = False) -> list[ScorePeriod]:
    """The newest revision of every period (newest period first)."""
    newest = (
        select(ScorePeriod.key, func.max(ScorePeriod.revision).label("revision"))
        .where(ScorePeriod.plan_id == plan_id)
    )
    if published_only:
        newest = newest.where(ScorePeriod.state == ScorePeriodState.PUBLISHED)
    newest = newest.group_by(ScorePeriod.key).subquery()
    return list(db.session.scalars(
        select(ScorePeriod).options(joinedload(ScorePeriod.rule_set))
        .join(newest, and_(ScorePeriod.key == newest.c.key,
                           ScorePeriod.revision == newest.c.revision))
        .where(ScorePeriod.plan_id == plan_id)
        .order_by(ScorePeriod.starts_on.desc(), ScorePeriod.ends_on)
    ))


def shown_period(plan_id: int, key: str, *, published_only: bool = False) -> ScorePeriod | None:
    """The revision a reader sees: the newest (unit users: the newest published one)."""
    query = (select(ScorePeriod).options(joinedload(ScorePeriod.rule_set))
             .where(ScorePeriod.plan_id == plan_id, ScorePeriod.key == key))
    if published_only:
        query = query.where(ScorePeriod.state == ScorePeriodState.PUBLISHED)
    return db.session.scalar(query.order_by(ScorePeriod.revision.desc()).limit(1))


def adjustment_sums(period_id: int) -> dict[int, Decimal]:
    """{unit id: sum of adjustments} of one period revision (one GROUP BY query)."""
    return {unit_id: Decimal(str(total)) for unit_id, total in db.session.execute(
        select(ScoreAdjustment.unit_id, func.sum(ScoreAdjustment.points))
        .where(ScoreAdjustment.period_id == period_id).group_by(ScoreAdjustment.unit_id)
    )}


def reference_period(plan_id: int, key: str) -> ScorePeriod | None:
    """The revision others compare with: the newest published one, else the newest."""
    return db.session.scalar(
        select(ScorePeriod).where(ScorePeriod.plan_id == plan_id, ScorePeriod.key == key)
        .order_by((ScorePeriod.state == ScorePeriodState.PUBLISHED).desc(),
                  ScorePeriod.revision.desc())
        .limit(1)
    )


def previous_ranks(plan_id: int, key: str) -> dict[int, int]:
    """{unit id: rank} in the previous period of the same kind (two queries)."""
    previous = reference_period(plan_id, previous_key(key))
    if previous is None:
        return {}
    return dict(db.session.execute(
        select(ScoreCard.unit_id, ScoreCard.rank).where(ScoreCard.period_id == previous.id)
    ).all())


# ---------------------------------------------------------------- rankings and breakdowns


def ranking(period: ScorePeriod) -> dict[str, list[ScoreCard]]:
    """{peer group: cards by rank} of one period revision (one query)."""
    cards = db.session.scalars(
        select(ScoreCard).options(joinedload(ScoreCard.unit))
        .join(Unit, ScoreCard.unit_id == Unit.id)
        .where(ScoreCard.period_id == period.id)
        .order_by(ScoreCard.peer_group, ScoreCard.rank, Unit.sort_order, Unit.id)
    )
    grouped: dict[str, list[ScoreCard]] = {group: [] for group in RANKED_PEER_GROUPS}
    for card in cards:
        grouped.setdefault(card.peer_group, []).append(card)
    return {group: rows for group, rows in grouped.items() if rows}


def card_for(period: ScorePeriod, unit_id: int) -> ScoreCard | None:
    return db.session.scalar(
        select(ScoreCard).options(joinedload(ScoreCard.unit))
        .where(ScoreCard.period_id == period.id, ScoreCard.unit_id == unit_id)
    )


@dataclass
class Breakdown:
    """Why a unit's score is what it is: items per component, the limits applied, adjustments."""

    card: ScoreCard
    items: dict[str, list[ScoreItem]]
    raw: dict[str, Decimal]
    adjustments: list[ScoreAdjustment]

    def limit_effect(self, component: str) -> Decimal:
        """Points added (or removed) by the component's floor or cap."""
        return self.card.component(component) - self.raw.get(component, Decimal("0"))

    @property
    def overdue_open_count(self) -> int:
        """Milestones open and overdue at the period's end, each scored on this card."""
        return sum(1 for item in self.items.get(Component.EXECUTION, [])
                   if item.reason.startswith("milestone_overdue"))


def breakdown(period: ScorePeriod, card: ScoreCard) -> Breakdown:
    """Items and adjustments of one card (two queries)."""
    items = db.session.scalars(
        select(ScoreItem).where(ScoreItem.period_id == period.id, ScoreItem.unit_id == card.unit_id)
        .order_by(ScoreItem.id)
    )
    grouped: dict[str, list[ScoreItem]] = defaultdict(list)
    raw: dict[str, Decimal] = defaultdict(lambda: Decimal("0"))
    for item in items:
        grouped[item.component].append(item)
        raw[item.component] += item.points
    adjustments = list(db.session.scalars(
        select(ScoreAdjustment).options(joinedload(ScoreAdjustment.created_by))
        .where(ScoreAdjustment.period_id == period.id, ScoreAdjustment.unit_id == card.unit_id)
        .order_by(ScoreAdjustment.id)
    ))
    return Breakdown(card, dict(grouped), dict(raw), adjustments)


def rated_count(period: ScorePeriod) -> int:
    """How many units have a score (a card) in this period revision."""
    return db.session.scalar(select(func.count()).select_from(ScoreCard)
                             .where(ScoreCard.period_id == period.id)) or 0


def not_rated_units(period: ScorePeriod) -> list[Unit]:
    """Scored units without a card in a computed period revision: nothing applied to them (no
    target, nothing due or overdue, no notice, no review), so they are neither scored nor ranked."""
    if period.computed_at is None:
        return []
    carded = select(ScoreCard.unit_id).where(ScoreCard.period_id == period.id)
    return list(db.session.scalars(
        select(Unit).where(Unit.plan_id == period.plan_id, Unit.peer_group.in_(RANKED_PEER_GROUPS),
                           Unit.id.not_in(carded))
        .order_by(Unit.peer_group, Unit.sort_order, Unit.id)
    ))


def bulletins(plan_id: int) -> list:
    """Every bulletin of the plan, newest first, with its period and superseding revision."""
    from taskflow.scores.models import Bulletin

    return list(db.session.scalars(
        select(Bulletin).options(joinedload(Bulletin.period), joinedload(Bulletin.superseded_by))
        .join(ScorePeriod, Bulletin.period_id == ScorePeriod.id)
        .where(ScorePeriod.plan_id == plan_id).order_by(Bulletin.id.desc())
    ))


def recognitions(plan_id: int, limit: int = 200) -> list[Recognition]:
    return list(db.session.scalars(
        select(Recognition).options(joinedload(Recognition.unit), joinedload(Recognition.created_by))
        .join(Unit, Recognition.unit_id == Unit.id).where(Unit.plan_id == plan_id)
        .order_by(Recognition.awarded_on.desc(), Recognition.id.desc()).limit(limit)
    ))


def scored_units(plan_id: int) -> list[Unit]:
    return list(db.session.scalars(
        select(Unit).where(Unit.plan_id == plan_id, Unit.peer_group.in_(RANKED_PEER_GROUPS))
        .order_by(Unit.peer_group, Unit.sort_order, Unit.id)
    ))


# ---------------------------------------------------------------- five-colour map


@dataclass
class ColourMap:
    year: int
    months: list[str]
    units: list[Unit]
    cells: dict[int, dict[str, tuple[str, Decimal, int]]] = field(default_factory=dict)
    # key -> (revision, state) of the month shown
    periods: dict[str, tuple[int, str]] = field(default_factory=dict)


def five_colour_map(plan_id: int, year: int, *, published_only: bool = False) -> ColourMap:
    """Units × months of a year, each cell the grade and total of the month's newest revision."""
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    newest = (
        select(ScorePeriod.key, func.max(ScorePeriod.revision).label("revision"))
        .where(ScorePeriod.plan_id == plan_id, ScorePeriod.key.in_(months))
    )
    if published_only:
        newest = newest.where(ScorePeriod.state == ScorePeriodState.PUBLISHED)
    newest = newest.group_by(ScorePeriod.key).subquery()
    rows = db.session.execute(
        select(ScorePeriod.key, ScorePeriod.revision, ScorePeriod.state, ScoreCard.unit_id,
               ScoreCard.grade, ScoreCard.total, ScorePeriod.id)
        .join(newest, and_(ScorePeriod.key == newest.c.key,
                           ScorePeriod.revision == newest.c.revision))
        .join(ScoreCard, ScoreCard.period_id == ScorePeriod.id)
        .where(ScorePeriod.plan_id == plan_id)
    ).all()
    result = ColourMap(year, months, scored_units(plan_id))
    for key, revision, state, unit_id, grade, total, _pid in rows:
        result.cells.setdefault(unit_id, {})[key] = (grade, total, revision)
        result.periods[key] = (revision, state)
    return result


# ---------------------------------------------------------------- task progress and overdue items


def _overdue_condition(today: date):
    """Overdue on `today`: taskflow.measures.milestones.overdue_clause (one definition)."""
    return measures.overdue_clause(today)


# "Completed" on the cockpit counts closed milestones only (办结 or 销号); see the measure.
TaskProgress = measures.TaskProgress


def task_progress(plan_id: int, today: date) -> list[TaskProgress]:
    """The district's progress task by task as of `today`: milestones in all, closed, due by
    then, overdue (taskflow.measures.milestones.task_progress)."""
    return measures.task_progress(plan_id, today)


def overdue_by_unit(plan_id: int, today: date, limit: int | None = None) -> list[tuple]:
    """(unit id, unit name, overdue milestones, of which lead-role) by most overdue, as of
    `today` (taskflow.measures.milestones.overdue_counts; one query)."""
    return [tuple(row) for row in measures.overdue_counts(plan_id, today, by="unit", limit=limit)]


def overdue_items(plan_id: int, today: date, limit: int = 50) -> list[tuple]:
    """(milestone id, title, due date in force, working days overdue, unit name, unit id, role,
    task number), most overdue first, as of `today` (taskflow.measures.milestones.overdue_list)."""
    return [(r.milestone_id, r.title, r.due_date, r.working_days_overdue, r.unit_name, r.unit_id,
             r.role, r.task_number)
            for r in measures.overdue_list(plan_id, today, limit=limit)]


# ---------------------------------------------------------------- cockpit


def top_bottom(period: ScorePeriod | None, n: int = 3) -> dict[str, dict[str, list[ScoreCard]]]:
    """{peer group: {"top": [...], "bottom": [...]}} of a period (one query)."""
    if period is None:
        return {}
    result = {}
    for group, cards in ranking(period).items():
        top = cards[:n]
        bottom = [c for c in cards[-n:] if c not in top][::-1]
        result[group] = {"top": top, "bottom": bottom}
    return result


def latest_scored_month(plan_id: int, *, published_only: bool = False) -> ScorePeriod | None:
    """The newest month with scores (the newest revision; published ones only if asked)."""
    query = (select(ScorePeriod).options(joinedload(ScorePeriod.rule_set))
             .where(ScorePeriod.plan_id == plan_id, ScorePeriod.kind == "month",
                    ScorePeriod.computed_at.is_not(None)))
    if published_only:
        query = query.where(ScorePeriod.state == ScorePeriodState.PUBLISHED)
    return db.session.scalar(query.order_by(ScorePeriod.starts_on.desc(),
                                            ScorePeriod.revision.desc()).limit(1))


def monthly_register_trend(plan_id: int, year: int, upto: date) -> dict[str, list]:
    """District register counts at each month end of a year up to `upto` (one query), counted
    by taskflow.measures.indicators like every other enterprise figure."""
    from taskflow.measures.indicators import in_library_series

    months = [m for m in parse_period_key(str(year)).months() if m.starts_on <= upto]
    series = in_library_series(plan_id, [min(m.ends_on, upto) for m in months])
    return {"labels": [m.key for m in months],
            "tech_based": [point["tech_based"] for point in series],
            "high_tech": [point["high_tech"] for point in series]}


def score_trend(plan_id: int, year: int) -> dict[str, dict[str, float]]:
    """{peer group: {month: average total}} over each month's newest revision (one query)."""
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    newest = (select(ScorePeriod.key, func.max(ScorePeriod.revision).label("revision"))
              .where(ScorePeriod.plan_id == plan_id, ScorePeriod.key.in_(months))
              .group_by(ScorePeriod.key).subquery())
    rows = db.session.execute(
        select(ScorePeriod.key, ScoreCard.peer_group, func.avg(ScoreCard.total))
        .join(newest, and_(ScorePeriod.key == newest.c.key, ScorePeriod.revision == newest.c.revision))
        .join(ScoreCard, ScoreCard.period_id == ScorePeriod.id)
        .where(ScorePeriod.plan_id == plan_id)
        .group_by(ScorePeriod.key, ScoreCard.peer_group)
    ).all()
    result: dict[str, dict[str, float]] = defaultdict(dict)
    for key, group, avg in rows:
        result[group][key] = round(float(avg), 2)
    return dict(result)


def plan_goal_targets(plan: Plan) -> dict[str, dict[int, float]]:
    """{indicator code: {year: in-library target}} of the plan's 合计 row, 2025 interpolated."""
    from taskflow.measures.indicators import year_target as interpolate_target
    from taskflow.plans.models import Indicator, Target, TargetKind

    known: dict[str, dict[int, float]] = defaultdict(dict)
    for code, year, value in db.session.execute(
        select(Indicator.code, Target.year, Target.value)
        .join(Indicator, Target.indicator_id == Indicator.id)
        .where(Target.plan_id == plan.id, Target.unit_id.is_(None),
               Target.kind == TargetKind.IN_LIBRARY)
    ):
        known[code][year] = value
    result = {}
    for code, by_year in known.items():
        result[code] = {year: interpolate_target(by_year, year) for year in (2022, 2023, 2025, 2027)}
    return result
