"""The navigation bar is rendered once per distinct state in a worker (core/templating.py):
whatever it is keyed on, a user must never see another role's links, another language, or
another page's highlighting."""

import re

import pytest
from flask import template_rendered

from taskflow.core.cache import app_cache
from taskflow.core.templating import NAV_CACHE

PASSWORD = "correct-horse-battery"  # tests/conftest.py's make_user password


@pytest.fixture
def rendered(app):
    """The names of the templates rendered while the test runs, in order."""
    names: list[str] = []

    def record(sender, template, context, **extra):
        names.append(template.name)

    template_rendered.connect(record, app)
    yield names
    template_rendered.disconnect(record, app)


def _nav(html: str) -> str:
    """The left-hand navigation list of a page."""
    start = html.index('<ul class="navbar-nav me-auto">')
    return html[start:html.index("</ul>", start)]


def _link(nav: str, href: str) -> str:
    """The opening <a> tag of the link to `href` in a navigation list."""
    end = nav.index(f'href="{href}"')
    return nav[nav.rindex("<a", 0, end):nav.index(">", end) + 1]


def test_the_bar_is_rendered_once_for_repeated_pages(client, login, make_user, rendered):
    login(make_user("leader"))
    first = client.get("/account")
    second = client.get("/account")
    assert first.status_code == second.status_code == 200
    assert rendered.count("_navigation.html") == 1
    assert _nav(first.get_data(as_text=True)) == _nav(second.get_data(as_text=True))
    assert "/cockpit" in _nav(second.get_data(as_text=True))


def test_roles_never_share_a_bar(client, login, make_user, app):
    admin, leader = make_user("admin"), make_user("leader")
    login(admin)
    admin_nav = _nav(client.get("/account").get_data(as_text=True))
    assert 'href="/admin/users"' in admin_nav
    client.post("/logout")
    login(leader)
    leader_nav = _nav(client.get("/account").get_data(as_text=True))
    assert leader_nav != admin_nav
    assert 'href="/admin/users"' not in leader_nav
    assert 'href="/cockpit"' in leader_nav  # which the admin's bar has too
    with app.app_context():
        assert len(app_cache(NAV_CACHE)) == 4  # the links and the user's items, for each role


def test_the_language_switch_changes_the_bar(client, login, make_user):
    login(make_user("leader"))
    assert "驾驶舱" in _nav(client.get("/account").get_data(as_text=True))
    client.post("/locale", data={"locale": "en", "next": "/account"})
    english = _nav(client.get("/account").get_data(as_text=True))
    assert "Cockpit" in english and "驾驶舱" not in english


def test_the_current_section_is_highlighted_on_its_own_pages_only(client, login, make_user):
    login(make_user("admin"))
    on_users = client.get("/admin/users")
    assert on_users.status_code == 200
    assert "active" in _link(_nav(on_users.get_data(as_text=True)), "/admin/users")
    elsewhere = _nav(client.get("/account").get_data(as_text=True))
    assert "active" not in _link(elsewhere, "/admin/users")


def test_templates_that_auto_reload_are_not_cached(app, client, login, make_user, rendered):
    app.jinja_env.auto_reload = True
    login(make_user("leader"))
    client.get("/account")
    client.get("/account")
    assert rendered.count("_navigation.html") == 2


def test_the_cached_sign_out_button_submits_the_sessions_own_form(app, make_user):
    """The bar is shared, the CSRF token is not: the button names a form rendered per request."""
    tokens = []
    for user in (make_user("leader"), make_user("leader")):
        browser = app.test_client()
        assert browser.post("/login", data={"username": user.username,
                                            "password": PASSWORD}).status_code == 302
        html = browser.get("/account").get_data(as_text=True)
        button = re.search(r'<button[^>]*form="tf-sign-out"[^>]*>', html)
        form = re.search(r'<form id="tf-sign-out" method="post" action="/logout"[^>]*>\s*'
                         r'<input type="hidden" name="csrf_token" value="([^"]+)">', html)
        assert button and form, "a sign-out button and the form it submits"
        tokens.append(form.group(1))
        assert browser.post("/logout", data={"csrf_token": form.group(1)}).status_code == 302
        assert browser.get("/account").status_code == 302  # signed out
    assert tokens[0] != tokens[1]


def test_a_unit_users_page_names_the_unit_without_a_query_of_its_own(
        client, login, make_user, make_unit, count_queries):
    unit = make_unit(name="古南街道")
    login(make_user("reporter", unit=unit, display_name="张三"))
    with count_queries() as counter:
        html = client.get("/account").get_data(as_text=True)
    assert "张三 · 古南街道" in html
    assert [s for s in counter.statements if "FROM units" in s and "users" not in s] == []
