"""The audit page (/audit): filter, page through and export the audit trail."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from taskflow.audit import bp
from taskflow.audit.diff import changes, show
from taskflow.audit.queries import (
    AuditFilters,
    count_events,
    distinct_actions,
    distinct_object_types,
    events_query,
    export_rows,
)
from taskflow.core import clock
from taskflow.core.input_guard import page_number
from taskflow.core.permissions import can_view_audit, require
from taskflow.core.spreadsheets import Report, report_workbook, xlsx_response
from taskflow.extensions import db

EVENTS_PER_PAGE = 50
EXPORT_MAX_ROWS = 200_000



def _filters() -> AuditFilters:
    filters = AuditFilters.from_args(request.args)
    for name in filters.errors:
        flash(_("Ignored an invalid filter value: %(name)s", name=_filter_label(name)), "warning")
    return filters


def _filter_label(name: str) -> str:
    return {"object_id": _("Object ID"), "date_from": _("From"), "date_to": _("To date")}.get(name, name)


@bp.route("/")
@login_required
def event_list():
    """Audit events, newest first, filtered by actor, action, object and dates."""
    require(can_view_audit(current_user))
    filters = _filters()
    pagination = db.paginate(events_query(filters), page=page_number(), per_page=EVENTS_PER_PAGE,
                             max_per_page=EVENTS_PER_PAGE)
    return render_template(
        "audit/list.html",
        pagination=pagination,
        filters=filters,
        actions=distinct_actions(),
        object_types=distinct_object_types(),
        changes=changes,
    )


@bp.route("/export.xlsx")
@login_required
def export():
    """The filtered events as an Excel workbook (same filters as the page)."""
    require(can_view_audit(current_user))
    filters = _filters()
    total = count_events(filters)
    if total > EXPORT_MAX_ROWS:
        flash(_("%(n)d events match: narrow the filters to at most %(max)d to export them.",
                n=total, max=EXPORT_MAX_ROWS), "warning")
        return redirect(url_for("audit.event_list", **filters.as_args()))
    header = [_("No."), _("Time"), _("Actor"), _("Action"), _("Object type"), _("Object ID"),
              _("Summary"), _("Before"), _("After"), _("IP address"), _("Hash")]
    rows = (
        (row.id, row.occurred_at, row.actor_name, row.action, row.object_type, row.object_id,
         row.summary, show(row.before) if row.before is not None else "",
         show(row.after) if row.after is not None else "", row.ip_address or "", row.hash)
        for row in export_rows(filters)
    )
    now = clock.local_now()
    content = report_workbook(Report(
        title=_("Audit trail (%(n)d events)", n=total), sheet_name=_("Audit trail"), as_of=now,
        header=header, rows=rows))
    stamp = now.strftime("%Y%m%d-%H%M")
    return xlsx_response(_("audit-trail-%(stamp)s.xlsx", stamp=stamp), content)
