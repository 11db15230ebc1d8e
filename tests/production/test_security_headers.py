"""Security headers on every response, cookie flags, and no state change on GET."""

import re
import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config import ProductionConfig
from taskflow import create_app
from taskflow.core.security import CONTENT_SECURITY_POLICY
from taskflow.extensions import db

EXPECTED_CSP_PARTS = (
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)

# Markup that Content-Security-Policy (no 'unsafe-inline') blocks in a browser.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|<[^>]+\sstyle\s*=", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def assert_security_headers(response):
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    for part in EXPECTED_CSP_PARTS:
        assert part in csp, (response.request.path, part)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "same-origin"
    assert headers.get("X-Frame-Options") == "DENY"
    assert "camera=()" in headers.get("Permissions-Policy", "")


def inline_code(html: str) -> list[str]:
    """Every piece of markup the CSP would block."""
    found = []
    for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE, JS_URL):
        found += [m.group(0)[:80] for m in pattern.finditer(html)]
    return found


def test_csp_constant_is_exactly_the_policy():
    assert CONTENT_SECURITY_POLICY.split("; ")[:4] == list(EXPECTED_CSP_PARTS[:4])


def test_sign_in_page_has_the_headers_and_is_not_cached(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert inline_code(response.get_data(as_text=True)) == []


def test_signed_in_pages_are_not_cached(client, make_user, login):
    login(make_user("office"))
    response = client.get("/account")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_assets_have_the_headers_and_stay_cacheable(client, make_user, login):
    login(make_user("office"))
    response = client.get("/assets/bootstrap/css/bootstrap.min.css")
    assert response.status_code == 200
    assert_security_headers(response)
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert "max-age" in response.headers.get("Cache-Control", "")


def test_errors_and_json_have_the_headers(client):
    assert_security_headers(client.get("/no-such-page"))
    health = client.get("/healthz")
    assert_security_headers(health)
    assert "X-Request-ID" in health.headers


def test_request_id_from_the_proxy_is_echoed_and_junk_is_replaced(client):
    good = client.get("/healthz", headers={"X-Request-ID": "abc123-proxy"})
    assert good.headers["X-Request-ID"] == "abc123-proxy"
    bad = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["X-Request-ID"])


def _session_cookie(response, name="session"):
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert cookies, response.headers.getlist("Set-Cookie")
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite(client):
    cookie = _session_cookie(client.get("/login"))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.fixture
def production_app(tmp_path):
    app = create_app(
        ProductionConfig,
        SECRET_KEY=secrets.token_hex(32),
        FIELD_KEY="00112233445566778899aabbccddeeff",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        INSTANCE_DIR=tmp_path / "instance",
        DATA_DIR=tmp_path / "data",
    )
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_production_config_sets_secure_cookies_and_hsts(production_app):
    assert production_app.config["SESSION_COOKIE_SECURE"] is True
    assert production_app.config["REMEMBER_COOKIE_SECURE"] is True
    assert production_app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production_app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    client = production_app.test_client()
    response = client.get("/login", base_url="https://taskflow.example")
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert_security_headers(response)
    # Plain http (never in production, nginx redirects) gets no HSTS header.
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_proxy_fix_trusts_forwarded_proto_only_when_configured(tmp_path):
    def app_with(proxies):
        return create_app(ProductionConfig, SECRET_KEY=secrets.token_hex(32), PROXY_COUNT=proxies,
                          FIELD_KEY="00112233445566778899aabbccddeeff",
                          SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite3'}",
                          INSTANCE_DIR=tmp_path / "i", DATA_DIR=tmp_path / "d")

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.2.3"}
    trusted = app_with(1).test_client().get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" in trusted.headers
    untrusted = app_with(0).test_client().get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" not in untrusted.headers


# ---------------------------------------------------------------- no state change on GET


# The security log records refused requests (a reporter opening an office page): a log line,
# not a change of state. Every other table must stay as it was.
LOG_TABLES = frozenset({"security_events"})


def _row_counts() -> dict[str, int]:
    db.session.rollback()
    return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar()
            for t in db.metadata.sorted_tables if t.name not in LOG_TABLES}


def _get_rules(app, values):
    """(endpoint, url) of every GET route whose arguments we can fill from `values`."""
    with app.test_request_context():
        from flask import url_for

        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            # /readyz answers 503 here on purpose: the suite's schema comes from create_all,
            # not migrations (tests/production/test_migrations.py covers it).
            if "GET" not in rule.methods or rule.endpoint in {"static", "core.asset", "readyz"}:
                continue
            if not set(rule.arguments) <= set(values):
                continue
            yield rule.endpoint, url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})


@pytest.mark.parametrize("role", ["office", "admin", "supervisor", "leader", "reporter",
                                  "unit_head"])
def test_no_get_route_changes_state(app, client, make_user, make_milestone, make_unit, login,
                                    role):
    unit = make_unit()
    milestone = make_milestone()
    assignment = milestone.assignment if hasattr(milestone, "assignment") else None
    user = make_user(role, unit=unit if role in {"reporter", "unit_head"} else None)
    login(user)
    values = {
        "user_id": user.id,
        "milestone_id": milestone.id,
        "assignment_id": milestone.assignment_id,
        "task_id": assignment.task_id if assignment else 1,
        "code": "test-plan",
        "number": 1,
        "unit_id": unit.id,
    }
    routes = list(_get_rules(app, values))
    assert len(routes) >= 10
    before = _row_counts()
    visited = []
    for endpoint, url in routes:
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        assert_security_headers(response)
        if response.status_code == 200 and response.mimetype == "text/html":
            assert inline_code(response.get_data(as_text=True)) == [], url
        if response.status_code == 200:
            assert response.headers.get("Cache-Control") == "no-store", url
        visited.append((endpoint, response.status_code))
        after = _row_counts()
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
        assert not changed, (f"GET {url} changed rows", changed)
    assert sum(1 for _, status in visited if status == 200) >= 3, visited


def test_deploy_doc_lists_every_setting():
    """docs/deploy.md has a row for every TASKFLOW_* variable config.py and gunicorn.conf.py read."""
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "deploy.md").read_text("utf-8")
    config_names = re.findall(r'_env(?:_int|_bool)?\("([A-Z_]+)"', (root / "config.py").read_text())
    gunicorn_names = re.findall(r'"TASKFLOW_([A-Z_]+)"', (root / "gunicorn.conf.py").read_text())
    names = set(config_names) | set(gunicorn_names) | {"ENV"}
    assert len(names) > 30
    missing = sorted(n for n in names if f"| `TASKFLOW_{n}`" not in doc)
    assert missing == []
