"""Reads of plans: the task tree with its units, the target table, the city comparison."""

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import selectinload

from taskflow.assignments.models import Assignment
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.plans.models import (
    Indicator,
    KeyTask,
    NotApplicableTarget,
    Plan,
    PlanGoal,
    Section,
    Target,
    TargetKind,
)
from taskflow.units.models import Unit

# The district target table's columns, in the document's order: (indicator, year, kind).
DISTRICT_TABLE_COLUMNS = (
    ("tech_based", 2022, TargetKind.IN_LIBRARY),
    ("tech_based", 2023, TargetKind.IN_LIBRARY),
    ("tech_based", 2027, TargetKind.IN_LIBRARY),
    ("high_tech", 2022, TargetKind.IN_LIBRARY),
    ("high_tech", 2023, TargetKind.IN_LIBRARY),
    ("high_tech", 2023, TargetKind.RE_REVIEW),
    ("high_tech", 2023, TargetKind.NEW),
    ("high_tech", 2023, TargetKind.CULTIVATED),
    ("high_tech", 2023, TargetKind.ATTRACTED),
    ("high_tech", 2027, TargetKind.IN_LIBRARY),
)


def list_plans() -> list[Plan]:
    """Every plan, parents first."""
    return list(db.session.scalars(select(Plan).order_by(Plan.level, Plan.id)))


def plan_by_code(code: str) -> Plan | None:
    """The plan with this code."""
    return db.session.scalar(select(Plan).where(Plan.code == code))


def district_plan() -> Plan | None:
    """The district plan the system runs: the one every page, export, job and command reads.

    The rule (the only definition; callers never pick a plan themselves):
    1. a district-level plan whose years (start_year..end_year) include the current year
       (taskflow.core.clock, so a job run with --now reads the plan of that time) comes first;
    2. then the plan with the later start year (a new plan period supersedes an older one, and
       after the last period has ended the latest one stays in force);
    3. then the plan imported first (lowest id): several district plans of the same period
       (the benchmark clones Qijiang's for 40 other districts, all imported after it) never
       change which one the system runs, and every page reads the same one.
    """
    year = clock.local_today().year
    current = and_(Plan.start_year <= year, Plan.end_year >= year)
    return db.session.scalar(
        select(Plan).where(Plan.level == "district")
        .order_by(case((current, 0), else_=1), Plan.start_year.desc(), Plan.id).limit(1)
    )


def plan_tree(plan: Plan) -> list[Section]:
    """Sections with their tasks, loaded in two queries."""
    return list(db.session.scalars(
        select(Section).where(Section.plan_id == plan.id).order_by(Section.number)
        .options(selectinload(Section.tasks))
    ))


def assignments_by_task(plan: Plan) -> dict[int, dict[str, list[Assignment]]]:
    """{task id: {"lead": [...], "responsible": [...]}} with units, in one query."""
    rows = db.session.scalars(
        select(Assignment).join(KeyTask, Assignment.task_id == KeyTask.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .where(KeyTask.plan_id == plan.id)
        .options(selectinload(Assignment.unit))
        .order_by(Assignment.task_id, Assignment.position, Unit.sort_order, Unit.id)
    )
    grouped: dict[int, dict[str, list[Assignment]]] = defaultdict(lambda: {"lead": [], "responsible": []})
    for assignment in rows:
        grouped[assignment.task_id][assignment.role].append(assignment)
    return grouped


@dataclass
class TargetRow:
    """One unit's row of a target table."""

    unit: Unit | None
    values: dict[tuple[str, int, str], int] = field(default_factory=dict)
    # Columns whose cell the document writes "-": not applicable to this unit (not a zero).
    not_applicable: set[tuple[str, int, str]] = field(default_factory=set)


@dataclass
class TargetTable:
    """Rows per unit, the document's 合计 row, and the column sums computed by the database."""

    columns: list[tuple[str, int, str]]
    rows: list[TargetRow]
    stated_total: dict[tuple[str, int, str], int]
    computed_total: dict[tuple[str, int, str], int]
    indicator_names: dict[str, str]

    def total_mismatches(self) -> list[tuple[str, int, str]]:
        """Columns whose stated total differs from the sum of the rows."""
        return [c for c in self.columns
                if (self.stated_total.get(c) or 0) != self.computed_total.get(c, 0)]


def not_applicable_cells(plan_id: int) -> set[tuple[int | None, str, int, str]]:
    """{(unit id, indicator code, year, kind)} of the target cells the document writes "-".

    Such a cell has no Target row (no target, not a zero target); a measure that shows a unit's
    targets can use this to say 不适用 instead of "no target"."""
    return set(db.session.execute(
        select(NotApplicableTarget.unit_id, Indicator.code, NotApplicableTarget.year,
               NotApplicableTarget.kind)
        .join(Indicator, NotApplicableTarget.indicator_id == Indicator.id)
        .where(NotApplicableTarget.plan_id == plan_id)
    ).all())


def target_table(plan: Plan) -> TargetTable:
    """The plan's targets pivoted by unit, with totals summed in SQL (four queries)."""
    indicator_names = dict(db.session.execute(select(Indicator.code, Indicator.name)).all())
    targets = db.session.execute(
        select(Target.unit_id, Indicator.code, Target.year, Target.kind, Target.value, Target.source_row)
        .join(Indicator, Target.indicator_id == Indicator.id)
        .where(Target.plan_id == plan.id)
    ).all()
    markers = db.session.execute(
        select(NotApplicableTarget.unit_id, Indicator.code, NotApplicableTarget.year,
               NotApplicableTarget.kind, NotApplicableTarget.source_row)
        .join(Indicator, NotApplicableTarget.indicator_id == Indicator.id)
        .where(NotApplicableTarget.plan_id == plan.id)
    ).all()
    units = {u.id: u for u in db.session.scalars(
        select(Unit).where(Unit.plan_id == plan.id).options(selectinload(Unit.parent))
    )}
    computed = {
        (code, year, kind): int(total)
        for code, year, kind, total in db.session.execute(
            select(Indicator.code, Target.year, Target.kind, func.sum(Target.value))
            .join(Indicator, Target.indicator_id == Indicator.id)
            .where(Target.plan_id == plan.id, Target.unit_id.is_not(None))
            .group_by(Indicator.code, Target.year, Target.kind)
        )
    }
    rows: dict[int, TargetRow] = {}
    order: dict[int, int] = {}
    stated: dict[tuple[str, int, str], int] = {}
    columns: set[tuple[str, int, str]] = set()
    for unit_id, code, year, kind, value, source_row in targets:
        key = (code, year, kind)
        columns.add(key)
        if unit_id is None:
            stated[key] = value
            continue
        row = rows.setdefault(unit_id, TargetRow(unit=units.get(unit_id)))
        row.values[key] = value
        if source_row is not None:
            order[unit_id] = source_row
    for unit_id, code, year, kind, source_row in markers:
        key = (code, year, kind)
        columns.add(key)
        if unit_id is None:
            continue  # a "-" in the 合计 row: no stated total, shown as —
        rows.setdefault(unit_id, TargetRow(unit=units.get(unit_id))).not_applicable.add(key)
        if source_row is not None:
            order[unit_id] = source_row
    for key in columns:
        computed.setdefault(key, 0)  # a column of "-" only adds up to nothing
    if plan.level == "district":
        ordered_columns = [c for c in DISTRICT_TABLE_COLUMNS if c in columns]
    else:
        ordered_columns = sorted(columns)
    ordered_rows = sorted(rows.values(), key=lambda r: (order.get(r.unit.id, 10_000), r.unit.sort_order))
    return TargetTable(ordered_columns, ordered_rows, stated, computed, indicator_names)


def plan_goals(plan: Plan) -> list[PlanGoal]:
    """The plan's goals with their indicator and task, goals part first, then by task (one query)."""
    return list(db.session.scalars(
        select(PlanGoal).where(PlanGoal.plan_id == plan.id)
        .options(selectinload(PlanGoal.indicator), selectinload(PlanGoal.task))
        .outerjoin(KeyTask, PlanGoal.task_id == KeyTask.id)
        .order_by(KeyTask.number.is_not(None), KeyTask.number, PlanGoal.id)
    ))


@dataclass
class Comparison:
    """The district's own total against the parent plan's row for the district."""

    indicator: str
    year: int
    district: int | None
    city: int | None

    @property
    def differs(self) -> bool:
        return self.district is not None and self.city is not None and self.district != self.city


def city_comparison(plan: Plan) -> list[Comparison]:
    """In-library targets: the district plan's 合计 row vs the city plan's row for this district."""
    if plan.parent_id is None or plan.parent_unit_id is None:
        return []
    rows = db.session.execute(
        select(Target.plan_id, Indicator.code, Target.year, Target.value)
        .join(Indicator, Target.indicator_id == Indicator.id)
        .where(
            Target.kind == TargetKind.IN_LIBRARY,
            ((Target.plan_id == plan.id) & Target.unit_id.is_(None))
            | ((Target.plan_id == plan.parent_id) & (Target.unit_id == plan.parent_unit_id)),
        )
    ).all()
    district: dict[tuple[str, int], int] = {}
    city: dict[tuple[str, int], int] = {}
    for plan_id, code, year, value in rows:
        (district if plan_id == plan.id else city)[(code, year)] = value
    keys = sorted(set(district) | set(city), key=lambda k: (k[0] != "tech_based", k[1]))
    return [Comparison(code, year, district.get((code, year)), city.get((code, year))) for code, year in keys]
