"""Implausible dates and numbers in the assignments area (issue 12, A.6/A.7): an extension to
9999-12-31 or before the current due date, a milestone due in 1900, milestones generated for
far-off years, a weight of sNaN — each refused with a message, nothing saved."""

from datetime import date

import pytest
from sqlalchemy import func, select

from taskflow.assignments.models import Assignment, ExtensionRequest, Milestone
from taskflow.extensions import db


def text(response) -> str:
    return response.get_data(as_text=True)


# The plan fixture runs 2023–2027; the world's milestones are due 2024-03-31 (today 2024-03-20).
WINDOW_MESSAGE = "请选择 2022-01-01 至 2028-12-31 之间的日期"


@pytest.mark.parametrize("requested, status, message", [
    ("9999-12-31", 400, WINDOW_MESSAGE),
    ("2029-01-01", 400, WINDOW_MESSAGE),
    ("1900-01-01", 400, WINDOW_MESSAGE),
    ("2024-03-31", 409, "新的日期须晚于当前截止日期"),  # not before the current due date
    ("2024-03-01", 409, "新的日期须晚于当前截止日期"),
])
def test_an_implausible_extension_is_refused(world, as_user, client, requested, status, message):
    as_user(world.users.reporter_a)
    response = client.post(f"/milestones/{world.ms_a.id}/extensions",
                           data={"requested_due_date": requested, "reason": "疫情影响"})
    assert response.status_code == status
    assert message in text(response) and "疫情影响" in text(response)
    assert db.session.scalar(select(func.count(ExtensionRequest.id))) == 0


def test_an_extension_within_the_window_is_sent(world, as_user, client):
    as_user(world.users.reporter_a)
    page = text(client.get(f"/milestones/{world.ms_a.id}"))
    assert 'min="2024-04-01"' in page and 'max="2028-12-31"' in page  # the picker is bounded too
    response = client.post(f"/milestones/{world.ms_a.id}/extensions",
                           data={"requested_due_date": "2028-12-31", "reason": "疫情影响"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(ExtensionRequest.id))) == 1


@pytest.mark.parametrize("due", ["1900-01-01", "9999-12-31", "2021-12-31"])
def test_a_milestone_cannot_be_moved_far_outside_the_plan(world, as_user, client, due):
    ms = world.ms_a
    as_user(world.users.office)
    response = client.post(f"/planning/milestones/{ms.id}/edit", data={
        "version_id": str(ms.version_id), "title": "新标题", "due_date": due, "weight": "1",
        "required_evidence": ""})
    assert response.status_code == 400
    assert "请选择 2022-01-01 至 2028-12-31 之间的日期" in text(response)
    db.session.rollback()
    assert db.session.get(Milestone, ms.id).due_date == date(2024, 3, 31)


@pytest.mark.parametrize("weight", ["sNaN", "NaN", "Infinity"])
def test_a_weight_of_nan_is_a_form_error(world, as_user, client, weight):
    ms = world.ms_a
    as_user(world.users.office)
    response = client.post(f"/planning/milestones/{ms.id}/edit", data={
        "version_id": str(ms.version_id), "title": "新标题", "due_date": "2024-04-30",
        "weight": weight, "required_evidence": ""})
    assert response.status_code < 500
    assert "请输入数字（不能是 NaN 或 Infinity）" in text(response)
    db.session.rollback()
    assert db.session.get(Milestone, ms.id).title == "2024年第1季度进展"
    response = client.post(f"/planning/tasks/{world.task.id}/milestones", data={
        "start_year": "2024", "end_year": "2024", "frequency": "quarterly", "weight": weight,
        "required_evidence": ""})
    assert response.status_code == 400
    assert "请输入数字（不能是 NaN 或 Infinity）" in text(response)


@pytest.mark.parametrize("years", [("2000", "2100"), ("1900", "2024"), ("2024", "9999"),
                                   (str(2**64), "2024")])
def test_milestones_are_generated_only_for_the_plan_years(world, as_user, client, years):
    as_user(world.users.office)
    before = db.session.scalar(select(func.count(Milestone.id)))
    response = client.post(f"/planning/tasks/{world.task.id}/milestones", data={
        "start_year": years[0], "end_year": years[1], "frequency": "quarterly", "weight": "1",
        "required_evidence": ""})
    assert response.status_code == 400
    if years[0] != str(2**64):
        assert "年份须在 2022 至 2028 之间" in text(response)
    assert db.session.scalar(select(func.count(Milestone.id))) == before


def test_milestones_of_the_plan_years_are_still_generated(world, as_user, client):
    as_user(world.users.office)
    response = client.post(f"/planning/tasks/{world.task.id}/milestones", data={
        "start_year": "2022", "end_year": "2028", "frequency": "yearly", "weight": "1",
        "required_evidence": ""})
    assert response.status_code == 302
    count = db.session.scalar(select(func.count(Milestone.id)).join(Assignment)
                              .where(Assignment.task_id == world.task.id))
    assert count > 3 + 3 * 6  # three units, seven years (one of them may match an existing one)
