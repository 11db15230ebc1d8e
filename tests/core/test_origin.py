"""Cross-site requests and cookies over HTTPS (issue 12, A.11): a POST whose Origin (or Referer)
names another site is refused before it changes anything; cookies of an HTTPS response are
Secure even when TASKFLOW_COOKIE_SECURE is off."""

import logging

import pytest
from flask_login import login_user
from sqlalchemy import func, select

from config import TestingConfig
from taskflow import create_app
from taskflow.accounts.models import User
from taskflow.extensions import db
from tests.conftest import CSRFClient

NEW_USER = {"username": "fresh_user", "role": "office", "unit_id": "",
            "password": "river-lantern-47", "confirm": "river-lantern-47"}


@pytest.fixture
def admin_client(client, login, make_user):
    login(make_user("admin", username="origin_admin"))
    return client


def _users() -> int:
    return db.session.scalar(select(func.count(User.id)))


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost:8080"},  # another port is another site
    {"Origin": "https://localhost"},  # and another scheme
    {"Referer": "https://evil.example/page"},  # no Origin: the Referer decides
    {"Origin": "https://evil.example", "Referer": "http://localhost/admin/users/new"},
], ids=["foreign", "null", "port", "scheme", "referer", "origin-wins"])
def test_a_post_from_another_site_is_refused_and_changes_nothing(admin_client, headers, caplog):
    before = _users()
    with caplog.at_level(logging.WARNING, logger="taskflow.security"):
        response = admin_client.post("/admin/users/new", data=dict(NEW_USER), headers=headers)
    assert response.status_code == 403
    assert "该请求来自其他网站" in response.get_data(as_text=True)
    assert _users() == before
    assert "refused cross-site POST /admin/users/new" in caplog.text


@pytest.mark.parametrize("headers", [
    {"Origin": "http://localhost"},
    {"Origin": "http://localhost:80"},
    {"Referer": "http://localhost/admin/users/new?x=1"},
    {},  # neither header (older clients, scripts): the CSRF token decides
], ids=["origin", "default-port", "referer", "none"])
def test_a_post_from_this_site_passes(admin_client, headers):
    before = _users()
    response = admin_client.post("/admin/users/new", data=dict(NEW_USER), headers=headers)
    assert response.status_code == 302
    assert _users() == before + 1


def test_without_origin_the_csrf_token_still_applies(admin_client):
    before = _users()
    response = admin_client.post("/admin/users/new", data=dict(NEW_USER), csrf=False)
    assert response.status_code == 400
    assert _users() == before


def test_a_sign_in_posted_from_another_site_signs_nobody_in(client, make_user):
    user = make_user("admin", username="login_target")
    response = client.post("/login", data={"username": user.username,
                                           "password": "correct-horse-battery"},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert client.get("/admin/users").status_code == 302  # still signed out


def test_reads_are_not_checked(client):
    assert client.get("/login", headers={"Origin": "https://evil.example"}).status_code == 200


def test_the_base_url_is_this_site(app, client):
    app.config["BASE_URL"] = "https://taskflow.qj.example"
    ok = client.post("/locale", data={"locale": "en"},
                     headers={"Origin": "https://taskflow.qj.example"})
    assert ok.status_code == 302
    refused = client.post("/locale", data={"locale": "en"},
                          headers={"Origin": "https://other.qj.example"})
    assert refused.status_code == 403


@pytest.fixture
def proxied_app(app, tmp_path):
    """build(proxies): an app over the test database behind `proxies` trusted proxies."""
    built = []

    def build(proxies: int):
        other = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                           INSTANCE_DIR=tmp_path / f"i{proxies}", DATA_DIR=tmp_path / f"d{proxies}",
                           PROXY_COUNT=proxies)
        other.test_client_class = CSRFClient
        built.append(other)
        return other

    yield build
    for other in built:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "taskflow.qj.example",
             "X-Forwarded-For": "10.1.2.3"}


def test_behind_a_trusted_proxy_the_forwarded_site_is_this_site(proxied_app):
    # (Flask-WTF also wants a same-site Referer on HTTPS: WTF_CSRF_SSL_STRICT.)
    headers = dict(FORWARDED, Origin="https://taskflow.qj.example",
                   Referer="https://taskflow.qj.example/login")
    trusted = proxied_app(1).test_client().post("/locale", data={"locale": "en"}, headers=headers)
    assert trusted.status_code == 302
    # Without trusting the proxy the app sees http://localhost: the origin is foreign.
    untrusted = proxied_app(0).test_client().post("/locale", data={"locale": "en"},
                                                  headers=headers)
    assert untrusted.status_code == 403


# ---------------------------------------------------------------- Secure cookies


def _cookie(response, name: str) -> str:
    found = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert found, response.headers.getlist("Set-Cookie")
    return found[0]


def _secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";"))


def test_the_session_cookie_is_secure_over_https_even_with_cookie_secure_off(app, client):
    assert app.config["SESSION_COOKIE_SECURE"] is False
    https = client.get("/login", environ_overrides={"wsgi.url_scheme": "https"})
    assert _secure(_cookie(https, "session"))
    http = app.test_client().get("/login")
    assert not _secure(_cookie(http, "session"))


@pytest.mark.fresh_app
def test_the_remember_cookie_is_secure_over_https(app, make_user):
    user = make_user("office", username="remembered")

    @app.route("/_test/remember")
    def remember():
        login_user(db.session.get(User, user.id), remember=True)
        return "ok"

    https = app.test_client().get("/_test/remember",
                                  environ_overrides={"wsgi.url_scheme": "https"})
    assert _secure(_cookie(https, "remember_token"))
    assert _secure(_cookie(https, "session"))
    http = app.test_client().get("/_test/remember")
    assert not _secure(_cookie(http, "remember_token"))


def test_https_seen_through_a_trusted_proxy_gives_secure_cookies(proxied_app):
    trusted = proxied_app(1).test_client().get("/login", headers=FORWARDED)
    assert _secure(_cookie(trusted, "session"))
    untrusted = proxied_app(0).test_client().get("/login", headers=FORWARDED)
    assert not _secure(_cookie(untrusted, "session"))
