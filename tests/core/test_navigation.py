"""The navigation bar is rendered once per distinct state in a worker (core/templating.py):
whatever it is keyed on, a user must never see another role's links, another language, or
another page's highlighting."""

import pytest
from flask import template_rendered

from taskflow.core.cache import app_cache
from taskflow.core.templating import NAV_CACHE


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
        assert len(app_cache(NAV_CACHE)) == 2


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
