"""Display labels of the assignments area's states and codes (translated)."""

from flask_babel import lazy_gettext as _l

from taskflow.assignments.forms import FREQUENCY_LABELS, REASON_LABELS
from taskflow.assignments.models import REPORTABLE_STATES, WAITING_STATES

MILESTONE_STATE_LABELS = {
    "pending": _l("Not started"),
    "in_progress": _l("In progress"),
    "submitted": _l("Submitted"),
    "signed_off": _l("Signed off by the unit head"),
    "accepted": _l("Closed (100% accepted)"),
    "returned": _l("Returned"),
    "closed": _l("Closed off"),
}
UPDATE_STATE_LABELS = {
    "submitted": _l("Submitted"),
    "signed_off": _l("Signed off"),
    "accepted": _l("Accepted"),
    "returned": _l("Returned"),
}
EXTENSION_STATE_LABELS = {
    "pending": _l("Waiting for a decision"),
    "granted": _l("Granted"),
    "refused": _l("Refused"),
}
STATE_BADGES = {
    "pending": "secondary",
    "in_progress": "info",
    "submitted": "primary",
    "signed_off": "primary",
    "accepted": "success",
    "closed": "success",
    "returned": "warning",
    "granted": "success",
    "refused": "danger",
}
TIMELINE_LABELS = {
    "submitted": _l("Report submitted"),
    "signed_off": _l("Signed off by the unit head"),
    "accepted": _l("Accepted by the office"),
    "returned": _l("Returned"),
    "extension_requested": _l("Extension requested"),
    "extension_granted": _l("Extension granted"),
    "extension_refused": _l("Extension refused"),
}

# The lead unit's reading of a responsible unit's milestone (queries.lead_status).
LEAD_STATUS_LABELS = {
    "reported": _l("Reported"),
    "not_reported": _l("Not reported"),
    "returned": _l("Returned"),
}
LEAD_STATUS_BADGES = {"reported": "success", "not_reported": "danger", "returned": "warning"}


def nav_counts() -> dict[str, int]:
    """The navigation badges (review and sign-off queue sizes), counted once per request."""
    from flask import g
    from flask_login import current_user

    from taskflow.assignments.queries import counts_for_nav

    if "assignments_nav_counts" not in g:
        g.assignments_nav_counts = counts_for_nav(current_user)
    return g.assignments_nav_counts


def nav_state() -> tuple:
    """What the area's _nav.html shows beyond the role-only rules and page: the badge counts."""
    return tuple(sorted(nav_counts().items()))


def template_globals() -> dict:
    """Context processor: label lookups and lazily computed navigation counts."""
    return {
        "milestone_state_label": lambda s: MILESTONE_STATE_LABELS.get(s, s),
        "update_state_label": lambda s: UPDATE_STATE_LABELS.get(s, s),
        "extension_state_label": lambda s: EXTENSION_STATE_LABELS.get(s, s),
        "reason_label": lambda s: REASON_LABELS.get(s, s or ""),
        "frequency_label": lambda s: FREQUENCY_LABELS.get(s, s),
        "state_badge": lambda s: STATE_BADGES.get(s, "secondary"),
        "timeline_label": lambda s: TIMELINE_LABELS.get(s, s),
        "assignments_nav_counts": nav_counts,
        "lead_status_label": lambda s: LEAD_STATUS_LABELS.get(s, s),
        "lead_status_badge": lambda s: LEAD_STATUS_BADGES.get(s, "secondary"),
        # The milestone state sets, defined once in taskflow.assignments.models.
        "milestone_reportable_states": REPORTABLE_STATES,
        "milestone_waiting_states": WAITING_STATES,
    }
