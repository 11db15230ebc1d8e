"""Reads and roll-ups of the register: figures per unit as aggregate SQL, progress vs targets."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from taskflow.core import clock
from taskflow.enterprises.models import (
    ClaimConflict,
    ClaimState,
    DispatchConfirmation,
    DispatchPeriod,
    Enterprise,
    ExportJob,
)
from taskflow.extensions import db
from taskflow.measures import indicators as ind
from taskflow.measures.indicators import FIGURES, PROGRESS_METRICS, month_end  # noqa: F401
from taskflow.plans.models import Plan
from taskflow.units.models import Unit, UnitKind


def unit_figures(unit_id: int, day: date) -> dict[str, int]:
    """One unit's figures at the end of `day` (taskflow.measures.indicators)."""
    return ind.unit_figures(unit_id, day)


def dispatch_units(plan_id: int) -> list[Unit]:
    """Units of the plan shown on the dispatch board (those the district's figures count)."""
    return ind.counted_units(plan_id)


# ---------------------------------------------------------------- dispatch


def confirmations(period_id: int) -> dict[int, DispatchConfirmation]:
    """{unit id: confirmation row} of a period (one query)."""
    rows = db.session.scalars(
        select(DispatchConfirmation)
        .options(joinedload(DispatchConfirmation.confirmed_by))
        .where(DispatchConfirmation.period_id == period_id)
    )
    return {row.unit_id: row for row in rows}


def units_not_confirmed(period: DispatchPeriod) -> list[Unit]:
    """The period's units that have not confirmed yet, in table order (two queries)."""
    confirmed = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id,
        DispatchConfirmation.confirmed_at.is_not(None))))
    return [u for u in dispatch_units(period.plan_id) if u.id not in confirmed]


@dataclass
class Board:
    """The office's dispatch board of one month: the district's figures at the month's end."""

    period: DispatchPeriod
    plan: Plan
    district: ind.DistrictFigures
    confirmed: dict[int, DispatchConfirmation]
    late_as_of: date

    @property
    def rows(self) -> list[ind.UnitFigures]:
        return self.district.rows

    @property
    def as_of(self) -> date:
        return self.district.as_of

    def confirmation(self, unit_id: int) -> DispatchConfirmation | None:
        return self.confirmed.get(unit_id)

    def late(self, unit_id: int) -> bool:
        """The unit's lateness as of late_as_of (confirmation_late: the page and the export)."""
        return confirmation_late(self.period, self.confirmed.get(unit_id), self.late_as_of)

    @property
    def confirmed_count(self) -> int:
        return sum(1 for r in self.rows
                   if (c := self.confirmed.get(r.unit.id)) is not None and c.confirmed_at)


def board(period: DispatchPeriod) -> Board:
    """Units × figures with lights and confirmations, and the district totals."""
    plan = db.session.get(Plan, period.plan_id)
    return Board(period, plan, ind.month_figures(plan, period.month), confirmations(period.id),
                 lateness_as_of(period))


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


# Register filters that reproduce a counted figure: ?figure=<name>&on=<YYYY-MM-DD>.
REGISTER_FIGURES = FIGURES


def register_query(*, q: str = "", unit_id: int | None = None, status: str = "",
                   source: str = "", high_tech: str = "", specialised: str = "",
                   figure: str = "", on: date | None = None, plan_id: int | None = None,
                   today: date | None = None):
    """The register filtered as the search form asks (a select, to paginate).

    `figure` on day `on` applies the very SQL condition the figure is counted with
    (taskflow.measures.indicators.figure_conditions), restricted to the plan's units as the
    district's figures are, so the list has exactly as many rows as the number that links here."""
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
    if figure in REGISTER_FIGURES and on is not None:
        stmt = stmt.where(ind.figure_condition(figure, on))
        if plan_id is not None:
            stmt = stmt.where(Enterprise.unit_id.in_(ind.plan_unit_ids(plan_id)))
    if high_tech in ("yes", "no") and today is not None:
        valid = ind.figure_condition("high_tech_valid", today)
        stmt = stmt.where(valid if high_tech == "yes" else or_(
            Enterprise.high_tech_first_on.is_(None), ~valid))
    if specialised == "yes":
        stmt = stmt.where(Enterprise.specialised_sme.is_(True))
    return stmt.order_by(Enterprise.name, Enterprise.id)


def register_export_query(**filters):
    """The register_query rows as plain columns, for the Excel export (no ORM objects: the city's
    200,000 rows stream in constant memory): name, credit code, unit name, source, tech in-library
    and removal days, high-tech certificate number, date and expiry, 专精特新, status."""
    base = register_query(**filters)
    stmt = (select(Enterprise.name, Enterprise.credit_code, Unit.name, Enterprise.source,
                   Enterprise.tech_in_library_on, Enterprise.tech_removed_on,
                   Enterprise.high_tech_cert_no, Enterprise.high_tech_cert_on,
                   Enterprise.high_tech_expires_on, Enterprise.specialised_sme,
                   Enterprise.status)
            .select_from(Enterprise).join(Unit, Unit.id == Enterprise.unit_id)
            .order_by(Enterprise.name, Enterprise.id))
    if base.whereclause is not None:
        stmt = stmt.where(base.whereclause)
    return stmt


def register_count(**filters) -> int:
    """How many rows register_query gives (one COUNT)."""
    base = register_query(**filters)
    stmt = select(func.count()).select_from(Enterprise)
    if base.whereclause is not None:
        stmt = stmt.where(base.whereclause)
    return db.session.scalar(stmt)


def export_jobs(user_id: int, *, limit: int = 50) -> list[ExportJob]:
    """The user's background exports, newest first (我的导出)."""
    return list(db.session.scalars(
        select(ExportJob).where(ExportJob.requested_by_id == user_id)
        .order_by(ExportJob.id.desc()).limit(limit)))


def lateness_as_of(period: DispatchPeriod) -> date:
    """The day a month's lateness is read as of: today, or the day the month was closed."""
    today = clock.local_today()
    if period.closed_at is not None:
        return min(today, clock.to_local(period.closed_at).date())
    return today


def confirmation_late(period: DispatchPeriod, confirmation: DispatchConfirmation | None,
                      as_of: date) -> bool:
    """Whether a unit is late (逾期确认) with the month's confirmation as of `as_of`
    (docs/measures.md, monthly dispatch deadline): marked late, or still unconfirmed after the
    period's due date. The mark stays after a later confirmation."""
    if confirmation is not None and confirmation.late:
        return True
    confirmed = confirmation is not None and confirmation.confirmed_at is not None
    return not confirmed and as_of > period.due_on


def is_department(unit: Unit) -> bool:
    """A district department (区级部门): by the target table's 说明 it counts only the
    enterprises it attracted (招引)."""
    return unit.kind == UnitKind.DEPARTMENT


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
