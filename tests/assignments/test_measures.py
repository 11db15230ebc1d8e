"""The milestone measures (taskflow.measures.milestones): overdue as of a date, the due date in
force then, working days, lights, and the same figure on every page that shows it."""

import re
from datetime import date, datetime, timedelta

import pytest

from taskflow.assignments import operations as ops
from taskflow.core import clock
from taskflow.extensions import db
from taskflow.measures import milestones as measures


def at(day: date, hour: int = 10):
    return clock.frozen_at(datetime(day.year, day.month, day.day, hour, tzinfo=clock.LOCAL_TZ))


def overdue_ids(plan_id, as_of):
    return {row.milestone_id: row for row in measures.overdue_list(plan_id, as_of)}


def test_working_days_follow_the_calendar():
    # 2024 National Day: 10-1..10-7 off, 9-29 (Sun) and 10-12 (Sat) make-up working days.
    assert measures.working_days_overdue(date(2024, 9, 30), date(2024, 10, 8)) == 1
    assert measures.working_days_overdue(date(2024, 9, 27), date(2024, 9, 30)) == 2
    assert measures.working_days_overdue(date(2024, 10, 8), date(2024, 10, 8)) == 0
    assert measures.working_days_overdue(date(2024, 10, 9), date(2024, 10, 8)) == 0
    assert measures.lateness_working_days(date(2024, 9, 30), date(2024, 10, 14)) == 6


class HalfKnownCalendar:
    """A calendar (Monday–Friday here) that does not know 2027: like UnknownCalendarYear, a
    LookupError, for any day of that year, and for a count or a step that reaches it."""

    def is_workday(self, day):
        if day.year >= 2027:
            raise LookupError(f"{day.year} unknown")
        return day.weekday() < 5

    def working_days_between(self, start, end):
        if end.year >= 2027:
            raise LookupError(f"{end.year} unknown")
        return sum(self.is_workday(start + timedelta(days=i))
                   for i in range(1, (end - start).days + 1))

    def add_working_days(self, day, n):
        # Like the real calendar, covers whole years around the answer before looking.
        if (day + timedelta(days=2 * n + 40)).year >= 2027:
            raise LookupError("2027 unknown")
        while n:
            day += timedelta(days=1)
            n -= self.is_workday(day)
        return day


def test_an_unknown_year_is_not_guessed_and_never_fails():
    cal = HalfKnownCalendar()
    # Counting stops at the last day the calendar knows (2026-12-31).
    assert measures.working_days_overdue(date(2026, 12, 28), date(2027, 1, 20), cal) == 3
    assert measures.working_days_overdue(date(2027, 1, 4), date(2027, 1, 20), cal) == 0
    # The yellow cut-off stops there too instead of raising.
    assert measures.yellow_cutoff(date(2026, 12, 29), 5, cal) == date(2026, 12, 31)
    assert measures.yellow_cutoff(date(2026, 12, 1), 5, cal) == date(2026, 12, 8)


def test_a_report_waiting_for_review_keeps_the_milestone_overdue_and_red(
        world, make_milestone, client, as_user, submit):
    late = make_milestone(assignment=world.a, title="逾期节点", due=date(2024, 3, 1))
    as_user(world.users.reporter_a)
    assert submit(late.id, progress="100").status_code == 302
    db.session.refresh(late)
    assert late.state == "submitted"
    page = client.get(f"/milestones/{late.id}").get_data(as_text=True)
    assert 'data-milestone-light="red"' in page
    row = overdue_ids(world.task.plan_id, date(2024, 3, 20))[late.id]
    assert row.state == "submitted" and row.working_days_overdue == 13
    my = client.get("/my").get_data(as_text=True)
    assert re.search(rf'data-assignment="{world.a.id}" data-light="red"', my)


def test_overdue_on_a_past_date_counts_items_closed_since(world, make_milestone, request_ctx):
    plan_id = world.task.plan_id
    late = make_milestone(assignment=world.a, title="三月初节点", due=date(2024, 3, 1))
    with at(date(2024, 4, 10)):
        update = ops.submit_update(late, world.users.reporter_a, progress=100, narrative="x",
                                   problems="", next_steps="")
        ops.review_update(update, world.users.office, accept=True)
        db.session.commit()
        assert late.completed_on == date(2024, 4, 10)
        # Today it is closed, so not overdue; at 03-29 it was, by 20 working days (3-4..3-29).
        assert late.id not in overdue_ids(plan_id, date(2024, 4, 10))
        row = overdue_ids(plan_id, date(2024, 3, 29))[late.id]
        assert row.working_days_overdue == 20
        tasks = {t.task_id: t for t in measures.task_progress(plan_id, date(2024, 3, 29))}
        assert tasks[world.task.id].overdue == 1 and tasks[world.task.id].closed == 0
        tasks = {t.task_id: t for t in measures.task_progress(plan_id, date(2024, 4, 10))}
        assert tasks[world.task.id].closed == 1
        assert measures.overdue_total(plan_id, date(2024, 3, 29)) == 1
        [by_unit] = measures.overdue_counts(plan_id, date(2024, 3, 29), by="unit")
        assert (by_unit.id, by_unit.count) == (world.town_a.id, 1)


def test_an_extension_granted_after_the_as_of_date_does_not_hide_the_item(
        world, make_milestone, request_ctx):
    plan_id = world.task.plan_id
    extended_late = make_milestone(assignment=world.a, title="后来延期", due=date(2024, 3, 15))
    extended_early = make_milestone(assignment=world.b, title="及时延期", due=date(2024, 3, 15))
    with at(date(2024, 3, 10)):
        early = ops.request_extension(extended_early, world.users.reporter_b,
                                      requested_due_date=date(2024, 4, 30), reason="原因")
        ops.decide_extension(early, world.users.office, grant=True)
        late = ops.request_extension(extended_late, world.users.reporter_a,
                                     requested_due_date=date(2024, 4, 30), reason="原因")
        db.session.commit()
    with at(date(2024, 4, 2)):
        ops.decide_extension(late, world.users.office, grant=True)
        db.session.commit()
        on_0329 = overdue_ids(plan_id, date(2024, 3, 29))
        # Granted on 04-02: at 03-29 the due date in force was still 03-15 (10 working days).
        assert on_0329[extended_late.id].due_date == date(2024, 3, 15)
        assert on_0329[extended_late.id].working_days_overdue == 10
        # Granted on 03-10: not overdue at 03-29.
        assert extended_early.id not in on_0329
        # Today both are within their extension.
        today = overdue_ids(plan_id, date(2024, 4, 2))
        assert extended_late.id not in today and extended_early.id not in today


def test_the_same_working_days_on_my_tasks_the_overdue_list_and_the_cockpit_list(
        world, make_milestone, client, as_user):
    from taskflow.scores import queries as score_queries

    late = make_milestone(assignment=world.a, title="逾期节点", due=date(2024, 3, 1))
    expected = 13  # 3-4..3-20
    as_user(world.users.reporter_a)
    my = client.get("/my").get_data(as_text=True)
    assert f'data-overdue-days="{expected}"' in my and f"已逾期 {expected} 个工作日" in my
    page = client.get(f"/assignments/{world.a.id}").get_data(as_text=True)
    assert f'data-overdue-days="{expected}"' in page
    as_user(world.users.office)
    overdue = client.get("/notices/overdue").get_data(as_text=True)
    row = overdue[overdue.index(f'data-milestone="{late.id}"'):]
    row = row[:row.index("</tr>")]
    assert f'data-overdue-days="{expected}"' in row and f"已逾期 {expected} 个工作日" in row
    items = score_queries.overdue_items(world.task.plan_id, date(2024, 3, 20))
    assert [(i[0], i[3]) for i in items] == [(late.id, expected)]


@pytest.mark.parametrize("by", ["unit", "task"])
def test_overdue_counts_match_the_list(world, make_milestone, by):
    for title, due in (("一", date(2024, 3, 1)), ("二", date(2024, 3, 5))):
        make_milestone(assignment=world.a, title=title, due=due)
    make_milestone(assignment=world.lead, title="三", due=date(2024, 3, 8))
    plan_id = world.task.plan_id
    rows = measures.overdue_list(plan_id, date(2024, 3, 20))
    counts = measures.overdue_counts(plan_id, date(2024, 3, 20), by=by)
    key = (lambda r: r.unit_id) if by == "unit" else (lambda r: r.task_id)
    assert {c.id: c.count for c in counts} == {
        k: sum(1 for r in rows if key(r) == k) for k in {key(r) for r in rows}}
    assert sum(c.lead for c in counts) == 1


def test_pages_near_a_year_the_calendar_may_not_know_do_not_fail(world, make_milestone, client,
                                                                as_user):
    soon = make_milestone(assignment=world.a, title="跨年节点", due=date(2027, 1, 5))
    late = make_milestone(assignment=world.b, title="年底逾期", due=date(2026, 12, 1))
    with at(date(2026, 12, 29)):
        as_user(world.users.reporter_a)
        assert client.get("/my").status_code == 200
        assert client.get(f"/milestones/{soon.id}").status_code == 200
        as_user(world.users.office)
        assert client.get("/notices/overdue").status_code == 200
        row = overdue_ids(world.task.plan_id, date(2026, 12, 29))[late.id]
        assert row.working_days_overdue == 20  # 12-2..12-29, within the known year


def test_pages_link_to_the_definitions(world, client, as_user):
    as_user(world.users.reporter_a)
    for url in ("/my", f"/assignments/{world.a.id}", f"/milestones/{world.ms_a.id}"):
        html = client.get(url).get_data(as_text=True)
        link = re.search(r'href="([^"]*)#milestones"', html)
        assert link, url
    doc = client.get(link.group(1)).get_data(as_text=True)
    assert 'id="milestones"' in doc and "已逾期 N 个工作日" in doc
