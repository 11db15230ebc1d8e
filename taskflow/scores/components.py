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

from taskflow.accounts.models import User
from taskflow.assignments.models import Assignment, Milestone, StatusUpdate, UpdateState
from taskflow.core.clock import LOCAL_TZ, to_local
from taskflow.core.roles import UNIT_ROLES
from taskflow.extensions import db
from taskflow.measures import indicators
from taskflow.measures import milestones as mm
from taskflow.plans.models import KeyTask, Plan, TargetKind
from taskflow.scores.models import Component, Recognition
from taskflow.scores.rules import Period, points
from taskflow.units.models import RANKED_PEER_GROUPS, Unit


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
        Unit.plan_id == plan_id, Unit.peer_group.in_(RANKED_PEER_GROUPS)
    ).order_by(Unit.id)


def _item(unit_id, component, value, reason, source_type="", source_id=None, **detail) -> dict:
    return {
        "unit_id": unit_id, "component": component, "points": points(value), "reason": reason,
        "detail": detail, "source_type": source_type, "source_id": source_id,
    }


# ---------------------------------------------------------------- task execution


def milestone_class(days_late: int, grace_days: int) -> str:
    """A closed milestone: on_time, late_minor (up to grace_days working days) or late_major."""
    if days_late <= 0:
        return "on_time"
    if days_late <= grace_days:
        return "late_minor"
    return "late_major"


def overdue_class(days_overdue: int, major_days: int) -> str:
    """An open overdue milestone: overdue_minor (up to major_days working days) or overdue_major."""
    return "overdue_minor" if days_overdue <= major_days else "overdue_major"


def execution_items(ctx: Context) -> list[dict]:
    """Task execution as of the period's end (the milestone measures, in working days).

    - A milestone closed in the period (办结 or 销号, on or before the as-of day): on time, or
      late by up to `grace_days` working days (late_minor) or more (late_major), its lateness
      counted against the original due date (an extension never erases it).
    - A milestone still open and overdue on the as-of day (its due date in force before it):
      overdue_minor (up to `overdue_major_days` working days overdue) or overdue_major. It counts
      in this period and in every later one until it is closed, whenever it fell due; a milestone
      closed after the period's end still counts as overdue in this period.
    Points per class depend on the unit's role, times the milestone's weight. Two queries.
    """
    from taskflow.core.calendar import current as current_calendar

    rules = ctx.params["execution"]
    as_of = ctx.as_of
    cal = current_calendar()
    due_in_force = mm.due_date_at(as_of).label("due_in_force")
    columns = (Milestone.id, Milestone.title, Milestone.original_due_date, Milestone.weight,
               Assignment.unit_id, Assignment.role, KeyTask.number)

    def scored(query):
        return (query.join(Assignment, Milestone.assignment_id == Assignment.id)
                .join(Unit, Assignment.unit_id == Unit.id)
                .join(KeyTask, Assignment.task_id == KeyTask.id)
                .where(Unit.plan_id == ctx.plan_id, Unit.peer_group.in_(RANKED_PEER_GROUPS)))

    closed = db.session.execute(scored(
        select(*columns, Milestone.completed_on)
        .where(mm.closed_clause(as_of), Milestone.completed_on >= ctx.period.starts_on)
    ).order_by(Assignment.unit_id, Milestone.original_due_date, Milestone.id)).all()
    overdue = db.session.execute(scored(
        select(*columns, due_in_force).where(mm.overdue_clause(as_of))
    ).order_by(Assignment.unit_id, Milestone.original_due_date, Milestone.id)).all()

    def item(klass, mid, title, weight, unit_id, role, task_no, **detail):
        role_points = rules.get(role) or rules["responsible"]
        return _item(unit_id, Component.EXECUTION, float(role_points[klass]) * float(weight),
                     f"milestone_{klass}", "milestones", mid, title=title, role=role,
                     weight=float(weight), task=task_no, **detail)

    items = []
    for mid, title, original_due, weight, unit_id, role, task_no, closed_on in closed:
        late = mm.lateness_working_days(original_due, closed_on, cal)
        items.append(item(milestone_class(late, rules["grace_days"]), mid, title, weight, unit_id,
                          role, task_no, due=original_due.isoformat(),
                          closed=closed_on.isoformat(), days_late=late))
    for mid, title, _original_due, weight, unit_id, role, task_no, due in overdue:
        days = mm.working_days_overdue(due, as_of, cal)
        items.append(item(overdue_class(days, rules["overdue_major_days"]), mid, title, weight,
                          unit_id, role, task_no, due=due.isoformat(), as_of=as_of.isoformat(),
                          days_overdue=days))
    items.sort(key=lambda item: (item["unit_id"], item["reason"].startswith("milestone_overdue"),
                                 item["detail"]["due"], item["source_id"]))
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
    """Urge notices whose answer was due in the period, as of the period's end: answered on time,
    answered late, or not answered by the as-of day (an answer given after it does not count)."""
    from taskflow.notices.models import UrgeNotice

    rules = ctx.params["responsiveness"]
    as_of = ctx.as_of
    rows = db.session.execute(
        select(UrgeNotice.id, UrgeNotice.number, UrgeNotice.level, UrgeNotice.unit_id,
               UrgeNotice.response_due, UrgeNotice.responded_at, UrgeNotice.answered_late)
        .join(Unit, UrgeNotice.unit_id == Unit.id)
        .where(Unit.plan_id == ctx.plan_id, Unit.peer_group.in_(RANKED_PEER_GROUPS),
               UrgeNotice.response_due >= ctx.period.starts_on,
               UrgeNotice.response_due <= ctx.period.ends_on)
        .order_by(UrgeNotice.unit_id, UrgeNotice.response_due, UrgeNotice.id)
    ).all()
    items = []
    for nid, number, level, unit_id, due, responded_at, answered_late in rows:
        answered_on = to_local(responded_at).date() if responded_at is not None else None
        if answered_on is not None and answered_on <= as_of:
            if answered_late is None:  # recorded with the answer; computed for older rows
                answered_late = answered_on > due
            klass = "late" if answered_late else "on_time"
        elif due < as_of:
            klass, answered_on = "unanswered", None
        else:
            continue  # not answered yet and not yet due on the as-of day: nothing to score
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
        .where(Unit.plan_id == ctx.plan_id, Unit.peer_group.in_(RANKED_PEER_GROUPS),
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
        .where(Unit.plan_id == ctx.plan_id, Unit.peer_group.in_(RANKED_PEER_GROUPS),
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


# The components whose points are deductions against a maximum (incentive is a bonus on top).
DEDUCTION_COMPONENTS = (Component.EXECUTION, Component.INDICATORS, Component.RESPONSIVENESS,
                        Component.QUALITY)


def component_maxima(params: dict) -> dict[str, float]:
    """The most points each deduction component can take away (from the rule parameters)."""
    return {
        Component.EXECUTION: abs(float(params["execution"]["floor"])),
        Component.INDICATORS: float(params["indicators"]["max_deduction_per_indicator"])
        * len(params["indicators"]["codes"]),
        Component.RESPONSIVENESS: abs(float(params["responsiveness"]["floor"])),
        Component.QUALITY: abs(float(params["quality"]["floor"])),
    }


def _clamped(value: float, component: str, params: dict) -> float:
    floor, cap = component_limits(params)[component]
    if floor is not None:
        value = max(value, float(floor))
    if cap is not None:
        value = min(value, float(cap))
    return value


def reweighted_indicator_items(items: list[dict], params: dict) -> tuple[list[dict], set[int]]:
    """Units without an indicator target: their indicator component, re-weighted; who is not rated.

    A unit with no in-library target has no indicator facts, so leaving its indicator component
    at 0 would give it the component's full marks for free. Instead its indicator component
    takes the share of points it lost in the other deduction components that apply to it (those
    in which it had at least one item this period):

        indicators = − indicator maximum × Σ points lost / Σ maxima   (over the components that apply)

    so a unit that loses 25 % of what it could lose elsewhere loses 25 % of the indicator maximum
    too. A unit to which no deduction component applies (no target, nothing due or overdue, no
    notice, no review) has nothing to be scored on: it is not rated and not ranked this period.
    Returns (the items to add, the unit ids not rated).
    """
    maxima = component_maxima(params)
    sums: dict[int, dict[str, float]] = defaultdict(dict)
    for item in items:
        per_unit = sums[item["unit_id"]]
        per_unit[item["component"]] = per_unit.get(item["component"], 0.0) + float(item["points"])
    added, not_rated = [], set()
    for unit_id in sorted(sums):
        applies = [c for c in DEDUCTION_COMPONENTS if c in sums[unit_id]]
        if Component.INDICATORS in applies:
            continue
        if not applies:
            not_rated.add(unit_id)
            continue
        lost = sum(max(0.0, -_clamped(sums[unit_id][c], c, params)) for c in applies)
        possible = sum(maxima[c] for c in applies)
        share = lost / possible if possible else 0.0
        added.append(_item(unit_id, Component.INDICATORS, -maxima[Component.INDICATORS] * share,
                           "indicator_reweighted", "", None,
                           components=[str(c) for c in applies], lost=round(lost, 2),
                           possible=round(possible, 2), share_pct=round(share * 100, 1),
                           maximum=maxima[Component.INDICATORS]))
    return added, not_rated


def all_items(ctx: Context, unit_ids=None) -> tuple[list[dict], set[int]]:
    """Every item of every component, in a stable order, and the scored units not rated.

    `unit_ids`: the scored units (every unit in a ranked peer group), so that a unit with no
    item at all is known as not rated.
    """
    facts = indicator_facts(ctx)
    items = (execution_items(ctx) + indicator_items(ctx, facts) + responsiveness_items(ctx)
             + quality_items(ctx) + incentive_items(ctx, facts))
    added, not_rated = reweighted_indicator_items(items, ctx.params)
    seen = {item["unit_id"] for item in items}
    not_rated |= {uid for uid in (unit_ids or ()) if uid not in seen}
    return items + added, not_rated
