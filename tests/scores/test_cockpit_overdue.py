"""The cockpit's task progress and overdue figures come from the milestone measures, and each
overdue number opens a list of exactly that many rows."""

import re
from datetime import date, datetime, timezone

import pytest

from taskflow.assignments import operations as ops
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.scores import queries

TODAY = date(2024, 4, 10)
NOW = datetime(2024, 4, 10, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def scenario(build_scenario):
    with clock.frozen_at(NOW):
        yield build_scenario()


def test_every_overdue_number_opens_a_list_of_that_many_rows(scenario, client, login):
    login(scenario.users["office"])
    html = client.get("/cockpit").get_data(as_text=True)
    total = int(re.search(r'id="overdue-total">(\d+)<', html).group(1))
    # m2 (due 3-20), m5 (3-31), m9 (2-20) are open and overdue on 04-10.
    assert total == 3
    assert client.get("/notices/overdue").get_data(as_text=True).count("data-milestone=") == total
    links = re.findall(r'href="(/notices/overdue\?(?:task|unit)=\d+)"[^>]*>(\d+)</a>', html)
    assert len(links) == 3  # task 1, and the units B and D
    for url, number in links:
        assert client.get(url).get_data(as_text=True).count("data-milestone=") == int(number)


def test_a_waiting_report_stays_overdue_and_an_acceptance_below_100_is_not_completed(
        scenario, plan, app):
    m5 = scenario.milestones[5]
    with app.test_request_context("/"):
        update = ops.submit_update(m5, scenario.users["rep-B"], progress=60, narrative="x",
                                   problems="", next_steps="")
        db.session.commit()
        tasks = {t.task_id: t for t in queries.task_progress(plan.id, TODAY)}
        first = tasks[scenario.tasks[1].id]
        assert (first.overdue, first.done) == (3, 3)  # m1, m3, m4 closed; m5 still overdue
        ops.review_update(update, scenario.users["office"], accept=True)
        db.session.commit()
        tasks = {t.task_id: t for t in queries.task_progress(plan.id, TODAY)}
        assert (tasks[scenario.tasks[1].id].overdue, tasks[scenario.tasks[1].id].done) == (3, 3)
        assert tasks[scenario.tasks[1].id].light == "red"
    items = {row[0]: row for row in queries.overdue_items(plan.id, TODAY)}
    # Working days from 3-31 to 4-10: 4-1..4-3, 4-7 (清明 make-up Sunday), 4-8..4-10.
    assert items[m5.id][3] == 7
    assert [(uid, n, lead) for uid, _name, n, lead in queries.overdue_by_unit(plan.id, TODAY)] == [
        (scenario.units["B"].id, 2, 0), (scenario.units["D"].id, 1, 1)]
