"""The plan importer's writes: reconcile the database with a parsed, validated plan document.

An import either applies completely or raises before the caller commits (the CLI rolls back), and
importing the same document again finds nothing to change.
"""

import hashlib
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from taskflow.assignments.models import Assignment, AssignmentRole, Milestone
from taskflow.core import audit, clock
from taskflow.extensions import db
from taskflow.plans.documents import (
    INDICATORS,
    ParsedPlan,
    PlanDocumentError,
    parse_plan_docx,
    parse_plan_text,
    title_without_note,
    validate,
)
from taskflow.plans.models import (
    Indicator,
    KeyTask,
    NotApplicableTarget,
    Plan,
    PlanGoal,
    Section,
    Target,
)
from taskflow.units.directory import Directory, DirectoryError, load_directory
from taskflow.units.models import Unit, UnitAlias, UnitGroup


class PlanImportError(ValueError):
    """The document cannot be imported as it stands; the message says where and why."""


@dataclass
class ImportResult:
    """What an import did, by kind of object."""

    plan_code: str
    created: bool
    changes: Counter = field(default_factory=Counter)

    @property
    def summary(self) -> str:
        if not self.changes:
            return "unchanged"
        return ", ".join(f"{key} {count}" for key, count in sorted(self.changes.items()))


def directory_path() -> Path:
    """The unit directory the importer reads (seeds/units.toml)."""
    return Path(current_app.config["SEEDS_DIR"]) / "units.toml"


def read_document(path: Path) -> ParsedPlan:
    """Parse a plan document given as UTF-8 text or .docx, and check its rules."""
    if path.suffix.lower() == ".docx":
        parsed = parse_plan_docx(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise PlanDocumentError(f"{path.name} is not UTF-8 text (byte {error.start})") from error
        parsed = parse_plan_text(text)
    validate(parsed)
    return parsed


def directory_for(parsed: ParsedPlan, path: Path) -> Directory:
    """The unit directory whose title is the document's title without its version note, so that
    （征求意见稿）, （送审稿） and the final text of one plan update the same plan."""
    title = title_without_note(parsed.title)
    with path.open("rb") as handle:
        codes = [code for code, section in tomllib.load(handle).items()
                 if isinstance(section, dict) and section.get("title") == title]
    if not codes:
        raise PlanImportError(f"{path.name} has no unit directory for the plan “{title}”")
    return load_directory(path, codes[0])


def import_plan_file(path: str | Path, actor=None) -> ImportResult:
    """Read, check and import one plan document (the caller commits, or rolls back on error)."""
    path = Path(path)
    if not path.is_file():
        raise PlanImportError(f"no such file: {path}")
    parsed = read_document(path)
    directory = directory_for(parsed, directory_path())
    directory.check_plan(parsed)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return import_plan(parsed, directory, source_name=path.name, source_sha256=digest, actor=actor)


class _Tracker:
    """Sets attributes only when they differ, counting what changed."""

    def __init__(self, result: ImportResult):
        self.result = result
        self.created: set[int] = set()

    def set(self, obj, label: str, **values) -> None:
        changed = False
        for name, value in values.items():
            if getattr(obj, name) != value:
                setattr(obj, name, value)
                changed = True
        if changed and id(obj) not in self.created:
            self.result.changes[f"{label} updated"] += 1

    def add(self, obj, label: str) -> None:
        db.session.add(obj)
        self.created.add(id(obj))
        self.result.changes[f"{label} added"] += 1

    def delete(self, obj, label: str) -> None:
        db.session.delete(obj)
        self.result.changes[f"{label} removed"] += 1


def import_plan(parsed: ParsedPlan, directory: Directory, *, source_name: str, source_sha256: str,
                actor=None) -> ImportResult:
    """Create or update a plan, its units, tasks, assignments, goals and targets from a document."""
    plan = db.session.scalar(select(Plan).where(Plan.code == directory.plan_code))
    result = ImportResult(directory.plan_code, created=plan is None)
    track = _Tracker(result)
    indicators = _sync_indicators(track)

    if plan is None:
        plan = Plan(code=directory.plan_code, title=parsed.title, level=parsed.level,
                    start_year=parsed.start_year, end_year=parsed.end_year)
        track.add(plan, "plan")
        db.session.flush()
    track.set(plan, "plan", title=parsed.title, level=parsed.level, start_year=parsed.start_year,
              end_year=parsed.end_year)

    units = _sync_units(plan, directory, track)
    _link_plans(plan, directory, units, track)
    tasks = _sync_tasks(plan, parsed, track)
    _sync_assignments(parsed, directory, units, tasks, track)
    _sync_goals(plan, parsed, indicators, tasks, track)
    _sync_targets(plan, parsed, directory, units, indicators, track)

    if result.changes:
        track.set(plan, "plan", source_name=source_name, source_sha256=source_sha256)
        plan.imported_at = clock.utcnow()
        db.session.flush()
        audit.record(actor, "plan.import", plan, after=dict(result.changes),
                     summary=f"{source_name}: {result.summary}")
    return result


def _sync_indicators(track: _Tracker) -> dict[str, Indicator]:
    existing = {i.code: i for i in db.session.scalars(select(Indicator))}
    for order, (code, (name, measure)) in enumerate(INDICATORS.items()):
        indicator = existing.get(code)
        if indicator is None:
            indicator = existing[code] = Indicator(code=code, name=name, measure=measure, sort_order=order)
            track.add(indicator, "indicator")
        else:
            track.set(indicator, "indicator", name=name, measure=measure, sort_order=order)
    db.session.flush()
    return existing


def _sync_units(plan: Plan, directory: Directory, track: _Tracker) -> dict[str, Unit]:
    units = {u.name: u for u in db.session.scalars(select(Unit).where(Unit.plan_id == plan.id))}
    for entry in directory.units:
        unit = units.get(entry.name)
        if unit is None:
            unit = units[entry.name] = Unit(plan_id=plan.id, name=entry.name, kind=entry.kind,
                                            peer_group=entry.peer_group, sort_order=entry.sort_order)
            track.add(unit, "unit")
        else:
            track.set(unit, "unit", kind=entry.kind, peer_group=entry.peer_group,
                      sort_order=entry.sort_order)
    db.session.flush()
    for entry in directory.units:
        parent_id = units[entry.parent].id if entry.parent else None
        track.set(units[entry.name], "unit", parent_id=parent_id)

    aliases = {a.alias: a for a in db.session.scalars(select(UnitAlias).where(UnitAlias.plan_id == plan.id))}
    wanted = {alias: units[entry.name] for entry in directory.units for alias in entry.aliases}
    for alias, row in aliases.items():
        if alias not in wanted:
            track.delete(row, "alias")
    for alias, unit in wanted.items():
        if alias in aliases:
            track.set(aliases[alias], "alias", unit_id=unit.id)
        else:
            track.add(UnitAlias(plan_id=plan.id, unit_id=unit.id, alias=alias), "alias")

    groups = {g.name: g for g in db.session.scalars(
        select(UnitGroup).where(UnitGroup.plan_id == plan.id))}
    for name, entry in directory.groups.items():
        group = groups.get(name)
        if group is None:
            group = UnitGroup(plan_id=plan.id, name=name, is_open=entry.open)
            track.add(group, "group")
        else:
            track.set(group, "group", is_open=entry.open)
        members = [units[m] for m in entry.members]
        if {u.id for u in group.members} != {u.id for u in members}:
            group.members = members
            track.result.changes["group members set"] += 1
    db.session.flush()
    return units


def _link_plans(plan: Plan, directory: Directory, units: dict[str, Unit], track: _Tracker) -> None:
    """Tie a district plan to its row in the city plan, whichever of the two is imported first."""
    for entry in directory.units:
        if entry.links_plan:
            child = db.session.scalar(select(Plan).where(Plan.code == entry.links_plan))
            if child is not None:
                track.set(child, "plan", parent_id=plan.id, parent_unit_id=units[entry.name].id)
    for other in db.session.scalars(select(Plan).where(Plan.id != plan.id)):
        try:
            other_directory = load_directory(directory_path(), other.code)
        except DirectoryError:
            continue  # a plan without a directory links nothing
        for entry in other_directory.units:
            if entry.links_plan == plan.code:
                row = db.session.scalar(select(Unit).where(Unit.plan_id == other.id, Unit.name == entry.name))
                if row is not None:
                    track.set(plan, "plan", parent_id=other.id, parent_unit_id=row.id)


def _sync_tasks(plan: Plan, parsed: ParsedPlan, track: _Tracker) -> dict[int, KeyTask]:
    sections = {s.number: s for s in db.session.scalars(select(Section).where(Section.plan_id == plan.id))}
    tasks = {t.number: t for t in db.session.scalars(select(KeyTask).where(KeyTask.plan_id == plan.id))}
    document_numbers = {task.number for task in parsed.tasks}
    stale = sorted(set(tasks) - document_numbers)
    if stale:
        raise PlanImportError(
            f"the database has key task(s) {', '.join(map(str, stale))} that the document no longer has; "
            "they may carry reports, so the import stops"
        )
    for parsed_section in parsed.sections:
        section = sections.get(parsed_section.number)
        if section is None:
            section = sections[parsed_section.number] = Section(
                plan_id=plan.id, number=parsed_section.number, title=parsed_section.title)
            track.add(section, "section")
        else:
            track.set(section, "section", title=parsed_section.title)
        db.session.flush()
        for parsed_task in parsed_section.tasks:
            task = tasks.get(parsed_task.number)
            values = dict(section_id=section.id, title=parsed_task.title, body=parsed_task.body,
                          units_text=parsed_task.units_text, units_open=parsed_task.units_open)
            if task is None:
                task = tasks[parsed_task.number] = KeyTask(plan_id=plan.id, number=parsed_task.number, **values)
                track.add(task, "task")
            else:
                track.set(task, "task", **values)
    db.session.flush()
    return tasks


def _sync_assignments(parsed: ParsedPlan, directory: Directory, units: dict[str, Unit],
                      tasks: dict[int, KeyTask], track: _Tracker) -> None:
    wanted: dict[tuple[int, int, str], int] = {}
    for parsed_task in parsed.tasks:
        task = tasks[parsed_task.number]
        for role, names in ((AssignmentRole.LEAD, parsed_task.lead_units),
                            (AssignmentRole.RESPONSIBLE, parsed_task.responsible_units)):
            position = 0
            for phrase in names:
                for name in directory.expand(phrase, f"line {parsed_task.line}, task {parsed_task.number}"):
                    key = (task.id, units[name].id, role.value)
                    if key not in wanted:
                        wanted[key] = position
                        position += 1
    task_ids = [t.id for t in tasks.values()]
    existing = {
        (a.task_id, a.unit_id, a.role): a
        for a in db.session.scalars(select(Assignment).where(Assignment.task_id.in_(task_ids)))
    }
    with_milestones = set(db.session.scalars(
        select(Milestone.assignment_id).where(Milestone.assignment_id.in_([a.id for a in existing.values()]))
        .group_by(Milestone.assignment_id).having(func.count() > 0)
    )) if existing else set()
    for key, assignment in existing.items():
        if key in wanted or assignment.added_by_office:
            continue
        if assignment.id in with_milestones:
            raise PlanImportError(
                f"the document no longer names {assignment.unit.name} for key task "
                f"{assignment.task.number}, but that assignment has milestones; the office must remove it first"
            )
        track.delete(assignment, "assignment")
    for (task_id, unit_id, role), position in wanted.items():
        assignment = existing.get((task_id, unit_id, role))
        if assignment is None:
            track.add(Assignment(task_id=task_id, unit_id=unit_id, role=role, position=position), "assignment")
        else:
            track.set(assignment, "assignment", position=position, added_by_office=False)
    db.session.flush()


def _sync_goals(plan: Plan, parsed: ParsedPlan, indicators: dict[str, Indicator],
                tasks: dict[int, KeyTask], track: _Tracker) -> None:
    """One PlanGoal per goal the document states, keyed by what it is about (year, indicator, or
    metric and scope), so a re-import updates a changed figure in place."""

    def key_of(indicator_id, year, metric, scope):
        return (year, indicator_id, "", "") if indicator_id is not None else (year, None, metric, scope)

    existing = {key_of(g.indicator_id, g.year, g.metric, g.scope): g for g in db.session.scalars(
        select(PlanGoal).where(PlanGoal.plan_id == plan.id))}
    wanted = {}
    for goal in parsed.goals:
        indicator_id = indicators[goal.indicator].id if goal.indicator else None
        wanted[key_of(indicator_id, goal.year, goal.metric, goal.scope)] = (indicator_id, goal)
    for key, row in existing.items():
        if key not in wanted:
            track.delete(row, "goal")
    for key, (indicator_id, goal) in wanted.items():
        row = existing.get(key)
        values = dict(comparator=goal.comparator, value=goal.value, text=goal.text, unit=goal.unit,
                      every_year=goal.every_year,
                      task_id=tasks[goal.task].id if goal.task is not None else None)
        if row is None:
            track.add(PlanGoal(plan_id=plan.id, indicator_id=indicator_id, year=goal.year,
                               metric=goal.metric, scope=goal.scope, **values), "goal")
        else:
            track.set(row, "goal", **values)
    db.session.flush()


def _sync_targets(plan: Plan, parsed: ParsedPlan, directory: Directory, units: dict[str, Unit],
                  indicators: dict[str, Indicator], track: _Tracker) -> None:
    """A Target row per figure of the tables; a "-" cell gets no Target but a NotApplicableTarget
    marker, and a Target an older import made of it (as 0) is removed."""
    wanted: dict[tuple[int | None, int, int, str], tuple[int, int | None]] = {}
    not_applicable: dict[tuple[int | None, int, int, str], int | None] = {}
    for table in parsed.tables:
        for row in [*table.rows, table.total]:
            unit_id = None if row is table.total else units[directory.resolve(row.unit)].id
            for (code, year, kind), value in row.values.items():
                key = (unit_id, indicators[code].id, year, kind)
                if value is None:
                    not_applicable[key] = row.number
                else:
                    wanted[key] = (value, row.number)
    existing = {
        (t.unit_id, t.indicator_id, t.year, t.kind): t
        for t in db.session.scalars(select(Target).where(Target.plan_id == plan.id))
    }
    for key, target in existing.items():
        if key not in wanted:
            track.delete(target, "target")
    for (unit_id, indicator_id, year, kind), (value, source_row) in wanted.items():
        target = existing.get((unit_id, indicator_id, year, kind))
        if target is None:
            track.add(Target(plan_id=plan.id, unit_id=unit_id, indicator_id=indicator_id, year=year,
                             kind=kind, value=value, source_row=source_row), "target")
        else:
            track.set(target, "target", value=value, source_row=source_row)
    markers = {
        (m.unit_id, m.indicator_id, m.year, m.kind): m
        for m in db.session.scalars(
            select(NotApplicableTarget).where(NotApplicableTarget.plan_id == plan.id))
    }
    for key, marker in markers.items():
        if key not in not_applicable:
            track.delete(marker, "not-applicable cell")
    for (unit_id, indicator_id, year, kind), source_row in not_applicable.items():
        marker = markers.get((unit_id, indicator_id, year, kind))
        if marker is None:
            track.add(NotApplicableTarget(plan_id=plan.id, unit_id=unit_id, indicator_id=indicator_id,
                                          year=year, kind=kind, source_row=source_row),
                      "not-applicable cell")
        else:
            track.set(marker, "not-applicable cell", source_row=source_row)
    db.session.flush()
