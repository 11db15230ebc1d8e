"""Every route of the assignments blueprint, for every role: the expected status code.

Another unit's object answers 404, a forbidden action 403, anonymous users go to the sign-in
page (302). The allowed role gets past the checks: with an empty form that is 400 (the form's
messages) or a redirect with a message, never 403/404/500.
"""

from datetime import date

import pytest
from sqlalchemy import select

from taskflow.assignments import operations as ops
from taskflow.assignments.models import Evidence
from taskflow.extensions import db

ROLES = ("anonymous", "reporter_own", "reporter_other", "reporter_lead", "unit_head", "office",
         "supervisor", "leader", "admin")
USER_OF_ROLE = {"reporter_own": "reporter_a", "reporter_other": "reporter_b",
                "reporter_lead": "reporter_lead", "unit_head": "head_a", "office": "office",
                "supervisor": "supervisor", "leader": "leader", "admin": "admin"}

# Shorthands: expected codes for (reporter_own, reporter_other, reporter_lead, unit_head,
# office, supervisor, leader, admin); anonymous is always 302.
READ_A = (200, 404, 200, 200, 200, 200, 200, 200)
UNIT_ONLY = (200, 200, 200, 200, 403, 403, 403, 403)
READERS = (403, 403, 403, 403, 200, 200, 200, 200)
OFFICE_GET = (403, 403, 403, 403, 200, 403, 403, 403)
OFFICE_FORM = (403, 403, 403, 403, 400, 403, 403, 403)
OFFICE_REDIRECT = (403, 403, 403, 403, 302, 403, 403, 403)

# (method, url template, expected codes)
ROUTES = [
    ("GET", "/my", UNIT_ONLY),
    ("GET", "/assignments/{a}", READ_A),
    ("GET", "/milestones/{ms}", READ_A),
    ("POST", "/milestones/{ms}/updates", (400, 404, 403, 400, 403, 403, 403, 403)),
    ("POST", "/milestones/{ms}/extensions", (400, 404, 403, 400, 403, 403, 403, 403)),
    ("POST", "/milestones/{ms}/close", (403, 404, 403, 403, 400, 403, 403, 403)),
    ("GET", "/updates/{u}", READ_A),
    ("POST", "/updates/{u_signoff}/sign-off", (403, 404, 403, 400, 403, 403, 403, 403)),
    ("POST", "/updates/{u}/review", (403, 404, 403, 403, 400, 403, 403, 403)),
    ("GET", "/evidence/{e}/download", READ_A),
    ("GET", "/evidence/{e}/inline", READ_A),
    ("GET", "/evidence/{e}/view", READ_A),
    ("GET", "/sign-off", (403, 403, 403, 200, 403, 403, 403, 403)),
    ("GET", "/review", READERS),
    ("GET", "/extensions", READERS),
    ("POST", "/extensions/{x}/decide", (403, 404, 403, 403, 302, 403, 403, 403)),
    ("GET", "/assignments/{lead}/reports/new", (404, 404, 200, 404, 403, 403, 403, 403)),
    ("POST", "/assignments/{lead}/reports/new", (404, 404, 400, 404, 403, 403, 403, 403)),
    # The lead unit's overview: the task's lead unit and the reading roles; reminders: the lead.
    ("GET", "/tasks/{task}/lead", (403, 403, 200, 403, 200, 200, 200, 200)),
    ("POST", "/tasks/{task}/lead/remind/{ms}", (403, 404, 302, 403, 403, 403, 403, 403)),
    ("GET", "/planning", OFFICE_GET),
    ("GET", "/planning/tasks/{task}", OFFICE_GET),
    ("POST", "/planning/tasks/{task}/units", OFFICE_FORM),
    ("POST", "/planning/assignments/{a}/remove", OFFICE_REDIRECT),
    ("POST", "/planning/assignments/{a}/sign-off", OFFICE_REDIRECT),
    ("POST", "/planning/tasks/{task}/sign-off", OFFICE_REDIRECT),
    ("POST", "/planning/tasks/{task}/milestones", OFFICE_FORM),
    ("GET", "/planning/milestones/{ms}/edit", OFFICE_GET),
    ("POST", "/planning/milestones/{ms}/edit", OFFICE_FORM),
]


@pytest.fixture
def objects(world, pdf_bytes, app):
    """Town A's submitted update with a PDF, a pending extension request, and a second update
    (on another milestone of town A, where the unit head signs off) waiting for sign-off."""
    from io import BytesIO

    from werkzeug.datastructures import FileStorage

    from taskflow.core.uploads import validate_upload

    with app.test_request_context("/"):
        upload = validate_upload(FileStorage(BytesIO(pdf_bytes), filename="证明.pdf"))
        update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=50,
                                   narrative="进展", problems="", next_steps="", files=[upload])
        extension = ops.request_extension(world.ms_a, world.users.reporter_a,
                                          requested_due_date=date(2024, 4, 30), reason="原因")
        world.a.requires_sign_off = True
        from taskflow.assignments.models import Milestone

        second = Milestone(assignment_id=world.a.id, title="第二季度", due_date=date(2024, 6, 30),
                           original_due_date=date(2024, 6, 30))
        db.session.add(second)
        db.session.flush()
        waiting = ops.submit_update(second, world.users.reporter_a, progress=10, narrative="x",
                                    problems="", next_steps="")
        db.session.commit()
    return {"a": world.a.id, "ms": world.ms_a.id, "u": update.id, "u_signoff": waiting.id,
            "e": db.session.scalar(select(Evidence.id)), "x": extension.id, "lead": world.lead.id,
            "task": world.task.id}


def test_every_route_is_in_the_table(app):
    rules = {(method, rule.rule) for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("assignments.")
             for method in rule.methods - {"HEAD", "OPTIONS"}}
    import re

    covered = {(method, re.sub(r"\{[a-z_]+\}", "X", url)) for method, url, _ in ROUTES}
    normalised = {(method, re.sub(r"<int:[a-z_]+>", "X", rule)) for method, rule in rules}
    assert normalised == covered


@pytest.mark.parametrize("role", ROLES)
def test_route_access(role, world, objects, client, login):
    if role != "anonymous":
        login(getattr(world.users, USER_OF_ROLE[role]))
    failures = []
    for method, template, codes in ROUTES:
        url = template.format(**objects)
        expected = 302 if role == "anonymous" else codes[ROLES.index(role) - 1]
        response = client.open(url, method=method, data={} if method == "POST" else None)
        if response.status_code != expected:
            failures.append(f"{method} {url}: {response.status_code} != {expected}")
        if role == "anonymous":
            assert "/login" in response.headers.get("Location", ""), url
    assert not failures, "\n".join(failures)
