"""Writes on the register and the monthly dispatch: plain functions that flush and audit."""

from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, insert, select, update

from taskflow.core import audit, clock
from taskflow.core.errors import EditConflict, Refusal
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
    certificate_fields,
    is_renewal,
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


class EnterpriseError(Refusal):
    """A request on the register that cannot be carried out, with a message for the user."""


def check_code(code: str) -> str:
    """The normalised code, or EnterpriseError with the precise reason."""
    code = creditcode.normalise(code)
    problem = creditcode.problem(code)
    if problem is not None:
        raise EnterpriseError(problem.message())
    return code


def data_problems(data: dict) -> list[str]:
    """Every cross-field rule `data` breaks, as messages: the one validation of the form (which
    shows the first) and the importer (which lists them on the row)."""
    problems = []
    if not (data.get("name") or "").strip():
        problems.append(_("The enterprise name is empty."))
    if data.get("source") not in {s.value for s in Source}:
        problems.append(_("Unknown source."))
    if bool(data.get("high_tech_cert_no")) != bool(data.get("high_tech_cert_on")):
        problems.append(_("A high-tech certificate needs both its number and its date."))
    today = clock.local_today()
    for key in ("tech_in_library_on", "high_tech_cert_on", "tech_removed_on", "closed_on"):
        value = data.get(key)
        if value is not None and value > today:
            problems.append(_("A date lies in the future: %(date)s.", date=value.isoformat()))
    if data.get("tech_removed_on") and (not data.get("tech_in_library_on")
                                        or data["tech_removed_on"] < data["tech_in_library_on"]):
        problems.append(_("The library removal date must follow the in-library date."))
    return problems


def check_data(data: dict) -> None:
    """EnterpriseError with the first cross-field rule `data` breaks (see data_problems)."""
    problems = data_problems(data)
    if problems:
        raise EnterpriseError(problems[0])


def merged_data(current: dict, data: dict) -> dict:
    """The editable fields after an edit: the register's values overlaid by the edited ones."""
    return {key: current.get(key) for key in EDITABLE} | data


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


def _checked_new(data: dict, unit: Unit) -> dict:
    """The column values of a new enterprise of `unit`, after the register's checks."""
    code = check_code(data.get("credit_code", ""))
    check_data(data)
    check_attribution(unit, data.get("source"))
    return {
        "name": data["name"].strip(), "credit_code": code, "unit_id": unit.id,
        "source": data["source"], "tech_in_library_on": data.get("tech_in_library_on"),
        "tech_removed_on": data.get("tech_removed_on"),
        "specialised_sme": bool(data.get("specialised_sme")),
        "status": data.get("status") or EnterpriseStatus.ACTIVE, "closed_on": data.get("closed_on"),
        "high_tech_cert_no": data.get("high_tech_cert_no") or None,
        "high_tech_cert_on": data.get("high_tech_cert_on"),
        **certificate_fields(data.get("high_tech_cert_on"), None, None, None),
    }


def register_enterprise(data: dict, unit: Unit, actor) -> Enterprise | ClaimConflict:
    """Add an enterprise for `unit`; a code already attributed to another unit opens a claim."""
    values = _checked_new(data, unit)
    existing = find_by_code(values["credit_code"])
    if existing is not None:
        if existing.unit_id == unit.id:
            raise EnterpriseError(_("This credit code is already in your unit's register."))
        return open_claim(existing, unit, actor, data=data)
    enterprise = Enterprise(**values)
    db.session.add(enterprise)
    db.session.flush()
    _event(enterprise, "created", actor, changes=audit.snapshot(enterprise, *SNAPSHOT))
    audit.record(actor, "enterprise.create", enterprise,
                 after=audit.snapshot(enterprise, *SNAPSHOT), summary=enterprise.name)
    return enterprise


def update_enterprise(enterprise: Enterprise, data: dict, actor, *, version: int) -> dict:
    """Apply edited fields; returns {field: [old, new]}. A renewed certificate is a re-review."""
    if version != enterprise.version_id:
        raise EditConflict(
            _("Someone else changed this enterprise meanwhile; reload and edit again."))
    merged = merged_data({key: getattr(enterprise, key) for key in EDITABLE}, data)
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


def register_enterprises(rows: list[dict], unit: Unit, actor, *, note: str,
                         changes: dict | None = None) -> int:
    """Add many new enterprises for `unit` at once (the Excel import): each row passes the same
    checks as register_enterprise (EnterpriseError on the first refused), then one INSERT and a
    "created" history line each. The caller has made sure the codes are new, and audits the
    batch as one event. Returns how many were added."""
    if not rows:
        return 0
    now = clock.utcnow()
    values = [_checked_new(data, unit) | {"created_at": now, "updated_at": now, "version_id": 1}
              for data in rows]
    # Plain executemany, then one query for the new ids (faster than RETURNING here).
    db.session.execute(insert(Enterprise), values)
    ids = db.session.scalars(select(Enterprise.id).where(
        Enterprise.credit_code.in_([v["credit_code"] for v in values]))).all()
    _bulk_events([{"enterprise_id": i, "occurred_at": now, "unit_id": unit.id, "kind": "created",
                   "changes": changes, "note": note[:500]} for i in ids], actor)
    return len(ids)


def update_enterprises(edits: list[tuple[dict, dict, str]], unit: Unit, actor, *,
                       changes: dict | None = None) -> int:
    """Apply edited fields to many enterprises of `unit` at once (the Excel import).

    Each edit is (current, data, note): `current` the register's row as read in this transaction
    (id, the EDITABLE fields and the certificate's), `data` the new values. Each merged row passes
    the same checks as update_enterprise (EnterpriseError on the first refused); then one UPDATE
    (version + 1) and an "updated" or "re_reviewed" history line each. The caller audits the
    batch as one event. Returns how many were updated."""
    if not edits:
        return 0
    now = clock.utcnow()
    updates, events = [], []
    for current, data, note in edits:
        merged = merged_data(current, data)
        check_data(merged)
        check_attribution(unit, merged["source"])
        fields = {key: (merged[key].strip() if key == "name" else merged[key])
                  for key in data if key in EDITABLE}
        renewed = False
        if "high_tech_cert_on" in data or "high_tech_cert_no" in data:
            fields["high_tech_cert_no"] = merged["high_tech_cert_no"] or None
            fields["high_tech_cert_on"] = merged["high_tech_cert_on"]
            fields |= certificate_fields(merged["high_tech_cert_on"], current["high_tech_cert_on"],
                                         current["high_tech_first_on"],
                                         current["high_tech_expires_on"])
            renewed = is_renewal(merged["high_tech_cert_on"], current["high_tech_cert_on"],
                                 current["high_tech_expires_on"])
        updates.append({"id": current["id"], **fields, "updated_at": now})
        events.append({"enterprise_id": current["id"], "occurred_at": now, "unit_id": unit.id,
                       "kind": "re_reviewed" if renewed else "updated", "changes": changes,
                       "note": note[:500]})
    table = Enterprise.__table__
    for keys in {tuple(u) for u in updates}:  # one statement per set of columns
        db.session.execute(
            table.update().where(table.c.id == bindparam("_id"))
            .values({k: bindparam(f"_{k}") for k in keys if k != "id"}
                    | {"version_id": table.c.version_id + 1}),
            [{f"_{k}": v for k, v in u.items()} for u in updates if tuple(u) == keys],
        )
    _bulk_events(events, actor)
    return len(updates)


def open_claims(claims: list[tuple[dict, dict, str]], claimant: Unit, actor, *,
                note: str) -> int:
    """Open many claims of `claimant` at once (the Excel import), as open_claim does one: each
    (current, data, reason) names the holder's row as read (id, unit_id). The caller leaves out
    enterprises `claimant` already has an open claim on, and audits the batch as one event."""
    if not claims:
        return 0
    now = clock.utcnow()
    actor_id = getattr(actor, "id", None)
    db.session.execute(insert(ClaimConflict), [{
        "enterprise_id": current["id"], "holder_unit_id": current["unit_id"],
        "claimant_unit_id": claimant.id, "claimed_by_id": actor_id, "claimed_at": now,
        "claim_data": audit._jsonable(data), "reason": reason[:500], "state": ClaimState.OPEN,
        "decision_note": "", "version_id": 1} for current, data, reason in claims])
    _bulk_events([{"enterprise_id": current["id"], "occurred_at": now,
                   "unit_id": current["unit_id"], "kind": "claim_opened", "changes": None,
                   "note": note[:500]} for current, _data, _reason in claims], actor)
    return len(claims)


def _bulk_events(events: list[dict], actor) -> None:
    if events:
        actor_id = getattr(actor, "id", None)
        db.session.execute(insert(EnterpriseEvent), [e | {"actor_id": actor_id} for e in events])


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
    if version != conflict.version_id:
        raise EditConflict(_("Someone else decided this claim meanwhile."))
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


class DispatchError(Refusal):
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
    working_days = max(1, int(current_app.config["DISPATCH_LATE_AFTER_WORKING_DAY"]))
    regular = cal.add_working_days(month_end(month), working_days)
    if opened_on is not None and opened_on >= regular:
        return cal.add_working_days(opened_on, working_days)
    return regular


def open_month(month, actor, *, plan: Plan | None = None) -> DispatchPeriod:
    """Open the dispatch of a month for the district plan; refused when already open."""
    from taskflow.plans.queries import district_plan

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
    db.session.flush()
    audit.record(actor, "dispatch.open", period,
                 after={"month": period.label, "due_on": period.due_on},
                 summary=period.label)
    _tell_units_opened(period)
    return period


def unit_page_link(period_id: int, unit_id: int) -> str:
    """The unit's own page of a month: where inbox items about its figures lead."""
    from taskflow.notices import links

    return (links.build_path("dispatch.unit_page", period_id=period_id, unit_id=unit_id)
            or links.inbox_path())


def _tell_units_opened(period: DispatchPeriod) -> None:
    """The month is open: one inbox item for each reporter and head of every unit on the board,
    pointing at the unit's own page (in the opening transaction: told exactly once)."""
    from taskflow.enterprises.queries import dispatch_units
    from taskflow.notices.operations import notify, unit_users

    units = dispatch_units(period.plan_id)
    people = unit_users(u.id for u in units)
    for unit in units:
        notify(people[unit.id], "dispatch_opened",
               {"unit": unit.name, "period": period.label, "period_id": period.id,
                "due_date": period.due_on.isoformat()},
               unit_page_link(period.id, unit.id),
               event_key=f"dispatch:{period.id}:opened:{unit.id}")


def open_month_if_due(today: date) -> DispatchPeriod | None:
    """Open the month that ended before `today` (from DISPATCH_OPEN_DAY of the next month) once.

    Returns the period it opened, or None when nothing was due (already open, too early, no
    district plan, or the month lies outside the plan's years)."""
    from taskflow.plans.queries import district_plan

    plan = district_plan()
    if plan is None:
        return None
    open_day = int(current_app.config["DISPATCH_OPEN_DAY"])
    if today.day < open_day:
        return None
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if not plan.start_year <= month.year <= plan.end_year:
        return None
    exists = db.session.scalar(select(DispatchPeriod.id).where(
        DispatchPeriod.plan_id == plan.id, DispatchPeriod.month == month))
    if exists is not None:
        return None
    return open_month(month, None, plan=plan)


def mark_late(period: DispatchPeriod, today: date) -> int:
    """After the due date, record every unconfirmed unit of an open period as late, once.

    Returns how many units were newly marked; a second run marks none."""
    from taskflow.enterprises.queries import units_not_confirmed

    if period.state != DispatchPeriodState.OPEN or today <= period.due_on:
        return 0
    missing = units_not_confirmed(period)
    if not missing:
        return 0
    have_row = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id)))
    already_late = set(db.session.scalars(select(DispatchConfirmation.unit_id).where(
        DispatchConfirmation.period_id == period.id, DispatchConfirmation.late.is_(True))))
    new_rows = [{"period_id": period.id, "unit_id": u.id, "late": True, "note": "", "version_id": 1}
                for u in missing if u.id not in have_row]
    to_flag = [u.id for u in missing if u.id in have_row and u.id not in already_late]
    if new_rows:
        db.session.execute(insert(DispatchConfirmation), new_rows)
    if to_flag:
        db.session.execute(
            update(DispatchConfirmation)
            .where(DispatchConfirmation.period_id == period.id,
                   DispatchConfirmation.unit_id.in_(to_flag))
            .values(late=True, version_id=DispatchConfirmation.version_id + 1)
            .execution_options(synchronize_session=False)
        )
    marked = len(new_rows) + len(to_flag)
    if marked:
        names = [u.name for u in missing if u.id not in already_late]
        audit.record(None, "dispatch.mark_late", period, after={"units": names},
                     summary=f"{period.label}: {marked}")
    return marked


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
    from taskflow.notices.operations import mark_read_about

    # The month's opening and its reminders lead to this page: done, so read.
    mark_read_about(actor, links=[unit_page_link(period.id, unit.id)])
    audit.record(actor, "dispatch.confirm", row, before=before,
                 after={"figures": figures, "note": row.note, "late": row.late},
                 summary=f"{period.label} {unit.name}")
    return row


# ---------------------------------------------------------------- background exports


def request_export(user, kind: str, params: dict, rows_total: int, file_name: str):
    """Queue a background export for `user` (the scheduler's run_export_jobs writes it)."""
    from taskflow.enterprises.models import ExportJob, ExportState

    job = ExportJob(kind=kind, state=ExportState.QUEUED, requested_by_id=user.id, params=params,
                    rows_total=rows_total, file_name=file_name)
    db.session.add(job)
    audit.record(user, "export.request", job, after={"kind": kind, "params": params,
                                                      "rows": rows_total})
    return job


def start_export(job) -> None:
    from taskflow.enterprises.models import ExportState

    job.state = ExportState.RUNNING
    job.started_at = clock.utcnow()
    job.rows_done = 0
    audit.record(None, "export.start", job, after={"kind": job.kind})


def finish_export(job, storage_name: str, rows: int) -> None:
    """The file is written: the requester may download it until EXPORT_KEEP_DAYS have passed."""
    from taskflow.enterprises.models import ExportState

    job.state = ExportState.DONE
    job.storage_name = storage_name
    job.rows_done = job.rows_total = rows
    job.finished_at = clock.utcnow()
    job.expires_at = job.finished_at + timedelta(days=int(current_app.config["EXPORT_KEEP_DAYS"]))
    audit.record(None, "export.done", job, after={"rows": rows})


def fail_export(job, error: str) -> None:
    from taskflow.enterprises.models import ExportState

    job.state = ExportState.FAILED
    job.error = error[:2000]
    job.finished_at = clock.utcnow()
    audit.record(None, "export.failed", job, after={"error": job.error})


def expire_export(job) -> None:
    """The kept time is over: the file is gone, the row stays (its history)."""
    before = {"storage_name": job.storage_name}
    job.storage_name = ""
    audit.record(None, "export.expired", job, before=before, after={"storage_name": ""})
