"""Reads and roll-ups of the register: figures per unit as aggregate SQL, progress vs targets."""

import calendar
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import joinedload

from taskflow.core import progress as prog
from taskflow.enterprises.models import (
    ClaimConflict,
    ClaimState,
    DispatchConfirmation,
    DispatchPeriod,
    Enterprise,
    Source,
)
from taskflow.extensions import db
from taskflow.plans.models import Indicator, Plan, Target
from taskflow.units.models import Unit

TECH, HIGH_TECH = "tech_based", "high_tech"
INDICATOR_CODES = (TECH, HIGH_TECH)

# The figures of the monthly dispatch, in table order.
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

# (figure, indicator code, target kind, is a stock). Stocks start from the prior year-end figure
# and have targets between listed years interpolated; flows start from zero each year.
PROGRESS_METRICS = (
    ("tech_in_library", TECH, "in_library", True),
    ("high_tech_valid", HIGH_TECH, "in_library", True),
    ("high_tech_new", HIGH_TECH, "new", False),
    ("cultivated", HIGH_TECH, "cultivated", False),
    ("attracted", HIGH_TECH, "attracted", False),
    ("re_reviewed", HIGH_TECH, "re_review", False),
)


def month_end(month: date) -> date:
    """The last day of the month of `month`."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _alive(day: date):
    return or_(Enterprise.closed_on.is_(None), Enterprise.closed_on > day)


def figure_conditions(day: date) -> dict:
    """SQL conditions, one per figure, for an enterprise as of the end of `day`."""
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
    """The same figures summed over the given units, in SQL."""
    stmt = select(*_figure_columns(day)).where(Enterprise.unit_id.in_(list(unit_ids)))
    row = db.session.execute(stmt).one()
    return {name: int(row[i]) for i, name in enumerate(FIGURES)}


# ---------------------------------------------------------------- plans, units, targets


def district_plan() -> Plan | None:
    """The district plan the register counts for (the latest district-level plan)."""
    return db.session.scalar(
        select(Plan).where(Plan.level == "district").order_by(Plan.id.desc()).limit(1)
    )


def dispatch_units(plan_id: int) -> list[Unit]:
    """Units of the plan that have enterprise targets or enterprises, in table order."""
    # One uncorrelated list of the plan's units with targets (not an EXISTS per unit, which
    # SQLite answers by scanning every plan's targets of the indicator for each unit).
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


def plan_unit_ids(plan_id: int):
    """A subquery of the plan's unit ids."""
    return select(Unit.id).where(Unit.plan_id == plan_id).scalar_subquery()


def targets(plan_id: int, *, unit_id: int | None = None, all_units: bool = False) -> dict:
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


@dataclass
class ProgressRow:
    """Figures and progress of one unit (or of the district) on a day."""

    unit: Unit | None
    figures: dict[str, int]
    progress: dict[str, prog.Progress] = field(default_factory=dict)
    confirmation: DispatchConfirmation | None = None

    @property
    def worst_light(self) -> str:
        order = [prog.RED, prog.YELLOW, prog.GREEN]
        lights = [p.light for p in self.progress.values() if p.light != prog.GREY]
        for colour in order:
            if colour in lights:
                return colour
        return prog.GREY


def assess_all(figures: dict[str, int], prior: dict[str, int], unit_targets: dict,
               day: date, stock_year: int) -> dict[str, prog.Progress]:
    """Progress of each metric against the targets of `day`'s year.

    A stock starts from the prior year-end figure: the plan's own figure for its stock year
    (2022, the year before the plan starts), the register's count at the prior year's end after."""
    settings = prog.thresholds(current_app.config)
    result = {}
    for figure, code, kind, is_stock in PROGRESS_METRICS:
        by_year = unit_targets.get((code, kind), {})
        if is_stock:
            target = prog.interpolate_target(by_year, day.year)
            if day.year - 1 <= stock_year and (day.year - 1) in by_year:
                base = by_year[day.year - 1]
            else:
                base = prior.get(figure, 0)
        else:
            target = by_year.get(day.year)
            base = 0
        result[figure] = prog.assess(figures.get(figure, 0), base, target, day, **settings)
    return result


def progress_rows(plan: Plan, day: date, units: list[Unit]) -> list[ProgressRow]:
    """Each unit's figures and progress at `day` (four queries whatever the number of units)."""
    ids = [u.id for u in units]
    current = figures_by_unit(day, ids)
    prior = figures_by_unit(date(day.year - 1, 12, 31), ids)
    plan_targets = targets(plan.id, all_units=True)
    rows = []
    for unit in units:
        figures = current.get(unit.id, empty_figures())
        rows.append(ProgressRow(unit, figures, assess_all(
            figures, prior.get(unit.id, {}), plan_targets.get(unit.id, {}), day,
            plan.start_year - 1)))
    return rows


@dataclass
class DistrictProgress:
    """District totals vs the district plan's 合计 and vs the city plan's row for the district."""

    totals: dict[str, int]
    against_district: dict[str, prog.Progress]
    against_city: dict[str, prog.Progress]
    city_plan: Plan | None


def district_progress(plan: Plan, day: date, unit_ids: list[int]) -> DistrictProgress:
    """Totals over the units (SQL), assessed against both plans."""
    totals = total_figures(day, unit_ids)
    prior = total_figures(date(day.year - 1, 12, 31), unit_ids)
    district_targets = targets(plan.id).get(None, {})
    city_targets: dict = {}
    city_plan = None
    if plan.parent_id and plan.parent_unit_id:
        city_plan = db.session.get(Plan, plan.parent_id)
        city_targets = targets(plan.parent_id, unit_id=plan.parent_unit_id).get(
            plan.parent_unit_id, {})
    return DistrictProgress(
        totals,
        assess_all(totals, prior, district_targets, day, plan.start_year - 1),
        assess_all(totals, prior, city_targets, day,
                   (city_plan.start_year if city_plan else plan.start_year) - 1),
        city_plan,
    )


# ---------------------------------------------------------------- dispatch


def confirmations(period_id: int) -> dict[int, DispatchConfirmation]:
    """{unit id: confirmation row} of a period (one query)."""
    rows = db.session.scalars(
        select(DispatchConfirmation)
        .options(joinedload(DispatchConfirmation.confirmed_by))
        .where(DispatchConfirmation.period_id == period_id)
    )
    return {row.unit_id: row for row in rows}


@dataclass
class Board:
    """The office's dispatch board of one month."""

    period: DispatchPeriod
    plan: Plan
    rows: list[ProgressRow]
    district: DistrictProgress

    @property
    def confirmed_count(self) -> int:
        return sum(1 for r in self.rows if r.confirmation and r.confirmation.confirmed_at)

    @property
    def sum_over_units(self) -> dict[str, int]:
        return {name: sum(r.figures[name] for r in self.rows) for name in FIGURES}


def board(period: DispatchPeriod) -> Board:
    """Units × figures with lights and confirmations, and the district totals."""
    plan = db.session.get(Plan, period.plan_id)
    units = dispatch_units(plan.id)
    day = period.month_end
    rows = progress_rows(plan, day, units)
    confirmed = confirmations(period.id)
    for row in rows:
        row.confirmation = confirmed.get(row.unit.id)
    return Board(period, plan, rows, district_progress(plan, day, [u.id for u in units]))


def periods(plan_id: int) -> list[DispatchPeriod]:
    return list(db.session.scalars(
        select(DispatchPeriod).where(DispatchPeriod.plan_id == plan_id)
        .order_by(DispatchPeriod.month.desc())
    ))


def period_summaries(plan_id: int) -> dict[int, int]:
    """{period id: number of confirmed units}, one GROUP BY query."""
    stmt = (select(DispatchConfirmation.period_id, func.count())
            .join(DispatchPeriod, DispatchPeriod.id == DispatchConfirmation.period_id)
            .where(DispatchPeriod.plan_id == plan_id,
                   DispatchConfirmation.confirmed_at.is_not(None))
            .group_by(DispatchConfirmation.period_id))
    return dict(db.session.execute(stmt).all())


def latest_period(plan_id: int) -> DispatchPeriod | None:
    return db.session.scalar(
        select(DispatchPeriod).where(DispatchPeriod.plan_id == plan_id)
        .order_by(DispatchPeriod.month.desc()).limit(1)
    )


# ---------------------------------------------------------------- register


def register_query(*, q: str = "", unit_id: int | None = None, status: str = "",
                   source: str = "", high_tech: str = "", specialised: str = "",
                   today: date | None = None):
    """The register filtered as the search form asks (a select, to paginate)."""
    stmt = select(Enterprise).options(joinedload(Enterprise.unit))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Enterprise.name.ilike(like),
                              Enterprise.credit_code.ilike(like.upper())))
    if unit_id:
        stmt = stmt.where(Enterprise.unit_id == unit_id)
    if status:
        stmt = stmt.where(Enterprise.status == status)
    if source:
        stmt = stmt.where(Enterprise.source == source)
    if high_tech in ("yes", "no") and today is not None:
        valid = and_(Enterprise.high_tech_first_on <= today,
                     Enterprise.high_tech_expires_on > today)
        stmt = stmt.where(valid if high_tech == "yes" else or_(
            Enterprise.high_tech_first_on.is_(None), ~valid))
    if specialised == "yes":
        stmt = stmt.where(Enterprise.specialised_sme.is_(True))
    return stmt.order_by(Enterprise.name, Enterprise.id)


def open_claims(unit_id: int | None = None):
    """Open claim conflicts (of one unit, as holder or claimant, when given)."""
    stmt = (select(ClaimConflict)
            .options(joinedload(ClaimConflict.enterprise), joinedload(ClaimConflict.holder_unit),
                     joinedload(ClaimConflict.claimant_unit), joinedload(ClaimConflict.claimed_by))
            .where(ClaimConflict.state == ClaimState.OPEN)
            .order_by(ClaimConflict.claimed_at))
    if unit_id is not None:
        stmt = stmt.where(or_(ClaimConflict.holder_unit_id == unit_id,
                              ClaimConflict.claimant_unit_id == unit_id))
    return stmt


def unit_by_name(plan_id: int, name: str) -> Unit | None:
    """A unit of the plan by its name or one of its aliases."""
    from taskflow.units.models import UnitAlias

    unit = db.session.scalar(select(Unit).where(Unit.plan_id == plan_id, Unit.name == name))
    if unit is None:
        unit = db.session.scalar(
            select(Unit).join(UnitAlias, UnitAlias.unit_id == Unit.id)
            .where(UnitAlias.plan_id == plan_id, UnitAlias.alias == name)
        )
    return unit
