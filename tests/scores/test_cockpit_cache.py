"""The cockpit's content is computed once per (plan, locale, day) and served from memory for
COCKPIT_CACHE_SECONDS; the page around it and the permission checks run on every request."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from taskflow.core import clock
from taskflow.core.cache import EXTENSION_KEY
from taskflow.extensions import db
from taskflow.scores import operations
from tests.helpers import TEST_PASSWORD

TODAY_NOW = datetime(2024, 4, 10, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
# Tables only the cockpit's aggregates read (the request's own user/plan look-ups do not).
DATA_TABLES = ("enterprises", "milestones", "score_cards", "score_periods", "assignments")


@pytest.fixture
def cached(app):
    app.config["COCKPIT_CACHE_SECONDS"] = 60
    return app


@pytest.fixture
def scenario(cached, build_scenario, plan, make_user):
    with clock.frozen_at(TODAY_NOW):
        s = build_scenario()
        operations.recompute(plan.id, "2024-03", None, today=TODAY_NOW.date())
        db.session.commit()
        for role in ("office", "supervisor", "leader"):
            if role not in s.users:
                s.users[role] = make_user(role, username=f"{role}-c")
        yield s


def _data_statements(counter):
    return [s for s in counter.statements
            if any(f" {table}" in s or f'"{table}"' in s for table in DATA_TABLES)]


def test_second_request_within_the_ttl_runs_no_data_queries(client, login, scenario, count_queries):
    login(scenario.users["leader"])
    with count_queries() as first:
        page = client.get("/cockpit")
    assert page.status_code == 200
    assert "数据更新于 10:00" in page.text
    assert _data_statements(first), "the first request computes the figures"
    with count_queries() as second:
        again = client.get("/cockpit")
    assert again.status_code == 200
    assert _data_statements(second) == []
    # Only the signed-in user, loaded with the inbox badge; the plan's id is cached too.
    assert len(second.statements) == 1, second.statements
    assert "FROM users" in second.statements[0] and "notifications" in second.statements[0]
    assert 'data-figure="tech_in_library"' in again.text
    with count_queries() as data_first:
        assert client.get("/cockpit/data.json").status_code == 200
    with count_queries() as data_second:
        data = client.get("/cockpit/data.json")
    assert _data_statements(data_first) and _data_statements(data_second) == []
    assert data.get_json()["register"]["labels"]


def test_the_block_is_shared_by_roles_but_the_page_around_it_is_each_users(
        app, scenario, count_queries):
    tokens = set()
    for role in ("leader", "supervisor", "office"):
        user = scenario.users[role]
        browser = app.test_client()  # a browser of its own: its own session
        assert browser.post("/login", data={"username": user.username,
                                            "password": TEST_PASSWORD}).status_code == 302
        with count_queries() as counter:
            page = browser.get("/cockpit")
        assert page.status_code == 200
        if role == "leader":
            assert _data_statements(counter), "the first viewer computes the block"
        else:
            assert _data_statements(counter) == [], f"{role} reuses the leader's block"
        assert (user.display_name or user.username) in page.text
        assert 'data-figure="tech_in_library"' in page.text
        tokens.add(re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1))
    assert len(tokens) == 3, "each page carries its own session's CSRF token"


def test_expired_ttl_recomputes(client, login, scenario, count_queries):
    login(scenario.users["leader"])
    assert client.get("/cockpit").status_code == 200
    with clock.frozen_at(TODAY_NOW + timedelta(seconds=59)):
        with count_queries() as within:
            assert client.get("/cockpit").status_code == 200
    assert _data_statements(within) == []
    with clock.frozen_at(TODAY_NOW + timedelta(seconds=61)):
        with count_queries() as after:
            page = client.get("/cockpit")
    assert _data_statements(after), "an expired block is computed again"
    assert "数据更新于 10:01" in page.text


def test_zero_ttl_disables_the_cache(app, client, login, scenario, count_queries):
    app.config["COCKPIT_CACHE_SECONDS"] = 0
    login(scenario.users["leader"])
    assert client.get("/cockpit").status_code == 200
    with count_queries() as again:
        assert client.get("/cockpit").status_code == 200
    assert _data_statements(again)
    assert not app.extensions.get(EXTENSION_KEY, {}).get("scores.cockpit")


def test_a_new_day_gets_fresh_figures(client, login, scenario, count_queries):
    # Two seconds apart but on two local days (23:59:59 → 00:00:01 in Shanghai).
    with clock.frozen_at(datetime(2024, 4, 10, 15, 59, 59, tzinfo=timezone.utc)):
        login(scenario.users["leader"])
        assert "2024-04-10" in client.get("/cockpit").text
    with clock.frozen_at(datetime(2024, 4, 10, 16, 0, 1, tzinfo=timezone.utc)):
        with count_queries() as next_day:
            page = client.get("/cockpit")
    assert page.status_code == 200
    assert _data_statements(next_day)
    assert "2024-04-11" in page.text and "数据更新于 00:00" in page.text


def test_each_locale_gets_its_own_fragment(client, login, scenario, count_queries):
    login(scenario.users["leader"])
    chinese = client.get("/cockpit")
    assert "驾驶舱" in chinese.text or "数据更新于" in chinese.text
    with count_queries() as english_first:
        english = client.get("/cockpit?lang=en")
    assert english.status_code == 200
    assert "Data updated at 10:00" in english.text and "数据更新于" not in english.text
    assert _data_statements(english_first), "English is computed, not the Chinese block reused"
    with count_queries() as english_again:
        assert "Data updated at" in client.get("/cockpit?lang=en").text
    assert _data_statements(english_again) == []
    assert "数据更新于" in client.get("/cockpit").text


def test_refusals_still_apply_when_the_cache_is_warm(client, login, scenario):
    login(scenario.users["leader"])
    assert client.get("/cockpit").status_code == 200
    assert client.get("/cockpit/data.json").status_code == 200
    client.post("/logout")
    for url in ("/cockpit", "/cockpit/data.json"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    login(scenario.users["rep-A"])
    for url in ("/cockpit", "/cockpit/data.json"):
        assert client.get(url).status_code == 403, url
