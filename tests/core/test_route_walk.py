"""Walk every route of the app as every role: nothing crashes, anonymous users are sent to sign in,
a leader never changes anything, and unit users never see another unit's objects."""

import re

import pytest
from sqlalchemy import select

from taskflow.extensions import db
from tests.helpers import ROLES

# Routes anyone may open without signing in.
PUBLIC_ENDPOINTS = {"core.health", "readyz", "core.asset", "core.set_locale", "accounts.login", "static"}
# POST routes every signed-in user may use on their own session or account.
# (The sign-in's further steps, login_*, just send a signed-in user home.)
SELF_SERVICE_POSTS = re.compile(r"^(accounts\.(logout|account_language|account_password|account_mobile|"
                                r"account_second_factor|account_recovery_codes|"
                                r"login_(code|enrol|password|continue|cancel))|core\.set_locale|"
                                r"notices\.(read_all|open_notification)|"
                                # Asking for one's own background export (我的导出).
                                r"enterprises\.register_export_request)$")


def _urls(app, plan_code):
    """(endpoint, methods, url) for every rule, with parameters filled in plausibly."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "core.asset"):
            continue
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name].__class__.__name__
            if name in ("code", "plan_code"):
                values[name] = plan_code
            elif converter in ("IntegerConverter",):
                values[name] = 1
            elif name in ("period", "month", "key"):
                values[name] = "2024-03"
            else:
                values[name] = "1"
        try:
            url = app.url_for(rule.endpoint, **values) if hasattr(app, "url_for") else None
        except Exception:  # noqa: BLE001 - a converter we cannot fill; skip that rule
            continue
        yield rule.endpoint, rule.methods - {"HEAD", "OPTIONS"}, url


def test_anonymous_users_are_sent_to_sign_in(app, client, world):
    with app.test_request_context():
        routes = list(_urls(app, world["plan"].code))
    assert len(routes) > 20
    for endpoint, methods, url in routes:
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in methods & {"GET", "POST"}:
            response = client.open(url, method=method)
            assert response.status_code in (302, 401), (method, url, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], (method, url)


@pytest.mark.parametrize("role", ROLES)
def test_no_route_crashes_for_any_role(app, client, world, login, role):
    login(world["users"][role])
    with app.test_request_context():
        routes = list(_urls(app, world["plan"].code))
    for endpoint, methods, url in routes:
        # /readyz answers 503 by design here: the test schema is built without migrations.
        if "GET" in methods and endpoint != "readyz":
            response = client.get(url)
            assert response.status_code < 500, (role, url, response.status_code)


def test_a_leader_never_changes_anything(app, client, world, login):
    from taskflow.audit.models import AuditEvent

    login(world["users"]["leader"])
    with app.test_request_context():
        routes = list(_urls(app, world["plan"].code))
    before = db.session.scalar(select(db.func.max(AuditEvent.id)))
    for endpoint, methods, url in routes:
        if "POST" not in methods or SELF_SERVICE_POSTS.match(endpoint) or endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.post(url, data={})
        assert response.status_code in (403, 404), (url, response.status_code)
    after = db.session.scalar(select(db.func.max(AuditEvent.id)))
    assert after == before
