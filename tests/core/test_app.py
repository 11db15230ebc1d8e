"""The app factory, health, locale switch, assets and sign-in basics."""

from sqlalchemy import inspect

from taskflow.extensions import db


def test_health_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_pages_need_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_page_is_chinese_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page
    client.post("/locale", data={"locale": "en", "next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and "登录" not in page


def test_locale_switch_refuses_unknown_language(client):
    assert client.post("/locale", data={"locale": "xx"}).status_code == 400


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/locale", data={"locale": "en"}, csrf=False)
    assert response.status_code == 400


def test_assets_are_served_locally(client):
    response = client.get("/assets/bootstrap/css/bootstrap.min.css")
    assert response.status_code == 200
    assert b".btn" in response.data
    assert client.get("/assets/unknown/x.css").status_code == 404


def test_sign_in_and_out(client, make_user, login):
    user = make_user("office")
    response = login(user)
    assert response.status_code == 302
    assert client.get("/healthz").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client, make_user):
    user = make_user("office")
    response = client.post("/login", data={"username": user.username, "password": "nope"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_constraint_names_follow_the_convention(app):
    inspector = inspect(db.engine)
    fks = inspector.get_foreign_keys("milestones")
    assert {fk["name"] for fk in fks} >= {"fk_milestones_assignment_id_assignments"}


def test_nul_characters_in_a_form_are_refused_before_any_work(client, make_user, login):
    login(make_user("office"))
    response = client.post("/locale", data={"locale": "en", "next": "/\x00"})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_an_expired_form_gets_a_clear_message(client):
    response = client.post("/locale", data={"locale": "en", "csrf_token": "stale"})
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
