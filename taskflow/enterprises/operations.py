"""Writes on the register and the monthly dispatch: plain functions that flush and audit."""

from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from taskflow.core import audit, clock
from taskflow.enterprises import creditcode
from taskflow.enterprises.models import (
    ClaimConflict,
    ClaimState,
    DispatchConfirmation,
    DispatchPeriod,
    DispatchPeriodState,
    Enterprise,
    EnterpriseEvent,
    EnterpriseStatus,
    Source,
)
from taskflow.extensions import db
from taskflow.plans.models import Plan
from taskflow.units.models import Unit, UnitKind

# Fields a user edits, in form order; the certificate's expiry and re-review date are derived.
EDITABLE = ("name", "source", "tech_in_library_on", "tech_removed_on", "high_tech_cert_no",
            "high_tech_cert_on", "specialised_sme", "status", "closed_on")
SNAPSHOT = ("name", "credit_code", "unit_id", "source", "tech_in_library_on", "tech_removed_on",
            "high_tech_cert_no", "high_tech_cert_on", "high_tech_first_on",
            "high_tech_expires_on", "specialised_sme", "status", "closed_on")


class EnterpriseError(ValueError):
    """A request on the register that cannot be carried out, with a message for the user."""


class StaleEdit(EnterpriseError):
    """Someone else changed the row since the form was loaded."""


def check_code(code: str) -> str:
    """The normalised code, or EnterpriseError with the precise reason."""
    code = creditcode.normalise(code)
    problem = creditcode.problem(code)
    if problem is not None:
        raise EnterpriseError(problem.message())
    return code


def check_data(data: dict) -> None:
    """Cross-field rules shared by the form and the importer."""
    if not (data.get("name") or "").strip():
        raise EnterpriseError(_("The enterprise name is empty."))
    if data.get("source") not in {s.value for s in Source}:
        raise EnterpriseError(_("Unknown source."))
    if bool(data.get("high_tech_cert_no")) != bool(data.get("high_tech_cert_on")):
        raise EnterpriseError(_("A high-tech certificate needs both its number and its date."))
    today = clock.local_today()
    for key in ("tech_in_library_on", "high_tech_cert_on", "tech_removed_on", "closed_on"):
        value = data.get(key)
        if value is not None and value > today:
            raise EnterpriseError(_("A date lies in the future: %(date)s.", date=value.isoformat()))
    if data.get("tech_removed_on") and (not data.get("tech_in_library_on")
                                        or data["tech_removed_on"] < data["tech_in_library_on"]):
        raise EnterpriseError(_("The library removal date must follow the in-library date."))


def attribution_problem(unit: Unit, source: str | None) -> str | None:
    """Why `unit` cannot count an enterprise of this source, or None.

    The district plan's target table (说明 1): departments (区级部门) count only the enterprises
    they attracted (招引); streets, towns, parks and task forces count attracted and cultivated."""
    if unit is not None and unit.kind == UnitKind.DEPARTMENT and source != Source.ATTRACTED:
        return _("%(unit)s is a district department: by the target table's note, departments count "
                 "only the enterprises they attracted (招引). Record it as attracted, or attribute "
                 "it to the street, town, park or task force that guided it.", unit=unit.name)
    return None


def check_attribution(unit: Unit, source: str | None) -> None:
    """EnterpriseError when `unit` may not count an enterprise of this source."""
    problem = attribution_problem(unit, source)
    if problem is not None:
        raise EnterpriseError(problem)


def _event(enterprise: Enterprise, kind: str, actor, *, changes=None, note: str = "") -> None:
    db.session.add(EnterpriseEvent(
        enterprise=enterprise, kind=kind, actor_id=getattr(actor, "id", None),
        unit_id=enterprise.unit_id, changes=audit._jsonable(changes) if changes else None,
        note=note[:500],
    ))


def find_by_code(code: str) -> Enterprise | None:
    return db.session.scalar(select(Enterprise).where(Enterprise.credit_code == code))


def register_enterprise(data: dict, unit: Unit, actor) -> Enterprise | ClaimConflict:
    """Add an enterprise for `unit`; a code already attributed to another unit opens a claim."""
    code = check_code(data.get("credit_code", ""))
    check_data(data)
    check_attribution(unit, data.get("source"))
    existing = find_by_code(code)
    if existing is not None:
        if existing.unit_id == unit.id:
            raise EnterpriseError(_("This credit code is already in your unit's register."))
        return open_claim(existing, unit, actor, data=data)
    enterprise = Enterprise(
        name=data["name"].strip(), credit_code=code, unit_id=unit.id, source=data["source"],
        tech_in_library_on=data.get("tech_in_library_on"),
        tech_removed_on=data.get("tech_removed_on"),
        specialised_sme=bool(data.get("specialised_sme")),
        status=data.get("status") or EnterpriseStatus.ACTIVE, closed_on=data.get("closed_on"),
    )
    enterprise.set_certificate(data.get("high_tech_cert_no"), data.get("high_tech_cert_on"))
    db.session.add(enterprise)
    db.session.flush()
    _event(enterprise, "created", actor, changes=audit.snapshot(enterprise, *SNAPSHOT))
    audit.record(actor, "enterprise.create", enterprise,
                 after=audit.snapshot(enterprise, *SNAPSHOT), summary=enterprise.name)
    return enterprise


def update_enterprise(enterprise: Enterprise, data: dict, actor, *, version: int) -> dict:
    """Apply edited fields; returns {field: [old, new]}. A renewed certificate is a re-review."""
    if version != enterprise.version:
        raise StaleEdit(_("Someone else changed this enterprise meanwhile; reload and edit again."))
    merged = {key: getattr(enterprise, key) for key in EDITABLE} | data
    check_data(merged)
    check_attribution(enterprise.unit, merged["source"])
    before = audit.snapshot(enterprise, *SNAPSHOT)
    renewed = False
    for key in EDITABLE:
        if key in data and key not in ("high_tech_cert_no", "high_tech_cert_on"):
            setattr(enterprise, key, data[key].strip() if key == "name" else data[key])
    if "high_tech_cert_on" in data or "high_tech_cert_no" in data:
        if (merged["high_tech_cert_no"], merged["high_tech_cert_on"]) != (
                enterprise.high_tech_cert_no, enterprise.high_tech_cert_on):
            renewed = enterprise.set_certificate(merged["high_tech_cert_no"],
                                                 merged["high_tech_cert_on"])
    after = audit.snapshot(enterprise, *SNAPSHOT)
    changes = {k: [before[k], after[k]] for k in SNAPSHOT if before[k] != after[k]}
    if not changes:
        return {}
    enterprise.updated_at = clock.utcnow()
    _event(enterprise, "re_reviewed" if renewed else "updated", actor, changes=changes)
    audit.record(actor, "enterprise.update", enterprise, before=before, after=after,
                 summary=enterprise.name)
    return changes


def open_claim(enterprise: Enterprise, claimant: Unit, actor, *, data: dict | None = None,
               reason: str = "") -> ClaimConflict:
    """A second unit's claim: one open conflict per (enterprise, claimant), never a second row."""
    pending = db.session.scalar(select(ClaimConflict).where(
        ClaimConflict.enterprise_id == enterprise.id,
        ClaimConflict.claimant_unit_id == claimant.id,
        ClaimConflict.state == ClaimState.OPEN,
    ))
    if pending is not None:
        return pending
    conflict = ClaimConflict(
        enterprise_id=enterprise.id, holder_unit_id=enterprise.unit_id,
        claimant_unit_id=claimant.id, claimed_by_id=getattr(actor, "id", None),
        claim_data=audit._jsonable(data) if data else None, reason=reason[:500],
    )
    db.session.add(conflict)
    db.session.flush()
    _event(enterprise, "claim_opened", actor, changes={"claimant": claimant.name}, note=reason)
    audit.record(actor, "enterprise.claim_open", conflict,
                 after={"enterprise": enterprise.credit_code, "holder": enterprise.unit_id,
                        "claimant": claimant.id}, summary=enterprise.name)
    return conflict


def decide_claim(conflict: ClaimConflict, decision: str, note: str, actor, *,
                 version: int) -> ClaimConflict:
    """The office keeps the enterprise where it is or transfers it to the claimant."""
    if conflict.state != ClaimState.OPEN:
        raise EnterpriseError(_("This claim has already been decided."))
    if version != conflict.version:
        raise StaleEdit(_("Someone else decided this claim meanwhile."))
    if decision not in ("keep", "transfer"):
        raise EnterpriseError(_("Unknown decision."))
    if not note.strip():
        raise EnterpriseError(_("Give the reason for the decision."))
    enterprise = conflict.enterprise
    if decision == "transfer":
        check_attribution(conflict.claimant_unit, enterprise.source)
    before = {"state": conflict.state, "unit_id": enterprise.unit_id}
    conflict.state = ClaimState.KEPT if decision == "keep" else ClaimState.TRANSFERRED
    conflict.decided_by_id = getattr(actor, "id", None)
    conflict.decided_at = clock.utcnow()
    conflict.decision_note = note.strip()[:500]
    if decision == "transfer":
        old_unit = enterprise.unit_id
        enterprise.unit_id = conflict.claimant_unit_id
        enterprise.updated_at = clock.utcnow()
        # Other open claims now compete with the new holder.
        for other in db.session.scalars(select(ClaimConflict).where(
                ClaimConflict.enterprise_id == enterprise.id, ClaimConflict.id != conflict.id,
                ClaimConflict.state == ClaimState.OPEN)):
            other.holder_unit_id = enterprise.unit_id
        db.session.flush()
        _event(enterprise, "transferred", actor,
               changes={"unit_id": [old_unit, enterprise.unit_id]}, note=conflict.decision_note)
    else:
        _event(enterprise, "claim_kept", actor, note=conflict.decision_note)
    audit.record(actor, "enterprise.claim_decide", conflict, before=before,
                 after={"state": conflict.state, "unit_id": enterprise.unit_id},
                 summary=conflict.decision_note)
    return conflict


# ---------------------------------------------------------------- monthly dispatch


class DispatchError(ValueError):
    """A dispatch request that cannot be carried out, with a message for the user."""


def parse_month(value) -> date:
    """'2024-03' (or a date) → date(2024, 3, 1)."""
    if isinstance(value, date):
        return value.replace(day=1)
    try:
        year, month = str(value).strip().split("-")[:2]
        return date(int(year), int(month), 1)
    except (ValueError, TypeError):
        raise DispatchError(_("Not a month: %(value)s (use YYYY-MM).", value=value)) from None


def due_date(month: date, opened_on: date | None = None, calendar=None) -> date:
    """When units must have confirmed the month's figures (the dispatch deadline).

    The DISPATCH_LATE_AFTER_WORKING_DAY-th working day after the month's end (方案未规定，默认值，
    可调整: the plan asks for a monthly dispatch but names no day), so never a weekend or a public
    holiday. A month opened on or after that day (opened late, say after 国庆) gets a fair
    deadline instead: the same number of working days after the day it was opened, so no unit is
    late the moment it opens. Raises core.calendar.UnknownCalendarYear when the working days
    needed fall in a year whose holiday arrangement nobody has entered."""
    from taskflow.core.calendar import WorkCalendar
    from taskflow.enterprises.queries import month_end

    cal = calendar or WorkCalendar.load()
    working_days = max(1, int(current_app.config.get("DISPATCH_LATE_AFTER_WORKING_DAY", 5)))
    regular = cal.add_working_days(month_end(month), working_days)
    if opened_on is not None and opened_on >= regular:
        return cal.add_working_days(opened_on, working_days)
    return regular


def open_month(month, actor, *, plan: Plan | None = None) -> DispatchPeriod:
    """Open the dispatch of a month for the district plan; refused when already open."""
    from taskflow.enterprises.queries import district_plan

    month = parse_month(month)
    plan = plan or district_plan()
    if plan is None:
        raise DispatchError(_("There is no district plan yet."))
    if db.session.scalar(select(DispatchPeriod.id).where(
            DispatchPeriod.plan_id == plan.id, DispatchPeriod.month == month)) is not None:
        raise DispatchError(_("The dispatch of %(month)s is already open.",
                              month=month.strftime("%Y-%m")))
    if month > clock.local_today():
        raise DispatchError(_("The month %(month)s has not begun.", month=month.strftime("%Y-%m")))
    from taskflow.core.calendar import UnknownCalendarYear

    try:
        due_on = due_date(month, clock.local_today())
    except UnknownCalendarYear as exc:  # refused, never guessed: the admin enters the year first
        raise DispatchError(exc.message()) from exc
    period = DispatchPeriod(plan_id=plan.id, month=month, due_on=due_on,
                            opened_by_id=getattr(actor, "id", None), opened_at=clock.utcnow())
    db.session.add(period)
    audit.record(actor, "dispatch.open", period,
                 after={"month": period.label, "due_on": period.due_on},
                 summary=period.label)
    return period


def close_month(period: DispatchPeriod, actor) -> DispatchPeriod:
    """Close a month: no further confirmations."""
    if period.state != DispatchPeriodState.OPEN:
        raise DispatchError(_("This month is already closed."))
    period.state = DispatchPeriodState.CLOSED
    period.closed_at = clock.utcnow()
    audit.record(actor, "dispatch.close", period, before={"state": "open"},
                 after={"state": "closed"}, summary=period.label)
    return period


def confirm_figures(period: DispatchPeriod, unit: Unit, note: str, actor) -> DispatchConfirmation:
    """A unit confirms its figures as computed from the register at the month's end."""
    from taskflow.enterprises.queries import unit_figures

    if period.state != DispatchPeriodState.OPEN:
        raise DispatchError(_("This month is closed; figures can no longer be confirmed."))
    figures = unit_figures(unit.id, period.month_end)
    row = db.session.scalar(select(DispatchConfirmation).where(
        DispatchConfirmation.period_id == period.id, DispatchConfirmation.unit_id == unit.id))
    before = None
    if row is None:
        row = DispatchConfirmation(period_id=period.id, unit_id=unit.id)
        db.session.add(row)
    else:
        before = {"figures": row.figures, "note": row.note, "confirmed_at": row.confirmed_at}
    now = clock.utcnow()
    row.figures = figures
    row.note = (note or "").strip()[:2000]
    row.confirmed_by_id = getattr(actor, "id", None)
    row.confirmed_at = now
    # Lateness is a fact: once late, a later confirmation does not erase it.
    row.late = bool(row.late) or clock.local_today() > period.due_on
    audit.record(actor, "dispatch.confirm", row, before=before,
                 after={"figures": figures, "note": row.note, "late": row.late},
                 summary=f"{period.label} {unit.name}")
    return row
