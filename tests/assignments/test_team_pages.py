"""The lead unit reads its team's reports one page at a time, and cites any of them."""

import re
from datetime import date, timedelta

from sqlalchemy import select

from taskflow.assignments import operations as ops
from taskflow.assignments.models import ConsolidatedReport, Milestone, StatusUpdate
from taskflow.assignments.queries import TEAM_PER_PAGE, queue_filter_choices
from taskflow.core import clock
from taskflow.extensions import db


def team_reports(world, n):
    """n reports of 古南街道 on the lead's task, one milestone each; returns their ids, oldest
    first."""
    ids = []
    for i in range(n):
        due = date(2024, 3, 31) + timedelta(days=i)
        milestone = Milestone(assignment_id=world.a.id, title=f"节点{i:03d}", due_date=due,
                              original_due_date=due)
        db.session.add(milestone)
        db.session.flush()
        update = ops.submit_update(milestone, world.users.reporter_a, progress=10,
                                   narrative=f"进展{i:03d}", problems="", next_steps="")
        update.created_at = clock.utcnow() + timedelta(minutes=i)
        ids.append(update.id)
    db.session.commit()
    return ids


def shown(page):
    return [int(i) for i in re.findall(r'data-team-update="(\d+)"', page)]


def test_lead_page_lists_the_latest_team_reports_with_a_count_and_older_pages(
        world, client, login, request_ctx):
    ids = team_reports(world, TEAM_PER_PAGE + 5)
    login(world.users.reporter_lead)
    first = client.get(f"/assignments/{world.lead.id}").get_data(as_text=True)
    assert shown(first) == ids[::-1][:TEAM_PER_PAGE]  # newest first
    assert f'data-team-count="{TEAM_PER_PAGE + 5}"' in first
    assert f"/assignments/{world.lead.id}?team_page=2#team" in first
    second = client.get(f"/assignments/{world.lead.id}?team_page=2").get_data(as_text=True)
    assert shown(second) == ids[::-1][TEAM_PER_PAGE:]
    assert f"/assignments/{world.lead.id}?team_page=1#team" in second
    beyond = client.get(f"/assignments/{world.lead.id}?team_page=9").get_data(as_text=True)
    assert shown(beyond) == [] and f'data-team-total="{TEAM_PER_PAGE + 5}"' in beyond
    # a responsible unit's own page has no team list
    login(world.users.reporter_a)
    assert "data-team-count" not in client.get(f"/assignments/{world.a.id}").get_data(as_text=True)


def test_consolidated_report_cites_a_report_from_an_older_page(world, client, login,
                                                               request_ctx):
    ids = team_reports(world, TEAM_PER_PAGE + 3)
    oldest = ids[0]
    login(world.users.reporter_lead)
    url = f"/assignments/{world.lead.id}/reports/new"
    first = client.get(url).get_data(as_text=True)
    assert f'data-cite="{oldest}"' not in first and first.count("data-cite=") == TEAM_PER_PAGE
    assert f'value="{oldest}"' in client.get(url + "?team_page=2").get_data(as_text=True)
    # a refused form keeps the tick on a report that is not on the page shown
    refused = client.post(url, data={"title": "", "body": "x", "cite": [str(oldest), str(ids[-1])]})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert re.search(rf'value="{oldest}" id="cite{oldest}" checked', page)
    assert re.search(rf'value="{ids[-1]}" id="cite{ids[-1]}" checked', page)
    assert page.count(f'data-cite="{oldest}"') == 1
    saved = client.post(url + "?team_page=2", data={"title": "汇总", "body": "进展顺利",
                                                    "cite": [str(oldest)]})
    assert saved.status_code == 302
    report = db.session.scalar(select(ConsolidatedReport))
    assert [u.id for u in report.citations] == [oldest]


def test_review_filters_offer_tasks_and_units_with_any_report(world, client, login,
                                                              request_ctx):
    update = ops.submit_update(world.ms_a, world.users.reporter_a, progress=10, narrative="x",
                               problems="", next_steps="")
    ops.review_update(update, world.users.office, accept=True)  # no longer waiting
    db.session.commit()
    tasks, units = queue_filter_choices()
    assert [t.id for t in tasks] == [world.task.id]
    assert [u.id for u in units] == [world.town_a.id]
    assert db.session.scalar(select(StatusUpdate.state)) == "accepted"
