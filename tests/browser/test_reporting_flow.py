"""The reporting cycle in a real browser: a town's reporter submits an update with a PDF, the
office returns it with a reason, the reporter sees the reason and resubmits, the office accepts,
the light turns green, the Chinese file name survives the download; another unit's assignment
answers 404."""

import re
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest

from taskflow.core import clock
from tests.helpers import TEST_PASSWORD

pytestmark = pytest.mark.browser

FILE_NAME = "古南街道2024年第1季度工作总结.pdf"


@pytest.fixture
def reporting_world(make_unit, make_task, make_assignment, make_milestone, make_user):
    task = make_task(title="广泛培育科技型企业")
    town = make_unit(name="古南街道")
    other = make_unit(name="文龙街道")
    assignment = make_assignment(task=task, unit=town, role="responsible")
    other_assignment = make_assignment(task=task, unit=other, role="responsible")
    due = clock.local_today() + timedelta(days=1)  # due soon: a yellow light to start with
    milestone = make_milestone(assignment=assignment, title="2024年第1季度进展", due=due,
                               required_evidence="季度工作总结（PDF）")
    make_milestone(assignment=other_assignment, title="2024年第1季度进展", due=due)
    make_user("reporter", unit=town, username="gunan", display_name="古南填报员")
    make_user("office", username="office", display_name="联席办王五")
    return {"assignment": assignment.id, "other": other_assignment.id, "milestone": milestone.id}


def sign_out(page):
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")


def pdf_file(sample_pdf, marker: bytes = b""):
    return {**sample_pdf, "name": FILE_NAME, "buffer": sample_pdf["buffer"] + marker}


def submit_report(page, world, sample_pdf, narrative, marker=b""):
    page.goto(f"/milestones/{world['milestone']}")
    page.fill("input[name=progress]", "100")
    page.fill("textarea[name=narrative]", narrative)
    page.set_input_files("input[type=file][name=files]", files=[pdf_file(sample_pdf, marker)])
    with page.expect_navigation():
        page.get_by_role("button", name="提交报送").click()
    assert "已报送联席会议办公室审核" in page.inner_text("main")


def open_first_in_queue(page):
    page.goto("/")  # the nav shows 审核 for the office
    page.get_by_role("link", name=re.compile("审核")).first.click()
    page.wait_for_url("**/review**")
    assert "古南街道" in page.inner_text("main")
    page.locator("tr[data-update] a.btn").first.click()
    page.wait_for_load_state()


def test_report_return_resubmit_accept(page, live_server, sign_in, sample_pdf, network,
                                       reporting_world):
    world = reporting_world
    sign_in(page, live_server, "gunan", TEST_PASSWORD)
    assert urlsplit(page.url).path == "/my"  # the reporter's home is 我的任务
    row = page.locator(f"tr[data-assignment='{world['assignment']}']")
    assert row.get_attribute("data-light") == "yellow"

    row.get_by_role("link", name="2024年第1季度进展").click()
    page.wait_for_load_state()
    assert "季度工作总结（PDF）" in page.inner_text("main")
    submit_report(page, world, sample_pdf, "走访企业 35 家，新增入库 12 家。")
    sign_out(page)

    # The office returns it with a reason and a comment.
    sign_in(page, live_server, "office", TEST_PASSWORD)
    open_first_in_queue(page)
    assert FILE_NAME in page.inner_text("main")
    page.get_by_label("退回责任单位").check()
    page.select_option("select[name=reason_code]", "figures_inconsistent")
    page.fill("textarea[name=comment]", "新增入库数与台账不一致，请核实。")
    with page.expect_navigation():
        page.get_by_role("button", name="确认").click()
    assert "已退回单位" in page.inner_text("main")
    sign_out(page)

    # The reporter sees the reason on the workspace and resubmits.
    sign_in(page, live_server, "gunan", TEST_PASSWORD)
    main = page.inner_text("main")
    assert "数据前后不一致" in main and "新增入库数与台账不一致，请核实。" in main
    assert page.locator(f"tr[data-assignment='{world['assignment']}']").get_attribute(
        "data-light") == "yellow"
    page.goto(f"/milestones/{world['milestone']}")
    assert "新增入库数与台账不一致" in page.inner_text("main")
    assert page.input_value("textarea[name=narrative]") == "走访企业 35 家，新增入库 12 家。"
    submit_report(page, world, sample_pdf, "走访企业 35 家，经核实新增入库 10 家。",
                  marker=b"% v2\n")
    sign_out(page)

    # The office accepts.
    sign_in(page, live_server, "office", TEST_PASSWORD)
    open_first_in_queue(page)
    assert "经核实新增入库 10 家" in page.inner_text("main")
    page.get_by_label("审核通过").check()
    with page.expect_navigation():
        page.get_by_role("button", name="确认").click()
    assert "已审核通过" in page.inner_text("main")
    sign_out(page)

    # The light is green; history and both files are kept; the Chinese name survives.
    sign_in(page, live_server, "gunan", TEST_PASSWORD)
    assert page.locator(f"tr[data-assignment='{world['assignment']}']").get_attribute(
        "data-light") == "green"
    page.goto(f"/assignments/{world['assignment']}")
    assert page.locator("[data-assignment-light]").get_attribute(
        "data-assignment-light") == "green"
    assert page.locator("[data-event=returned]").count() == 1
    assert page.locator("[data-event=accepted]").count() == 1
    link = page.locator(".tf-evidence a", has_text=FILE_NAME).first
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == FILE_NAME
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200
    assert response.body().startswith(b"%PDF-")
    disposition = response.headers["content-disposition"]
    assert f"filename*=UTF-8''{quote(FILE_NAME)}" in disposition

    # Another unit's assignment does not exist for this reporter.
    response = page.goto(f"/assignments/{world['other']}")
    assert response.status == 404
    assert network.external == []
