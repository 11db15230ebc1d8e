"""The words of every notification kind, rendered in the reader's language from stored params."""

from flask_babel import gettext as _

def level_name(level: str) -> str:
    """蓝色提醒单 / 催办单 / 督办单."""
    if level == "blue":
        return _("Reminder notice")
    if level == "yellow":
        return _("Urge notice")
    if level == "red":
        return _("Supervision notice")
    return level


def status_name(status: str) -> str:
    """issued / acknowledged / answered."""
    return {
        "issued": _("Awaiting acknowledgement"),
        "acknowledged": _("Acknowledged, awaiting answer"),
        "answered": _("Answered"),
    }.get(status, status)


def render(kind: str, params: dict) -> tuple[str, str]:
    """(title, detail) of one notification."""
    p = params or {}
    milestone = p.get("milestone", "")
    task = p.get("task", "")
    unit = p.get("unit", "")
    due = p.get("due_date", "")
    if kind in ("due_7", "due_3", "due_1"):
        days = int(p.get("working_days", 0))
        if days <= 0:
            title = _("Due today: %(milestone)s", milestone=milestone)
        else:
            title = _("Due in %(days)s working days: %(milestone)s", days=days, milestone=milestone)
        return title, _("%(task)s · %(unit)s · due %(due)s", task=task, unit=unit, due=due)
    if kind == "overdue":
        return (_("Overdue: %(milestone)s", milestone=milestone),
                _("%(task)s · %(unit)s · was due %(due)s; report progress or ask for an extension",
                  task=task, unit=unit, due=due))
    if kind == "overdue_lead":
        return (_("Overdue at %(unit)s: %(milestone)s", unit=unit, milestone=milestone),
                _("%(task)s · was due %(due)s · your unit leads this task", task=task, due=due))
    if kind.startswith("notice_") and kind != "notice_answered":
        level = kind.removeprefix("notice_")
        title = _("%(kind)s %(number)s to %(unit)s", kind=level_name(level),
                  number=p.get("number", ""), unit=unit)
        return title, _("%(count)s items · answer by %(due)s", count=p.get("count", 0),
                        due=p.get("response_due", ""))
    if kind == "notice_answered":
        title = _("%(unit)s answered %(number)s", unit=unit, number=p.get("number", ""))
        detail = _("The answer came after the response due date.") if p.get("late") else \
            _("Answered in time.")
        return title, detail
    if kind == "update_request":
        return (_("Monthly progress update requested: %(task)s", task=task),
                _("Report this month's progress (%(period)s) on every open milestone.",
                  period=p.get("period", "")))
    if kind == "update_rerequest":
        return (_("Still missing: monthly progress update for %(task)s", task=task),
                _("No progress has been reported for %(period)s yet.", period=p.get("period", "")))
    if kind == "dispatch_remind":
        return (_("Monthly figures for %(period)s not confirmed yet", period=p.get("period", "")),
                _("Confirm your unit's monthly figures before the deadline."))
    return kind, ""
