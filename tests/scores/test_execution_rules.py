"""Scores that reflect the work: open overdue items count in every period until closed, lateness
in working days, units without targets scored on what applies to them (never free points)."""

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import insert, select

from taskflow.extensions import db
from taskflow.scores import operations, queries
from taskflow.scores.models import ScoreCard, ScoreItem


def execution_items(period, unit):
    return {i.reason: i for i in db.session.scalars(select(ScoreItem).where(
        ScoreItem.period_id == period.id, ScoreItem.unit_id == unit.id,
        ScoreItem.component == "execution"))}


def card(period, unit):
    return db.session.scalar(select(ScoreCard).where(ScoreCard.period_id == period.id,
                                                     ScoreCard.unit_id == unit.id))


def test_an_open_overdue_item_costs_points_in_every_period_until_it_is_closed(
        plan, make_unit, make_assignment, make_milestone, working_days_after):
    unit = make_unit(name="园区甲", kind="park_committee", peer_group="park_task_force")
    assignment = make_assignment(unit=unit, role="lead")
    # Due January 15; closed only on April 3 (the office accepted the 100 % report then).
    item = make_milestone(assignment, due=date(2024, 1, 15), title="五项逾期之一",
                          state="accepted", progress=100, completed_on=date(2024, 4, 3))
    today = date(2024, 6, 10)
    periods = {key: operations.recompute(plan.id, key, None, today=today)
               for key in ("2024-01", "2024-02", "2024-03", "2024-04", "2024-05")}
    db.session.commit()

    days = {}
    for key, end in (("2024-01", date(2024, 1, 31)), ("2024-02", date(2024, 2, 29)),
                     ("2024-03", date(2024, 3, 31))):
        items = execution_items(periods[key], unit)
        assert len(items) == 1, key
        (reason, found), = items.items()
        # As of the month's end the item was open: overdue, counted in working days to that day.
        assert found.source_id == item.id
        assert found.detail["days_overdue"] == working_days_after(date(2024, 1, 15), end), key
        assert found.detail["as_of"] == end.isoformat()
        days[key] = found.detail["days_overdue"]
        expected = "milestone_overdue_minor" if days[key] <= 20 else "milestone_overdue_major"
        assert reason == expected, key
        assert float(found.points) == (-3.0 if expected.endswith("minor") else -5.0)
        # Never 100 "excellent" while it stays open.
        assert float(card(periods[key], unit).total) < 100
    assert days["2024-01"] < days["2024-02"] < days["2024-03"]
    assert execution_items(periods["2024-01"], unit).keys() == {"milestone_overdue_minor"}
    assert execution_items(periods["2024-03"], unit).keys() == {"milestone_overdue_major"}
    # April: closed in the month, late against its original due date (working days).
    april = execution_items(periods["2024-04"], unit)
    assert april.keys() == {"milestone_late_major"}
    assert april["milestone_late_major"].detail["days_late"] == working_days_after(
        date(2024, 1, 15), date(2024, 4, 3))
    # May: nothing left to score for this unit (no target, nothing due): not rated at all.
    assert card(periods["2024-05"], unit) is None
    assert unit in queries.not_rated_units(periods["2024-05"])


def test_lateness_is_counted_in_working_days_not_calendar_days(
        plan, make_unit, make_assignment, make_milestone):
    unit = make_unit(name="乙镇")
    assignment = make_assignment(unit=unit, role="responsible")
    # Due on September 30; closed on October 10: 10 calendar days, but October 1–7 is the
    # National Day holiday, so 3 working days (8th, 9th, 10th): within the 5-day grace.
    make_milestone(assignment, due=date(2024, 9, 30), title="国庆后三天办结",
                   state="accepted", progress=100, completed_on=date(2024, 10, 10))
    october = operations.recompute(plan.id, "2024-10", None, today=date(2024, 11, 5))
    db.session.commit()
    items = execution_items(october, unit)
    assert items.keys() == {"milestone_late_minor"}
    assert items["milestone_late_minor"].detail["days_late"] == 3
    assert float(items["milestone_late_minor"].points) == -0.5


@pytest.fixture
def tech_target(plan):
    """tech_based indicator; target(unit, {year: value}); enterprises(unit, n) in the library."""
    from taskflow.enterprises.models import Enterprise
    from taskflow.plans.models import Indicator, Target

    indicator = Indicator(code="tech_based", name="科技型企业", measure="count", sort_order=1)
    db.session.add(indicator)
    db.session.flush()
    counter = iter(range(1, 100_000))

    def target(unit, values):
        for year, value in values.items():
            db.session.add(Target(plan_id=plan.id, unit_id=unit.id, indicator_id=indicator.id,
                                  year=year, kind="in_library", value=value))
        db.session.commit()

    def enterprises(unit, n, on=date(2023, 5, 1)):
        stamp = datetime(2024, 1, 1, tzinfo=timezone.utc)
        db.session.execute(insert(Enterprise), [
            {"name": f"{unit.name}企业{i}", "credit_code": f"91500222E{next(counter):09d}",
             "unit_id": unit.id, "source": "stock", "tech_in_library_on": on,
             "status": "active", "specialised_sme": False, "version_id": 1, "created_at": stamp,
             "updated_at": stamp} for i in range(n)])
        db.session.commit()

    return target, enterprises


def test_a_unit_without_target_and_nothing_due_does_not_outrank_an_on_track_unit_for_free(
        client, login, plan, make_unit, make_user, tech_target):
    target, enterprises = tech_target
    task_force = make_unit(name="某产业链专班", kind="task_force", peer_group="park_task_force")
    committee = make_unit(name="某园区管委会", kind="park_committee", peer_group="park_task_force")
    # The task force has a target and is ahead of it (45 of 50, from 10 at the end of 2023):
    # nothing deducted.
    target(task_force, {2023: 10, 2024: 50})
    enterprises(task_force, 10)
    enterprises(task_force, 35, on=date(2024, 1, 15))
    period = operations.recompute(plan.id, "2024-03", None, today=date(2024, 4, 10))
    db.session.commit()
    ranking = queries.ranking(period)["park_task_force"]
    # The committee has no target and nothing due: it is not rated, so it cannot rank first.
    assert [(c.unit.name, c.rank) for c in ranking] == [("某产业链专班", 1)]
    assert float(ranking[0].indicators) == 0.0
    assert [u.name for u in queries.not_rated_units(period)] == ["某园区管委会"]
    login(make_user("leader"))
    page = client.get("/scores/periods/2024-03")
    assert 'id="not-rated"' in page.text and "某园区管委会" in page.text
    assert client.get(f"/scores/periods/2024-03/units/{committee.id}").status_code == 404


def test_a_unit_without_target_that_misses_milestones_loses_points_proportionally(
        plan, make_unit, make_assignment, make_milestone):
    late = make_unit(name="区招商投资局", kind="department", peer_group="department")
    later = make_unit(name="区某局", kind="department", peer_group="department")
    prompt = make_unit(name="区按时局", kind="department", peer_group="department")
    # Due March 20, still open on March 31: 7 working days overdue → lead −3 × weight.
    make_milestone(make_assignment(unit=late, role="lead"), due=date(2024, 3, 20), title="招引")
    make_milestone(make_assignment(unit=later, role="lead"), due=date(2024, 3, 20), title="招引",
                   weight=2)
    make_milestone(make_assignment(unit=prompt, role="lead"), due=date(2024, 3, 20), title="按时",
                   state="accepted", progress=100, completed_on=date(2024, 3, 20))
    period = operations.recompute(plan.id, "2024-03", None, today=date(2024, 4, 10))
    db.session.commit()
    got = {name: (float(c.execution), float(c.indicators), float(c.total), c.rank)
           for name, c in ((c.unit.name, c) for c in queries.ranking(period)["department"])}
    # Indicators re-weighted: −20 × (execution lost ÷ 40), the execution component's maximum.
    assert got == {"区按时局": (0.0, 0.0, 100.0, 1), "区招商投资局": (-3.0, -1.5, 95.5, 2),
                   "区某局": (-6.0, -3.0, 91.0, 3)}
    item = db.session.scalar(select(ScoreItem).where(ScoreItem.period_id == period.id,
                                                     ScoreItem.unit_id == later.id,
                                                     ScoreItem.reason == "indicator_reweighted"))
    assert item.detail["share_pct"] == 15.0 and item.detail["components"] == ["execution"]


def test_rule_numbers_are_shown_as_adjustable_defaults_on_the_rules_page_and_the_card(
        client, login, plan, make_unit, make_assignment, make_milestone, make_user):
    unit = make_unit(name="丙镇")
    make_milestone(make_assignment(unit=unit), due=date(2024, 3, 20), title="事项")
    operations.recompute(plan.id, "2024-03", None, today=date(2024, 4, 10))
    db.session.commit()
    login(make_user("supervisor"))
    label = "方案未规定，默认值，可调整"
    rules = client.get("/scores/rules")
    assert label in rules.text and 'id="how"' in rules.text
    rule_set = client.get("/scores/rules/1")
    assert rule_set.text.count(label) >= 20  # every number of the rules carries it
    assert 'id="second-person-setting"' in rule_set.text
    page = client.get(f"/scores/periods/2024-03/units/{unit.id}")
    assert label in page.text and 'id="rules-applied"' in page.text
    assert "数据截至 2024-03-31" in page.text
    # The item says why, in working days as of the period's end.
    assert "仍未办结，逾期 7 个工作日" in page.text


def test_a_rule_set_saved_before_the_new_parameters_still_computes_and_edits(
        client, login, plan, make_unit, make_assignment, make_milestone, make_user):
    from datetime import date as day

    from taskflow.scores.models import ScoreRuleSet
    from taskflow.scores.rules import default_parameters

    legacy = default_parameters()
    for role in ("lead", "responsible"):
        for key in ("overdue_minor", "overdue_major"):
            del legacy["execution"][role][key]
        legacy["execution"][role]["missing"] = -5
    del legacy["execution"]["overdue_major_days"]
    del legacy["governance"], legacy["adjustment"]
    db.session.add(ScoreRuleSet(version=1, name="旧规则", effective_from=day(2023, 1, 1),
                                parameters=legacy))
    unit = make_unit(name="己镇")
    make_milestone(make_assignment(unit=unit, role="responsible"), due=date(2024, 3, 20), title="x")
    period = operations.recompute(plan.id, "2024-03", None, today=date(2024, 4, 10))
    db.session.commit()
    # The parameters it predates take their defaults: open overdue, responsible −2.
    assert float(card(period, unit).execution) == -2.0
    login(make_user("supervisor"))
    form = client.get("/scores/rules/new")
    assert form.status_code == 200 and "overdue_minor" in form.text and "second_person" in form.text
    assert "missing" not in form.text.split('name="parameters"', 1)[1].split("</textarea>", 1)[0]
