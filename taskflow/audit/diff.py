"""Before/after of an audit event as rows a person can read."""

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Change:
    """One field of an event: its value before and after, and whether it changed."""

    field: str
    before: str
    after: str
    changed: bool


def show(value: Any) -> str:
    """A value as short readable text."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        from flask import has_request_context

        if has_request_context():
            from flask_babel import gettext as _

            return _("yes") if value else _("no")
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def changes(before: dict | None, after: dict | None) -> list[Change]:
    """Every field named in before or after, in first-seen order, changed ones marked."""
    before = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    keys = list(before) + [k for k in after if k not in before]
    missing = object()
    rows = []
    for key in keys:
        old, new = before.get(key, missing), after.get(key, missing)
        rows.append(Change(
            field=str(key),
            before="" if old is missing else show(old),
            after="" if new is missing else show(new),
            changed=old != new,
        ))
    return rows
