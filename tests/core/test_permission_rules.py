"""Every rule has one owner (core/permissions.py): the navigation bar shows a link exactly when
the route behind it lets the user in, templates ask the same named rules as the views, and core
depends on no area."""

import ast
import re
from pathlib import Path

import pytest
from flask import render_template_string

from taskflow import AREAS
from taskflow.accounts.models import User
from taskflow.core import permissions as perm
from taskflow.core.roles import UNIT_ROLES, Role
from taskflow.extensions import db

PASSWORD = "correct-horse-battery"  # tests/conftest.py's make_user password
ROOT = Path(__file__).resolve().parents[2]


def _nav(html: str) -> str:
    """The left-hand navigation list of a page."""
    start = html.index('<ul class="navbar-nav me-auto">')
    return html[start:html.index("</ul>", start)]


@pytest.fixture
def bars(app, plan, make_unit, make_user):
    """For each role: its own signed-in client and the links of its navigation bar."""
    unit = make_unit()
    result = {}
    for role in Role:
        user = make_user(role.value, unit=unit if role in UNIT_ROLES else None)
        client = app.test_client()
        signed_in = client.post("/login", data={"username": user.username, "password": PASSWORD})
        assert signed_in.status_code == 302
        page = client.get("/account")
        assert page.status_code == 200
        links = set(re.findall(r'href="([^"]+)"', _nav(page.get_data(as_text=True))))
        result[role] = (client, links)
    return result


def test_every_role_can_open_each_link_its_bar_shows_and_no_other(bars):
    every_link = set().union(*(links for _, links in bars.values()))
    assert {"/notices/overdue", "/admin/users", "/cockpit"} <= every_link
    for role, (client, links) in bars.items():
        for href in sorted(links):
            response = client.get(href, follow_redirects=True)
            assert response.status_code == 200, (role, href, response.status_code)
            assert response.request.path != "/login", (role, href)
        for href in sorted(every_link - links):
            response = client.get(href)
            assert response.status_code in (403, 404), (role, href, response.status_code)


def test_the_administrator_sees_the_overdue_page_it_may_open(bars):
    client, links = bars[Role.ADMIN]
    assert "/notices/overdue" in links
    assert client.get("/notices/overdue").status_code == 200


# ---------------------------------------------------------------- the named rules


def _user(role: Role, unit_id: int | None = None) -> User:
    return User(username=f"{role}-x", role=role.value, unit_id=unit_id, active=True)


ROLE_RULE_TABLE = {
    "can_view_overdue": {Role.OFFICE, Role.SUPERVISOR, Role.LEADER, Role.ADMIN},
    "can_view_notices": set(Role),
    "can_view_dispatch": set(Role),
    "can_add_enterprises": {Role.OFFICE, Role.REPORTER, Role.UNIT_HEAD},
    "can_use_workspace": {Role.REPORTER, Role.UNIT_HEAD},
    "can_use_sign_off_queue": {Role.UNIT_HEAD},
    "can_review": {Role.OFFICE},
    "can_view_review_queue": {Role.OFFICE, Role.SUPERVISOR, Role.LEADER, Role.ADMIN},
    "can_view_audit": {Role.OFFICE, Role.SUPERVISOR, Role.ADMIN},
    "can_manage_users": {Role.ADMIN},
    "can_manage_outbox": {Role.ADMIN},
    "can_view_cockpit": {Role.OFFICE, Role.SUPERVISOR, Role.LEADER, Role.ADMIN},
}


@pytest.mark.parametrize("name", sorted(ROLE_RULE_TABLE))
def test_role_rules_answer_for_exactly_their_roles(app, name):
    rule = perm.ROLE_RULES[name]
    allowed = {role for role in Role
               if rule(_user(role, unit_id=1 if role in UNIT_ROLES else None))}
    assert allowed == ROLE_RULE_TABLE[name]


def test_a_unit_user_without_a_unit_has_no_workspace_and_adds_no_enterprise(app):
    loose = _user(Role.UNIT_HEAD)
    assert not perm.can_use_workspace(loose)
    assert not perm.can_use_sign_off_queue(loose)
    assert not perm.can_add_enterprises(loose)


def test_a_lead_unit_reads_its_team_and_the_lookup_is_asked_only_when_it_decides(app):
    from taskflow.assignments.models import Assignment

    assignment = Assignment(task_id=7, unit_id=2, role="responsible")
    asked = []

    def leads(task_id):
        asked.append(task_id)
        return {3}

    assert perm.can_view_assignment(_user(Role.OFFICE), assignment, leads)
    assert perm.can_view_assignment(_user(Role.REPORTER, unit_id=2), assignment, leads)
    assert asked == []
    assert perm.can_view_assignment(_user(Role.REPORTER, unit_id=3), assignment, leads)
    assert not perm.can_view_assignment(_user(Role.REPORTER, unit_id=4), assignment, leads)
    assert asked == [7, 7]


def test_a_staged_import_and_an_inbox_item_belong_to_their_user_only(app):
    from taskflow.enterprises.models import EnterpriseImport
    from taskflow.notices.models import Notification

    owner, office = _user(Role.REPORTER, unit_id=1), _user(Role.OFFICE)
    owner.id, office.id = 5, 6
    assert perm.can_continue_import(owner, EnterpriseImport(user_id=5))
    assert not perm.can_continue_import(office, EnterpriseImport(user_id=5))
    assert perm.can_open_notification(owner, Notification(user_id=5))
    assert not perm.can_open_notification(office, Notification(user_id=5))


def test_templates_read_the_rules_as_perms(app, make_unit, make_user):
    unit, other = make_unit(), make_unit()
    reporter = make_user("reporter", unit=unit)
    with app.test_request_context():
        from flask_login import login_user

        login_user(db.session.get(User, reporter.id))
        text = render_template_string(
            "{{ perms.can_use_workspace }} {{ perms.can_review }} "
            "{{ perms.can_view_score_card(own) }} {{ perms.can_view_score_card(other) }}",
            own=unit.id, other=other.id)
        assert text == "True False True False"
        with pytest.raises(NameError):
            render_template_string("{% if perms.can_reveiw %}x{% endif %}")


# ---------------------------------------------------------------- one owner


def test_core_permissions_import_no_area():
    for name in ("permissions.py", "roles.py"):
        tree = ast.parse((ROOT / "taskflow" / "core" / name).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        areas = {module.split(".")[1] for module in imported
                 if module and module.startswith("taskflow.") and module.count(".") >= 1}
        assert not areas & (set(AREAS) - {"core"}), (name, areas)


ROLE_NAMES = "|".join(role.value for role in Role)
# A role name in quotes, or the user's role read directly: a rule written outside permissions.py.
ROLE_TEST = re.compile(
    rf"""current_user\.role|\.role\s*(==|!=|in|not in)\s*\(?\s*["']({ROLE_NAMES})["']""")


def test_no_template_or_view_tests_role_names():
    files = list((ROOT / "templates").rglob("*.html"))
    files += [path for path in (ROOT / "taskflow").rglob("*.py")
              if path.name in ("views.py", "operations.py", "queries.py", "templating.py")]
    quoted = re.compile(rf"""["']({ROLE_NAMES})["']""")
    offenders = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ROLE_TEST.search(line) or (path.suffix == ".html" and quoted.search(line)):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []
