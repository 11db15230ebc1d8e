"""The office's overdue list (逾期事项) follows the milestone measures: a report waiting for
review stays on it (not selectable for a notice), working days are counted to the as-of date,
the unit and task filters give the cockpit's counts, and the page costs the same queries for 2
or 20 items."""

from datetime import date

import pytest

from taskflow.assignments import operations as ops
from taskflow.extensions import db
from taskflow.measures import milestones as measures

D = date.fromisoformat
TODAY = D("2024-10-14")


@pytest.fixture
def frozen(freeze, sim):
    freeze(sim.at(TODAY, 10, 0))


def test_waiting_reports_stay_overdue_but_cannot_be_urged(app, world, milestone_at, client_for,
                                                          frozen):
    silent = milestone_at(D("2024-09-30"), "无人报送")
    waiting = milestone_at(D("2024-09-27"), "待审核")
    with app.test_request_context("/"):
        ops.submit_update(waiting, world.users.reporter, progress=100, narrative="x",
                          problems="", next_steps="")
        db.session.commit()
    office = client_for(world.users.office)
    html = office.get("/notices/overdue").get_data(as_text=True)
    rows = {m.id: html[html.index(f'data-milestone="{m.id}"'):] for m in (silent, waiting)}
    rows = {k: v[:v.index("</tr>")] for k, v in rows.items()}
    # 9-30 → 10-14: 10-8..10-12 (10-12 a make-up Saturday) and 10-14 = 6 working days.
    assert 'data-overdue-days="6"' in rows[silent.id] and "tf-pick" in rows[silent.id]
    # 9-27 → 10-14: also 9-29 (make-up Sunday) and 9-30.
    assert 'data-overdue-days="8"' in rows[waiting.id] and "tf-pick" not in rows[waiting.id]
    refused = office.post("/notices/issue", data={
        "milestone_ids": [str(waiting.id)], "level": "yellow", "response_due": "2024-10-17",
        "note": ""})
    assert refused.status_code in (302, 400)
    from sqlalchemy import func, select

    from taskflow.notices.models import UrgeNotice

    assert db.session.scalar(select(func.count(UrgeNotice.id))) == 0


def test_filters_and_as_of_match_the_measures(app, world, milestone_at, client_for, frozen):
    plan_id = world.task.plan_id
    first = milestone_at(D("2024-09-30"), "一")
    milestone_at(D("2024-10-09"), "二", assignment=world.lead_assignment)
    elsewhere = milestone_at(D("2024-10-08"), "三", assignment=world.other_assignment)
    office = client_for(world.users.office)
    for count in measures.overdue_counts(plan_id, TODAY, by="task"):
        html = office.get(f"/notices/overdue?task={count.id}").get_data(as_text=True)
        assert html.count("data-milestone=") == count.count
    for count in measures.overdue_counts(plan_id, TODAY, by="unit"):
        html = office.get(f"/notices/overdue?unit={count.id}").get_data(as_text=True)
        assert html.count("data-milestone=") == count.count
    # As of 10-08 only the item due 9-30 was overdue, by 1 working day; nothing can be issued.
    html = office.get("/notices/overdue?as_of=2024-10-08").get_data(as_text=True)
    assert html.count("data-milestone=") == 1 and f'data-milestone="{first.id}"' in html
    assert 'data-overdue-days="1"' in html and 'id="issue-form"' in html
    assert "tf-pick" not in html and f'data-milestone="{elsewhere.id}"' not in html
    assert office.get("/notices/overdue?as_of=nonsense").status_code == 404


def test_overdue_page_queries_do_not_grow(app, world, milestone_at, client_for, count_queries,
                                          frozen):
    for i in range(2):
        milestone_at(D("2024-10-08"), f"节点{i}")
    office = client_for(world.users.office)
    with count_queries() as small:
        assert office.get("/notices/overdue").status_code == 200
    for i in range(2, 20):
        milestone_at(D("2024-10-08"), f"节点{i}",
                     assignment=world.other_assignment if i % 2 else world.lead_assignment)
    with count_queries() as large:
        html = office.get("/notices/overdue").get_data(as_text=True)
    assert html.count("data-milestone=") == 20
    assert small.count == large.count
