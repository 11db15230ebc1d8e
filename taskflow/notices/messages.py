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


def reason_name(code: str) -> str:
    """The label of a return reason code (退回原因)."""
    from taskflow.assignments.forms import REASON_LABELS

    label = REASON_LABELS.get(code)
    return str(label) if label is not None else code


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
    if kind == "report_returned":
        by = _("your unit head") if p.get("by") == "head" else _("the joint-meeting office")
        return (_("Report returned: %(milestone)s", milestone=milestone),
                _("%(task)s · returned by %(by)s · %(reason)s: %(comment)s", task=task, by=by,
                  reason=reason_name(p.get("reason", "")), comment=p.get("comment", "")))
    if kind == "report_accepted":
        progress = int(p.get("progress", 0))
        if progress >= 100:
            detail = _("%(task)s · 100%% accepted: the milestone is closed.", task=task)
        else:
            detail = _("%(task)s · %(progress)s%% accepted: the milestone stays open for the rest.",
                       task=task, progress=progress)
        return _("Report accepted: %(milestone)s", milestone=milestone), detail
    if kind == "extension_granted":
        return (_("Extension granted: %(milestone)s", milestone=milestone),
                _("%(task)s · new due date %(due)s (was %(previous)s)", task=task, due=due,
                  previous=p.get("previous_due_date", "")))
    if kind == "extension_refused":
        return (_("Extension refused: %(milestone)s", milestone=milestone),
                _("%(task)s · the due date stays %(due)s · %(comment)s", task=task, due=due,
                  comment=p.get("comment", "")))
    if kind == "dispatch_opened":
        return (_("Monthly dispatch %(period)s is open", period=p.get("period", "")),
                _("Confirm your unit's monthly figures by %(due)s.", due=due))
    if kind == "lead_remind":
        return (_("Reminder from the lead unit %(lead)s: %(milestone)s",
                  lead=p.get("lead", ""), milestone=milestone),
                _("%(task)s · due %(due)s · please report your progress.", task=task, due=due))
    if kind == "dispatch_remind":
        return (_("Monthly figures for %(period)s not confirmed yet", period=p.get("period", "")),
                _("Confirm your unit's monthly figures before the deadline."))
    return kind, ""
