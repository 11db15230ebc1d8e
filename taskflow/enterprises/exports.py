"""The register export: one Report built from the register's filters, written the same way in
the request (small exports) and by the background job (enterprises.jobs.run_export_jobs)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from taskflow.core.spreadsheets import Report, write_report
from taskflow.enterprises import queries
from taskflow.enterprises.labels import SOURCE_LABELS, STATUS_LABELS
from taskflow.extensions import db

EXPORT_DIR = "exports"  # under DATA_DIR: background exports' files (random names)
FILTER_KEYS = ("q", "status", "source", "high_tech", "specialised", "figure", "on")
YIELD_PER = 2000


def export_dir() -> Path:
    folder = Path(current_app.config["DATA_DIR"]) / EXPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def register_params(filters: dict, unit_id: int | None, plan_id: int | None, today: date) -> dict:
    """What a register export needs, as JSON (ExportJob.params): the filters as the page read
    them, the unit, the plan and the day the filters were read on."""
    params = {key: filters.get(key, "") for key in FILTER_KEYS}
    params.update(unit_id=unit_id, plan_id=plan_id, today=today.isoformat())
    return params


def _query_args(params: dict) -> dict:
    args = {key: params.get(key, "") for key in FILTER_KEYS}
    args["on"] = date.fromisoformat(args["on"]) if args["on"] else None
    args.update(unit_id=params.get("unit_id"), plan_id=params.get("plan_id"),
                today=date.fromisoformat(params["today"]))
    return args


def register_count(params: dict) -> int:
    return queries.register_count(**_query_args(params))


def register_header() -> list[str]:
    return [_("Enterprise name"), _("Credit code"), _("Attributed unit"), _("Source"),
            _("Tech-based in-library date"), _("Removed from the tech-based library on"),
            _("High-tech certificate number"), _("High-tech certification date"),
            _("Certificate expires"), _("Specialised SME (专精特新)"), _("Status")]


def register_file_name(params: dict) -> str:
    return _("Enterprise register %(date)s.xlsx", date=params["today"])


def register_report(params: dict, count: int) -> Report:
    """The register as a print-ready sheet: the rows stream from the database (plain columns,
    fetched YIELD_PER at a time); the totals row counts them."""
    stmt = queries.register_export_query(**_query_args(params))
    yes, no = _("yes"), _("no")
    sources = {key: str(label) for key, label in SOURCE_LABELS.items()}
    statuses = {key: str(label) for key, label in STATUS_LABELS.items()}

    def rows():
        result = db.session.execute(stmt.execution_options(yield_per=YIELD_PER))
        for (name, code, unit, source, tech_on, removed_on, cert_no, cert_on, expires_on,
             specialised, status) in result:
            yield (name, code, unit, sources.get(source, source), tech_on, removed_on, cert_no,
                   cert_on, expires_on, yes if specialised else no, statuses.get(status, status))

    today = date.fromisoformat(params["today"])
    return Report(
        title=_("Enterprise register (%(date)s)", date=today.isoformat()),
        sheet_name=_("Enterprise register"),
        as_of=today, header=register_header(), rows=rows(),
        totals=[[_("Total: %(n)d enterprises", n=count)]],
    )


def write_register(target, params: dict, *, count: int | None = None, progress=None) -> int:
    """Write the register export of `params` to `target` (a path or a binary file); returns the
    rows written. The request and the background job both call this."""
    if count is None:
        count = register_count(params)
    return write_report(target, register_report(params, count), progress=progress)
