"""In a real browser, on a phone-sized screen: the lead unit finds who has not reported from 我的任务
and reminds a town with one click; the town's reporter sees the badge, opens the item from the
inbox (a POST), lands on the milestone, and the badge is gone. Screenshots of the lead page and
the inbox are kept for review."""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from taskflow.core import clock
from tests.helpers import TEST_PASSWORD

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("TASKFLOW_SCREENSHOT_DIR")
             or Path(tempfile.gettempdir()) / "taskflow-browser-screenshots")


@pytest.fixture
def lead_world(make_unit, make_task, make_assignment, make_milestone, make_user):
    task = make_task(title="广泛培育科技型企业")
    lead_unit = make_unit(name="区科技局", kind="department", peer_group="department")
    towns = [make_unit(name=name) for name in ("古南街道", "文龙街道", "三江街道")]
    make_assignment(task=task, unit=lead_unit, role="lead")
    due = clock.local_today() + timedelta(days=3)
    milestones = [make_milestone(assignment=make_assignment(task=task, unit=town,
                                                            role="responsible"),
                                 title="2024年第1季度进展", due=due) for town in towns]
    make_user("reporter", unit=lead_unit, username="keji", display_name="科技局填报员")
    make_user("reporter", unit=towns[0], username="gunan", display_name="古南填报员")
    return {"task": task.id, "milestone": milestones[0].id}


def no_sideways_scroll(page):
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, width


def test_lead_reminds_a_town_and_the_reporter_reads_it(page, live_server, sign_in, lead_world):
    page.set_viewport_size({"width": 390, "height": 844})
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, live_server, "keji", TEST_PASSWORD)
    page.goto("/my")
    page.locator("a[data-lead-overview]").first.click()
    page.wait_for_url(f"**/tasks/{lead_world['task']}/lead")
    main = page.inner_text("main")
    assert "未报送 3" in main and "古南街道" in main
    page.locator(f"button[data-remind=\"{lead_world['milestone']}\"]").click()
    page.wait_for_url(f"**/tasks/{lead_world['task']}/lead")
    assert "已提醒 古南街道" in page.inner_text("main")
    assert page.locator(f"[data-reminded=\"{lead_world['milestone']}\"]").is_visible()
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "lead-overview-390.png"), full_page=True)
    page.locator(".navbar-toggler").click()  # at 390 px the bar is collapsed behind its button
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")

    sign_in(page, live_server, "gunan", TEST_PASSWORD)
    page.goto("/notices/inbox")
    assert page.locator("[data-unread]").first.get_attribute("data-unread") == "1"
    item = page.locator("[data-kind=lead_remind]")
    assert "牵头单位区科技局提醒报送" in item.inner_text()
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "inbox-390.png"), full_page=True)
    with page.expect_navigation():
        item.locator("button").click()
    assert page.url.endswith(f"/milestones/{lead_world['milestone']}")
    assert page.locator("[data-unread]").count() == 0
