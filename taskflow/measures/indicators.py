"""Enterprise indicators, defined once: register counts, expected-to-date progress, lights.

Every page, export, report, score rule and job that shows an enterprise figure calls this module
(docs/measures.md, "Enterprise indicators"):

- the register counts of a day (科技型企业在库, 高企有效期内, new, cultivated, attracted,
  re-reviews, 专精特新): `figure_conditions(day)` gives the one SQL condition of each figure;
  the counts (`figures_by_unit`, `plan_totals`) and the register's filters
  (`figure_condition`) are both built from it, so a number and its list always agree;
- the year's target (`year_target`: the listed figure, or a whole number on the straight line
  between listed years), the base (`stock_base`), expected-to-date progress (序时进度,
  `expected_to_date`), the completion rate against it and the points behind (`assess`);
- the light (`light_rule`), applied to the whole percentages the pages print, so a page's printed
  rule and its colours always agree;
- the district's figures of a day (`district_figures`): one function for the dispatch board, its
  export, the 创新报表 and the cockpit.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import joinedload

from config import Config
from taskflow.enterprises.models import Enterprise, Source
from taskflow.extensions import db
from taskflow.plans.models import Indicator, Plan, Target
from taskflow.units.models import Unit

TECH, HIGH_TECH = "tech_based", "high_tech"
INDICATOR_CODES = (TECH, HIGH_TECH)

# The register's figures, in table order.
FIGURES = (
    "tech_in_library",
    "tech_new",
    "high_tech_valid",
    "high_tech_new",
    "cultivated",
    "attracted",
    "re_review_due",
    "re_reviewed",
    "specialised",
)

# (figure, indicator code, target kind, is a stock). A stock is measured on its increase from the
# prior year-end figure; a flow counts from zero each year.
PROGRESS_METRICS = (
    ("tech_in_library", TECH, "in_library", True),
    ("high_tech_valid", HIGH_TECH, "in_library", True),
    ("high_tech_new", HIGH_TECH, "new", False),
    ("cultivated", HIGH_TECH, "cultivated", False),
    ("attracted", HIGH_TECH, "attracted", False),
    ("re_reviewed", HIGH_TECH, "re_review", False),
)
# The in-library figure counted for each indicator code.
FIGURE_FOR_CODE = {TECH: "tech_in_library", HIGH_TECH: "high_tech_valid"}

GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "grey"
# "monthly" (default): a month counts once its last day is reached; "daily": by day of the year.
MODES = ("monthly", "daily")
DEFAULT_MODE = "monthly"
DEFAULT_YELLOW_POINTS = 10
DEFAULT_RED_POINTS = 30
# The settings settings() reads (declared in config.py).
SETTING_KEYS = ("LIGHT_YELLOW_POINTS", "LIGHT_RED_POINTS", "PROGRESS_MODE")

# What an assessment says, beside its light.
NO_TARGET = "no_target"          # no target this year: grey, "—"
NO_INCREMENT = "no_increment"    # the year's target asks no increase and the stock holds: grey
BELOW_TARGET = "below_target"    # no increase asked, but the figure fell below the target: red
DECLINE = "decline"              # an increase is asked and the figure fell below its base: red
ON_COURSE = "on_course"          # between base and target: light by points behind
REACHED = "reached"              # the year's target is reached (or exceeded): green


# ---------------------------------------------------------------- dates


def month_end(day: date) -> date:
    """The last day of the month of `day`."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def prior_year_end(day: date) -> date:
    return date(day.year - 1, 12, 31)


# ---------------------------------------------------------------- register counts


def _alive(day: date):
    return or_(Enterprise.closed_on.is_(None), Enterprise.closed_on > day)


def figure_conditions(day: date) -> dict:
    """The SQL condition of each figure for an enterprise, as of the end of `day`."""
    year_start, year_end = date(day.year, 1, 1), date(day.year, 12, 31)
    alive = _alive(day)
    in_library = and_(
        Enterprise.tech_in_library_on <= day,
        or_(Enterprise.tech_removed_on.is_(None), Enterprise.tech_removed_on > day),
        alive,
    )
    new_high_tech = and_(
        Enterprise.high_tech_first_on >= year_start, Enterprise.high_tech_first_on <= day, alive
    )
    return {
        "tech_in_library": in_library,
        "tech_new": and_(in_library, Enterprise.tech_in_library_on >= year_start),
        "high_tech_valid": and_(
            Enterprise.high_tech_first_on <= day, Enterprise.high_tech_expires_on > day, alive
        ),
        "high_tech_new": new_high_tech,
        "cultivated": and_(new_high_tech, Enterprise.source == Source.CULTIVATED),
        "attracted": and_(new_high_tech, Enterprise.source == Source.ATTRACTED),
        # The year's re-review workload: certificates expiring this year, and those renewed
        # this year (whose old certificate expired this year), so past months stay stable.
        "re_review_due": and_(
            Enterprise.high_tech_first_on <= day, alive,
            or_(
                and_(Enterprise.re_review_due_on >= year_start,
                     Enterprise.re_review_due_on <= year_end),
                and_(Enterprise.high_tech_cert_on >= year_start,
                     Enterprise.high_tech_cert_on <= year_end,
                     Enterprise.high_tech_first_on < Enterprise.high_tech_cert_on),
            ),
        ),
        "re_reviewed": and_(
            Enterprise.high_tech_cert_on >= year_start, Enterprise.high_tech_cert_on <= day,
            Enterprise.high_tech_first_on < Enterprise.high_tech_cert_on, alive,
        ),
        "specialised": and_(Enterprise.specialised_sme.is_(True), alive),
    }


def figure_condition(figure: str, day: date):
    """The condition of one figure (for the register's filter); KeyError for an unknown one."""
    return figure_conditions(day)[figure]


def plan_unit_ids(plan_id: int):
    """A subquery of the plan's unit ids: the district counts the enterprises of its units."""
    return select(Unit.id).where(Unit.plan_id == plan_id).scalar_subquery()


def _figure_columns(day: date) -> list:
    return [
        func.coalesce(func.sum(case((cond, 1), else_=0)), 0).label(name)
        for name, cond in figure_conditions(day).items()
    ]


def empty_figures() -> dict[str, int]:
    return {name: 0 for name in FIGURES}


def figures_by_unit(day: date, unit_ids=None) -> dict[int, dict[str, int]]:
    """{unit id: figures} at the end of `day`, one GROUP BY query."""
    stmt = select(Enterprise.unit_id, *_figure_columns(day)).group_by(Enterprise.unit_id)
    if unit_ids is not None:
        stmt = stmt.where(Enterprise.unit_id.in_(list(unit_ids)))
    return {row[0]: {name: int(row[i + 1]) for i, name in enumerate(FIGURES)}
            for row in db.session.execute(stmt)}


def unit_figures(unit_id: int, day: date) -> dict[str, int]:
    """One unit's figures at the end of `day`."""
    return figures_by_unit(day, [unit_id]).get(unit_id, empty_figures())


def total_figures(day: date, unit_ids) -> dict[str, int]:
    """The figures summed over the given units (a list or a subquery), in SQL."""
    ids = unit_ids if not isinstance(unit_ids, (list, tuple, set)) else list(unit_ids)
    stmt = select(*_figure_columns(day)).where(Enterprise.unit_id.in_(ids))
    row = db.session.execute(stmt).one()
    return {name: int(row[i]) for i, name in enumerate(FIGURES)}


def plan_totals(plan_id: int, day: date) -> dict[str, int]:
    """The district's figures: every enterprise attributed to a unit of the plan."""
    return total_figures(day, plan_unit_ids(plan_id))


def in_library_series(plan_id: int, days: list[date]) -> list[dict[str, int]]:
    """[{"tech_based": n, "high_tech": n}] of the plan's units at each day (one query)."""
    if not days:
        return []
    columns = []
    for day in days:
        conditions = figure_conditions(day)
        for figure in FIGURE_FOR_CODE.values():
            columns.append(func.coalesce(func.sum(case((conditions[figure], 1), else_=0)), 0))
    row = db.session.execute(
        select(*columns).where(Enterprise.unit_id.in_(plan_unit_ids(plan_id)))).one()
    codes = list(FIGURE_FOR_CODE)
    return [{code: int(row[i * len(codes) + j]) for j, code in enumerate(codes)}
            for i in range(len(days))]


# ---------------------------------------------------------------- targets


def interpolate_target(known: Mapping[int, float], year: int) -> float | None:
    """The target of `year`, on the straight line between the nearest listed years."""
    if year in known:
        return known[year]
    before = [y for y in known if y < year]
    after = [y for y in known if y > year]
    if not before or not after:
        return None
    y0, y1 = max(before), min(after)
    v0, v1 = known[y0], known[y1]
    return v0 + (v1 - v0) * (year - y0) / (y1 - y0)


def whole(value: float | None) -> int | None:
    """Enterprises are whole: half and more rounds up."""
    return None if value is None else int(math.floor(value + 0.5))


def year_target(known: Mapping[int, float], year: int) -> int | None:
    """The year's target in whole enterprises: listed, or interpolated and rounded."""
    return whole(interpolate_target(known, year))


def indicator_targets(plan_id: int, *, unit_id: int | None = None,
                      all_units: bool = False) -> dict:
    """{unit id or None: {(indicator code, kind): {year: value}}} for the enterprise indicators.

    all_units: every unit's rows plus the plan total (unit None); otherwise only `unit_id`'s
    rows (None: the plan's 合计 rows)."""
    stmt = (
        select(Target.unit_id, Indicator.code, Target.kind, Target.year, Target.value)
        .join(Indicator, Indicator.id == Target.indicator_id)
        .where(Target.plan_id == plan_id, Indicator.code.in_(INDICATOR_CODES))
    )
    if not all_units:
        stmt = stmt.where(Target.unit_id.is_(None) if unit_id is None
                          else Target.unit_id == unit_id)
    result: dict = {}
    for unit, code, kind, year, value in db.session.execute(stmt):
        result.setdefault(unit, {}).setdefault((code, kind), {})[year] = value
    return result


# ---------------------------------------------------------------- expected-to-date, lights


def settings(config: Mapping | None = None) -> dict:
    """yellow/red/mode keyword arguments for assess(), read from the app config."""
    if config is None:
        config = current_app.config
    else:  # a partial mapping (tests): the rest as declared in config.py
        config = {key: getattr(Config, key) for key in SETTING_KEYS} | dict(config)
    return {
        "yellow": config["LIGHT_YELLOW_POINTS"],
        "red": config["LIGHT_RED_POINTS"],
        "mode": config["PROGRESS_MODE"],
    }


def year_fraction(day: date, *, mode: str = DEFAULT_MODE) -> float:
    """Share of the year elapsed at the end of `day` (Dec 31 → 1.0)."""
    if mode not in MODES:
        raise ValueError(f"unknown progress mode: {mode}")
    if mode == "monthly":
        months = day.month if day == month_end(day) else day.month - 1
        return months / 12
    days_in_year = 366 if calendar.isleap(day.year) else 365
    return day.timetuple().tm_yday / days_in_year


def expected_to_date(base: float, target: float, day: date, *, mode: str = DEFAULT_MODE) -> float:
    """Where the figure should be at the end of `day`, on a straight line from base to target;
    never beyond the target nor short of the base."""
    value = base + (target - base) * year_fraction(day, mode=mode)
    low, high = min(base, target), max(base, target)
    return min(max(value, low), high)


def light_rule(state: str, done_pct: int | None, expected_pct: int | None, *,
               yellow: float = DEFAULT_YELLOW_POINTS, red: float = DEFAULT_RED_POINTS) -> str:
    """The light of the figures a page prints (whole percentages).

    Grey without a target or when no increase is asked and the stock holds; red on a decline
    (or a fall below a target that asks no increase); otherwise by points behind
    (序时进度 % − completion %): red from `red`, yellow from `yellow`, else green."""
    if state in (NO_TARGET, NO_INCREMENT):
        return GREY
    if state in (DECLINE, BELOW_TARGET):
        return RED
    behind = max(0, (expected_pct or 0) - (done_pct or 0))
    if behind >= red:
        return RED
    if behind >= yellow:
        return YELLOW
    return GREEN


@dataclass(frozen=True)
class Assessment:
    """One figure against its year's target on a day, as the pages show it."""

    actual: int
    base: float | None
    target: int | None
    expected: float | None       # expected figure to date (序时进度), between base and target
    state: str
    done_pct: int | None         # share of the year's increase achieved, whole %, 0–100
    expected_pct: int | None     # share expected to date, whole %
    points_behind: int | None    # expected_pct − done_pct, ≥ 0
    light: str

    @property
    def has_target(self) -> bool:
        return self.target is not None

    @property
    def completion_pct(self) -> int | None:
        return self.done_pct

    @property
    def change(self) -> int | None:
        """The figure's change since the base (negative: a decline)."""
        return None if self.base is None else int(self.actual - self.base)

    @property
    def decline(self) -> int:
        """How many enterprises the figure lost since its base (DECLINE) or lacks (BELOW_TARGET)."""
        if self.state == DECLINE:
            return int(math.ceil(self.base - self.actual))
        if self.state == BELOW_TARGET:
            return int(self.target - self.actual)
        return 0

    @property
    def surplus(self) -> int:
        """Enterprises beyond the year's target (REACHED)."""
        return int(self.actual - self.target) if self.state == REACHED else 0


def assess(actual: float, base: float | None, target: float | None, day: date, *,
           yellow: float = DEFAULT_YELLOW_POINTS, red: float = DEFAULT_RED_POINTS,
           mode: str = DEFAULT_MODE) -> Assessment:
    """Actual vs the year's target and vs expected-to-date progress, with its light."""
    actual = int(actual)
    if target is None:
        return Assessment(actual, base, None, None, NO_TARGET, None, None, None, GREY)
    target = whole(target)
    base = 0.0 if base is None else float(base)
    if target <= base:
        # No increase asked this year: judged on holding the year's target.
        state = NO_INCREMENT if actual >= target else BELOW_TARGET
        return Assessment(actual, base, target, float(target), state, None, None, None,
                          light_rule(state, None, None, yellow=yellow, red=red))
    expected = expected_to_date(base, target, day, mode=mode)
    expected_pct = int(round(year_fraction(day, mode=mode) * 100))
    if actual >= target:
        state, done = REACHED, 100
    elif actual < base:
        state, done = DECLINE, 0
    else:
        state = ON_COURSE
        # floor: 100 % only once the target is reached.
        done = min(99, int(math.floor((actual - base) / (target - base) * 100 + 1e-9)))
    behind = max(0, expected_pct - done)
    return Assessment(actual, base, target, expected, state, done, expected_pct, behind,
                      light_rule(state, done, expected_pct, yellow=yellow, red=red))


def stock_base(figure: str, by_year: Mapping[int, float], prior: Mapping[str, int], year: int,
               stock_year: int) -> float:
    """The base of a stock figure in `year`: the figure at the end of the prior year.

    For the year after the plan's stock year (2022 → 2023) it is the plan's own stock figure
    (the register may not hold the whole 2022 stock); after that, the register's count at the
    prior year's last day."""
    if year - 1 <= stock_year and (year - 1) in by_year:
        return float(by_year[year - 1])
    return float(prior.get(figure, 0))


def assess_metrics(figures: Mapping[str, int], prior: Mapping[str, int], targets: Mapping,
                   day: date, stock_year: int, *, config: Mapping | None = None,
                   metrics=PROGRESS_METRICS) -> dict[str, Assessment]:
    """Each metric of `figures` against the targets of `day`'s year."""
    rules = settings(config)
    result = {}
    for figure, code, kind, is_stock in metrics:
        by_year = targets.get((code, kind), {})
        if is_stock:
            target = year_target(by_year, day.year)
            base = stock_base(figure, by_year, prior, day.year, stock_year)
        else:
            target, base = by_year.get(day.year), 0.0
        result[figure] = assess(figures.get(figure, 0), base, target, day, **rules)
    return result


def worst_light(assessments) -> str:
    lights = [a.light for a in assessments if a.light != GREY]
    for colour in (RED, YELLOW, GREEN):
        if colour in lights:
            return colour
    return GREY


# ---------------------------------------------------------------- the district's figures


def counted_units(plan_id: int) -> list[Unit]:
    """Units of the plan that have enterprise targets or enterprises, in table order."""
    has_target = Unit.id.in_(
        select(Target.unit_id).where(
            Target.indicator_id.in_(select(Indicator.id).where(Indicator.code.in_(INDICATOR_CODES))),
            Target.unit_id.in_(select(Unit.id).where(Unit.plan_id == plan_id)),
        )
    )
    has_enterprise = exists().where(Enterprise.unit_id == Unit.id)
    return list(db.session.scalars(
        select(Unit).options(joinedload(Unit.parent))
        .where(Unit.plan_id == plan_id, or_(has_target, has_enterprise))
        .order_by(Unit.sort_order, Unit.id)
    ))


@dataclass
class UnitFigures:
    """A unit's figures and progress on a day."""

    unit: Unit
    figures: dict[str, int]
    progress: dict[str, Assessment] = field(default_factory=dict)

    @property
    def worst_light(self) -> str:
        return worst_light(self.progress.values())


def unit_rows(plan: Plan, day: date, units: list[Unit], plan_targets: dict | None = None
              ) -> list[UnitFigures]:
    """Each unit's figures and progress at `day` (three queries whatever the number of units)."""
    ids = [u.id for u in units]
    current = figures_by_unit(day, ids)
    prior = figures_by_unit(prior_year_end(day), ids)
    if plan_targets is None:
        plan_targets = indicator_targets(plan.id, all_units=True)
    rows = []
    for unit in units:
        figures = current.get(unit.id, empty_figures())
        rows.append(UnitFigures(unit, figures, assess_metrics(
            figures, prior.get(unit.id, {}), plan_targets.get(unit.id, {}), day,
            plan.start_year - 1)))
    return rows


@dataclass
class DistrictFigures:
    """The district's figures at the end of `as_of`: unit rows, totals, progress vs both plans."""

    plan: Plan
    as_of: date
    rows: list[UnitFigures]
    totals: dict[str, int]
    against_district: dict[str, Assessment]
    against_city: dict[str, Assessment]
    city_plan: Plan | None

    @property
    def sum_over_units(self) -> dict[str, int]:
        return {name: sum(r.figures[name] for r in self.rows) for name in FIGURES}


def district_figures(plan: Plan, as_of: date, *, with_units: bool = True) -> DistrictFigures:
    """The district's figures at the end of `as_of`: the one source of the dispatch board, its
    export, the 创新报表, the bulletin and the cockpit (a bounded number of queries)."""
    plan_targets = indicator_targets(plan.id, all_units=True)
    rows = unit_rows(plan, as_of, counted_units(plan.id), plan_targets) if with_units else []
    totals = plan_totals(plan.id, as_of)
    prior = plan_totals(plan.id, prior_year_end(as_of))
    city_targets: dict = {}
    city_plan = None
    if plan.parent_id and plan.parent_unit_id:
        city_plan = db.session.get(Plan, plan.parent_id)
        city_targets = indicator_targets(plan.parent_id, unit_id=plan.parent_unit_id).get(
            plan.parent_unit_id, {})
    stock_year = plan.start_year - 1
    city_stock_year = (city_plan.start_year if city_plan else plan.start_year) - 1
    return DistrictFigures(
        plan, as_of, rows, totals,
        assess_metrics(totals, prior, plan_targets.get(None, {}), as_of, stock_year),
        assess_metrics(totals, prior, city_targets, as_of, city_stock_year),
        city_plan,
    )


def month_figures(plan: Plan, month: date) -> DistrictFigures:
    """The district's figures of month `month` as of its last day."""
    return district_figures(plan, month_end(month))
