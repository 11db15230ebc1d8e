"""What a sign-in will open afterwards: a message link (渝快政, DingTalk, e-mail) opened while
signed out lands on the sign-in page with ?next=<path>; the page says what opens after sign-in.

Only a same-site path (core.security.same_site_path) is described, and only by the kind of page
its route is: nothing is read from the database before sign-in, so the hint reveals no names."""

from dataclasses import dataclass

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from taskflow.core.security import same_site_path

# The kind of page each linked-to route is; a route not listed is "the page you asked for".
PAGE_KINDS = {
    "assignments.milestone_detail": _l("a milestone and its report form"),
    "assignments.assignment_detail": _l("one of your unit's tasks"),
    "assignments.update_detail": _l("a progress report"),
    "assignments.my_tasks": _l("My tasks"),
    "assignments.review_queue": _l("the review queue"),
    "assignments.sign_off_queue": _l("the sign-off queue"),
    "assignments.extension_queue": _l("the extension requests"),
    "notices.notice_detail": _l("an urge notice"),
    "notices.inbox": _l("your inbox"),
    "dispatch.unit_page": _l("your unit's monthly dispatch"),
    "dispatch.board": _l("the monthly dispatch board"),
    "dispatch.index": _l("the monthly dispatch"),
}
# Routes not worth announcing: the home page, and the sign-in pages themselves.
SILENT_ENDPOINTS = frozenset({"core.home", "static", "core.asset"})
SHOWN_PATH_CHARS = 120


@dataclass(frozen=True)
class NextPage:
    path: str  # where the sign-in goes afterwards (same site)
    kind: str  # what that is, in words
    shown: str  # the path as shown (shortened)


def describe(target: str | None) -> NextPage | None:
    """A NextPage for a same-site path that names a GET page of TaskFlow, else None."""
    path = same_site_path(target)
    if path is None:
        return None
    route = path.split("?", 1)[0].split("#", 1)[0]
    root = request.script_root
    if root:
        if not (route == root or route.startswith(root + "/")):
            return None
        route = route[len(root):] or "/"
    adapter = current_app.url_map.bind("", script_name=root or None)
    try:
        endpoint, _args = adapter.match(route, method="GET")
    except HTTPException:  # no such page (404/405) or a redirect: say nothing
        return None
    if endpoint in SILENT_ENDPOINTS or endpoint.startswith("accounts.login"):
        return None
    kind = PAGE_KINDS.get(endpoint, _l("the page you asked for"))
    shown = path if len(path) <= SHOWN_PATH_CHARS else path[:SHOWN_PATH_CHARS - 1] + "…"
    return NextPage(path=path, kind=str(kind), shown=shown)
