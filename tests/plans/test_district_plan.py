"""With several district plans (the benchmark has 41), every page reads the same one: the plan
of the current period imported first (taskflow.plans.queries.district_plan)."""

from datetime import datetime, timezone

import pytest

from taskflow.core import clock
from taskflow.extensions import db
from taskflow.plans.queries import district_plan
from taskflow.units.models import Unit

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def make_unit(plan_id: int, name: str) -> None:
    # Not the conftest factory: it creates the shared test plan first, and the order matters here.
    db.session.add(Unit(plan_id=plan_id, name=name, kind="town", peer_group="street_town"))
    db.session.commit()


@pytest.fixture
def plans(app, make_plan):
    """An ended plan period first, then the running plan, then three clones of its period."""
    with clock.frozen_at(NOW):
        old = make_plan(code="old", title="上期方案", start_year=2018, end_year=2022)
        make_unit(old.id, "上期镇")
        running = make_plan(code="running", title="本区方案", start_year=2023, end_year=2027)
        make_unit(running.id, "本区镇")
        for n in range(1, 4):
            clone = make_plan(code=f"clone-{n}", title=f"克隆区{n}方案")
            make_unit(clone.id, f"克隆镇{n}")
        yield running


def _only_running(text: str) -> None:
    assert "本区镇" in text
    assert "上期镇" not in text
    assert not any(f"克隆镇{n}" in text for n in range(1, 4))


def test_the_current_period_wins_then_the_first_imported(plans):
    with clock.frozen_at(NOW):
        assert district_plan().id == plans.id
    # After the period has ended and before a new plan: the latest period stays in force.
    with clock.frozen_at(datetime(2029, 3, 1, tzinfo=timezone.utc)):
        assert district_plan().id == plans.id
    # During the old period, the old plan is the one running.
    with clock.frozen_at(datetime(2021, 3, 1, tzinfo=timezone.utc)):
        assert district_plan().code == "old"


def test_cockpit_register_and_scores_read_the_same_plan(client, login, plans, make_user):
    with clock.frozen_at(NOW):
        office = make_user("office")
        login(office)
        cockpit = client.get("/cockpit")
        assert cockpit.status_code == 200
        assert "本区方案" in cockpit.text
        assert "克隆区" not in cockpit.text and "上期方案" not in cockpit.text
        register = client.get("/enterprises/")
        assert register.status_code == 200
        _only_running(register.text)
        scores_map = client.get("/scores/map")
        assert scores_map.status_code == 200
        _only_running(scores_map.text)
