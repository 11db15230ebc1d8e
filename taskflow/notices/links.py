"""Paths to pages, built without a request (jobs run outside one); e-mails prefix BASE_URL."""

from flask import current_app
from werkzeug.routing import BuildError

# Pages of other areas a milestone reminder can point at, best first: (endpoint, value builder).
MILESTONE_PAGES = (
    ("assignments.milestone_detail", lambda m: {"milestone_id": m["id"]}),
    ("assignments.milestone", lambda m: {"milestone_id": m["id"]}),
    ("assignments.assignment_detail", lambda m: {"assignment_id": m["assignment_id"]}),
    ("assignments.detail", lambda m: {"assignment_id": m["assignment_id"]}),
    ("assignments.my_tasks", lambda m: {}),
)


def build_path(endpoint: str, **values) -> str:
    """The URL path of an endpoint, or "" when it does not exist."""
    adapter = current_app.url_map.bind("localhost", script_name="/")
    try:
        return adapter.build(endpoint, values)
    except BuildError:
        return ""


def notice_path(notice_id: int) -> str:
    """The notice's own page."""
    return build_path("notices.notice_detail", notice_id=notice_id)


def inbox_path() -> str:
    """The user's inbox."""
    return build_path("notices.inbox")


def milestone_path(milestone: dict) -> str:
    """The best page for a milestone ({"id", "assignment_id"}), the inbox if none exists."""
    for endpoint, values in MILESTONE_PAGES:
        if endpoint in current_app.view_functions:
            path = build_path(endpoint, **values(milestone))
            if path:
                return path
    return inbox_path()


def absolute(path: str) -> str:
    """BASE_URL + path, for e-mails and webhooks."""
    base = (current_app.config["BASE_URL"] or "").rstrip("/")
    return f"{base}{path}" if path else base
