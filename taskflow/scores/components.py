"""The five score components, each read from the domain tables with a few set-based queries.

Every function returns ScoreItem rows as dicts (unit, component, points, reason, detail, source):
one row per event behind the score, so a unit sees exactly why its total is what it is. The
queries filter and join in SQL over all scored units at once (never one query per unit); Python
only maps each fetched row to its points with the rule set's parameters.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import aliased

from taskflow.accounts.models import UNIT_ROLES, User
from taskflow.assignments.models import Assignment, Milestone, StatusUpdate, UpdateState
from taskflow.core.clock import LOCAL_TZ, to_local
from taskflow.extensions import db
from taskflow.measures import indicators
from taskflow.plans.models import KeyTask, Plan, TargetKind
from taskflow.scores.models import Component, Recognition
from taskflow.scores.rules import Period, points
from taskflow.units.models import Unit

# Peer groups that are scored and ranked (赛马比拼 among departments, streets and towns, parks).
RANKED_GROUPS = ("department", "street_town", "park_task_force")


@dataclass(frozen=True)
class Context:
    """What one computation reads: plan, period, the facts' day, today, the rule parameters."""

    plan_id: int
    period: Period
    today: date
    params: dict

    @property
    def as_of(self) -> date:
        return self.period.as_of(self.today)

    @property
    def start_utc(self) -> datetime:
        return local_midnight_utc(self.period.starts_on)

    @property
    def end_utc(self) -> datetime:
        """Exclusive end: midnight after the period's last day (Asia/Shanghai)."""
        return local_midnight_utc(self.period.ends_on + timedelta(days=1))


def local_midnight_utc(day: date) -> datetime:
    """00:00 of a local (Asia/Shanghai) day, as UTC."""
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(timezone.utc)


def scored_units_query(plan_id: int):
    """Units of the plan that are scored: those in a ranked peer group."""
    return select(Unit.id, Unit.peer_group).where(
        Unit.plan_id == plan_id, Unit.peer_group.in_(RANKED_GROUPS)
    ).order_by(Unit.id)


def _item(unit_id, component, value, reason, source_type="", source_id=None, **detail) -> dict:
    return {
        "unit_id": unit_id, "component": component, "points": points(value), "reason": reason,
        "detail": detail, "source_type": source_type, "source_id": source_id,
    }


# ---------------------------------------------------------------- task execution


def milestone_class(days_late: int, grace_days: int) -> str:
    """on_time, late_minor (up to grace_days days) or late_major."""
    if days_late <= 0:
        return "on_time"
    if days_late <= grace_days:
        return "late_minor"
    return "late_major"


def execution_items(ctx: Context) -> list[dict]:
    """Milestones originally due in the period: on time, late (≤ N days / more) or missing.

    A milestone counts once it is completed, or once its original due date has passed
    unfinished (missing). Lateness is against the original due date, so an extension granted
    later does not erase it. Points per class depend on the unit's role, times the weight.
    """
    rules = ctx.params["execution"]
    rows = db.session.execute(
        select(Milestone.id, Milestone.title, Milestone.original_due_date, Milestone.completed_on,
               Milestone.days_late, Milestone.weight, Assignment.unit_id, Assignment.role,
               KeyTask.number)
        .join(Assignment, Milestone.assignment_id == Assignment.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .join(KeyTask, Assignment.task_id == KeyTask.id)
        .where(
            Unit.plan_id == ctx.plan_id, Unit.peer_group.in_(RANKED_GROUPS),
            Milestone.original_due_date >= ctx.period.starts_on,
            Milestone.original_due_date <= ctx.period.ends_on,
            or_(Milestone.completed_on.is_not(None), Milestone.original_due_date < ctx.today),
        )
        .order_by(Assignment.unit_id, Milestone.original_due_date, Milestone.id)
    ).all()
    items = []
    for (mid, title, due, completed_on, days_late, weight, unit_id, role, task_no) in rows:
        role_points = rules.get(role) or rules["responsible"]
        if completed_on is None:
            klass, late = "missing", (ctx.today - due).days
        else:
            late = days_late if days_late is not None else max(0, (completed_on - due).days)
            klass = milestone_class(late, rules["grace_days"])
        value = float(role_points[klass]) * float(weight)
        items.append(_item(unit_id, Component.EXECUTION, value, f"milestone_{klass}", "milestones",
                           mid, title=title, due=due.isoformat(), days_late=late, role=role,
                           weight=float(weight), task=task_no))
    return items


# ---------------------------------------------------------------- indicator completion


REGISTER_CODES = ("tech_based", "high_tech")


def register_counts(day: date, unit_ids=None) -> dict[int, dict[str, int]]:
    """{unit id: {"tech_based": n, "high_tech": n}} from the register on `day` (one GROUP BY query).

    The counting rules are taskflow.measures.indicators' only: an enterprise counts once, for the
    unit it is attributed to, while it is in the library / holds a valid certificate.
    """
    return {unit_id: {code: figures.get(figure, 0)
                      for code, figure in indicators.FIGURE_FOR_CODE.items()}
            for unit_id, figures in indicators.figures_by_unit(day, unit_ids).items()}


def unit_targets(plan_id: int, codes) -> dict[int, dict[str, dict[int, int]]]:
    """{unit id: {indicator code: {year: in-library target}}} (one query)."""
    result: dict[int, dict[str, dict[int, int]]] = defaultdict(dict)
    for unit_id, rows in indicators.indicator_targets(plan_id, all_units=True).items():
        if unit_id is None:
            continue
        for (code, kind), by_year in rows.items():
            if kind == TargetKind.IN_LIBRARY and code in codes:
                result[unit_id][code] = dict(by_year)
    return result


@dataclass(frozen=True)
class IndicatorFact:
    unit_id: int
    code: str
    actual: int
    base: float
    target: float
    assessed: indicators.Assessment


def indicator_facts(ctx: Context) -> list[IndicatorFact]:
    """Each scored unit's in-library figure against its year target and expected-to-date progress,
    assessed exactly as the dispatch board assesses it (taskflow.measures.indicators.assess)."""
    codes = ctx.params["indicators"]["codes"]
    targets = unit_targets(ctx.plan_id, codes)
    if not targets:
        return []
    scored = {uid for uid, _g in db.session.execute(scored_units_query(ctx.plan_id))}
    ids = sorted(scored & set(targets))
    counts = register_counts(ctx.as_of, ids)
    prior = indicators.figures_by_unit(indicators.prior_year_end(ctx.as_of), ids)
    start_year = db.session.scalar(select(Plan.start_year).where(Plan.id == ctx.plan_id))
    rules = indicators.settings()
    facts = []
    for unit_id in ids:
        for code in codes:
            known = targets[unit_id].get(code)
            if not known:
                continue
            target = indicators.year_target(known, ctx.as_of.year)
            if target is None:
                continue
            figure = indicators.FIGURE_FOR_CODE[code]
            base = indicators.stock_base(figure, known, prior.get(unit_id, {}), ctx.as_of.year,
                                         start_year - 1)
            actual = counts.get(unit_id, {}).get(code, 0)
            assessed = indicators.assess(actual, base, target, ctx.as_of, **rules)
            facts.append(IndicatorFact(unit_id, code, actual, base, target, assessed))
    return facts


def indicator_items(ctx: Context, facts: list[IndicatorFact]) -> list[dict]:
    """−points per 10 points behind expected-to-date progress, capped per indicator."""
    rules = ctx.params["indicators"]
    items = []
    for fact in facts:
        behind = fact.assessed.points_behind or 0.0
        deduction = min(float(rules["max_deduction_per_indicator"]),
                        behind / 10 * float(rules["points_per_10_behind"]))
        items.append(_item(
            fact.unit_id, Component.INDICATORS, -deduction,
            "indicator_behind" if deduction > 0 else "indicator_on_track", "indicators", None,
            indicator=fact.code, actual=fact.actual, base=round(fact.base, 2),
            target=round(fact.target, 2), expected=round(fact.assessed.expected or 0, 2),
            completion_pct=round(fact.assessed.completion_pct or 0, 1),
            expected_pct=round(fact.assessed.expected_pct or 0, 1), behind=round(behind, 1),
        ))
    return items


# ---------------------------------------------------------------- responsiveness


def responsiveness_items(ctx: Context) -> list[dict]:
    """Urge notices issued in the period: answered on time, late, or unanswered past the due date."""
    from taskflow.notices.models import UrgeNotice

    rules = ctx.params["responsiveness"]
    rows = db.session.execute(
        select(UrgeNotice.id, UrgeNotice.number, UrgeNotice.level, UrgeNotice.unit_id,
               UrgeNotice.response_due, UrgeNotice.responded_at, UrgeNotice.answered_late)
        .join(Unit, UrgeNotice.unit_id == Unit.id)
        .where(Unit.plan_id == ctx.plan_id, Unit.peer_group.in_(RANKED_GROUPS),
               UrgeNotice.issued_at >= ctx.start_utc, UrgeNotice.issued_at < ctx.end_utc)
        .order_by(UrgeNotice.unit_id, UrgeNotice.issued_at, UrgeNotice.id)
    ).all()
    items = []
    for nid, number, level, unit_id, due, responded_at, answered_late in rows:
        if responded_at is not None:
            answered_on = to_local(responded_at).date()
            if answered_late is None:  # recorded with the answer; computed for older rows
                answered_late = answered_on > due
            klass = "late" if answered_late else "on_time"
        elif due < ctx.today:
            klass, answered_on = "unanswered", None
        else:
            continue  # still open and not yet due: nothing to score
        factor = float(rules["level_factor"].get(level, 1))
        items.append(_item(unit_id, Component.RESPONSIVENESS, float(rules[klass]) * factor,
                           f"notice_{klass}", "urge_notices", nid, number=number, level=level,
                           due=due.isoformat(),
                           answered=answered_on.isoformat() if answered_on else None))
    return items


# ---------------------------------------------------------------- quality


def quality_items(ctx: Context) -> list[dict]:
    """Office reviews in the period: accepted at first submission, returned, returned as false."""
    rules = ctx.params["quality"]
    earlier = aliased(StatusUpdate)
    first = ~exists().where(earlier.milestone_id == StatusUpdate.milestone_id,
                            earlier.id < StatusUpdate.id)
    rows = db.session.execute(
        select(StatusUpdate.id, StatusUpdate.state, StatusUpdate.reason_code, first.label("first"),
               Milestone.id, Milestone.title, Assignment.unit_id)
        .join(Milestone, StatusUpdate.milestone_id == Milestone.id)
        .join(Assignment, Milestone.assignment_id == Assignment.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .join(User, StatusUpdate.reviewer_id == User.id)
        .where(Unit.plan_id == ctx.plan_id, Unit.peer_group.in_(RANKED_GROUPS),
               User.role.not_in([r.value for r in UNIT_ROLES]),  # the office, not the unit head
               StatusUpdate.state.in_([UpdateState.ACCEPTED, UpdateState.RETURNED]),
               StatusUpdate.reviewed_at >= ctx.start_utc, StatusUpdate.reviewed_at < ctx.end_utc)
        .order_by(Assignment.unit_id, StatusUpdate.reviewed_at, StatusUpdate.id)
    ).all()
    items = []
    for uid, state, reason_code, is_first, mid, title, unit_id in rows:
        if state == UpdateState.ACCEPTED:
            if not is_first:
                continue
            items.append(_item(unit_id, Component.QUALITY, rules["first_pass"], "first_pass",
                               "status_updates", uid, title=title, milestone=mid))
        elif reason_code == "false_reporting":
            items.append(_item(unit_id, Component.QUALITY, rules["false_reporting"],
                               "returned_false", "status_updates", uid, title=title, milestone=mid))
        else:
            items.append(_item(unit_id, Component.QUALITY, rules["return"], "returned",
                               "status_updates", uid, title=title, milestone=mid,
                               reason_code=reason_code))
    return items


# ---------------------------------------------------------------- incentive


def incentive_items(ctx: Context, facts: list[IndicatorFact]) -> list[dict]:
    """A year target reached, and recognitions awarded in the period (each capped)."""
    rules = ctx.params["incentive"]
    items = []
    for fact in facts:
        if fact.target > fact.base and fact.actual >= fact.target:
            items.append(_item(fact.unit_id, Component.INCENTIVE, rules["target_met"], "target_met",
                               "indicators", None, indicator=fact.code, actual=fact.actual,
                               target=round(fact.target, 2)))
    rows = db.session.execute(
        select(Recognition.id, Recognition.unit_id, Recognition.title, Recognition.points,
               Recognition.awarded_on)
        .join(Unit, Recognition.unit_id == Unit.id)
        .where(Unit.plan_id == ctx.plan_id, Unit.peer_group.in_(RANKED_GROUPS),
               Recognition.awarded_on >= ctx.period.starts_on,
               Recognition.awarded_on <= ctx.period.ends_on)
        .order_by(Recognition.unit_id, Recognition.awarded_on, Recognition.id)
    ).all()
    for rid, unit_id, title, value, awarded_on in rows:
        items.append(_item(unit_id, Component.INCENTIVE,
                           min(float(value), float(rules["recognition_max"])), "recognition",
                           "score_recognitions", rid, title=title, awarded=awarded_on.isoformat()))
    return items


# ---------------------------------------------------------------- limits per component


def component_limits(params: dict) -> dict[str, tuple[float | None, float | None]]:
    """(floor, cap) of each component's sum."""
    return {
        Component.EXECUTION: (params["execution"]["floor"], None),
        Component.INDICATORS: (None, None),  # already capped per indicator
        Component.RESPONSIVENESS: (params["responsiveness"]["floor"], None),
        Component.QUALITY: (params["quality"]["floor"], params["quality"]["bonus_cap"]),
        Component.INCENTIVE: (None, params["incentive"]["cap"]),
    }


def all_items(ctx: Context) -> list[dict]:
    """Every item of every component, in a stable order."""
    facts = indicator_facts(ctx)
    return (execution_items(ctx) + indicator_items(ctx, facts) + responsiveness_items(ctx)
            + quality_items(ctx) + incentive_items(ctx, facts))
