"""Printable pages fit their paper: chromium's print to PDF (page.pdf, what 打印 → 另存为 PDF does),
pages counted and measured with pdfinfo.

- the 催办/督办 notice with five items and its 签收回执: one A4 page;
- a unit's score card: at most two A4 pages, nothing cut at the right edge;
- the monthly dispatch board: A4 landscape (its own print stylesheet), one page wide.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, timedelta

import pytest

from taskflow.core import clock
from tests.helpers import TEST_PASSWORD

pytestmark = pytest.mark.browser

A4 = (595.3, 841.9)  # pt


@pytest.fixture
def pdfinfo():
    if shutil.which("pdfinfo") is None:
        message = "pdfinfo is not installed: apt-get install poppler-utils"
        if os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}:
            pytest.fail(message)  # CI must run these
        pytest.skip(message)
    return shutil.which("pdfinfo")


def pdf_pages(pdfinfo: str, data: bytes, tmp_path, name: str = "printed") -> list[tuple]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    if os.environ.get("TASKFLOW_KEEP_PDF"):  # to look at the pages: a folder to copy them to
        shutil.copy(path, os.environ["TASKFLOW_KEEP_PDF"])
    info = subprocess.run([pdfinfo, "-f", "1", "-l", "9999", str(path)], check=True,
                          capture_output=True, text=True).stdout
    return [(float(w), float(h)) for w, h in
            re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)]


def is_a4(size, *, landscape=False) -> bool:
    width, height = size
    expected = A4[::-1] if landscape else A4
    return abs(width - expected[0]) < 2 and abs(height - expected[1]) < 2


def overflowing(page) -> list[str]:
    """Elements that reach past the printed page's right edge (cut off on paper)."""
    return page.evaluate("""() => {
        const limit = document.documentElement.clientWidth + 1;
        return [...document.querySelectorAll('body *')]
          .filter(el => el.offsetParent !== null && el.getBoundingClientRect().right > limit)
          .map(el => el.tagName + '.' + el.className).slice(0, 10);
    }""")


@pytest.fixture
def office(make_user):
    return make_user("office", username="print-office", display_name="打印测试")


def _notice(live_server, make_unit, make_task, make_assignment, make_milestone, office, *,
            items: int, level: str):
    from taskflow.notices import operations

    unit = make_unit(name="永城镇")
    milestones = []
    for i in range(items):
        task = make_task(title=f"培育科技型企业和高新技术企业，推动第{i + 1}项重点工作落地见效")
        assignment = make_assignment(task=task, unit=unit)
        milestones.append(make_milestone(
            assignment, due=clock.local_today() - timedelta(days=20 + i),
            title=f"完成第{i + 1}季度科技型企业入库培育任务并报送佐证材料"))
    with live_server.setup():
        from taskflow.assignments.models import Milestone
        from taskflow.extensions import db

        rows = [db.session.get(Milestone, m.id) for m in milestones]
        notice = operations.issue_notice(unit.id, rows, level,
                                         clock.local_today() + timedelta(days=5),
                                         note="请于规定时间内书面报告整改情况。", actor=office)
        return notice.id


@pytest.mark.parametrize("level", ["yellow", "red"])
def test_a_notice_with_five_items_prints_on_one_a4_page_with_its_receipt(
        page, live_server, sign_in, pdfinfo, tmp_path, office, make_unit, make_task,
        make_assignment, make_milestone, level):
    notice_id = _notice(live_server, make_unit, make_task, make_assignment, make_milestone,
                        office, items=5, level=level)
    sign_in(page, live_server, office.username, TEST_PASSWORD)
    page.goto(f"/notices/{notice_id}/print")
    assert page.locator("table tbody tr").count() == 5
    page.emulate_media(media="print")
    assert page.locator(".toolbar").is_hidden()
    pages = pdf_pages(pdfinfo, page.pdf(format="A4", prefer_css_page_size=True), tmp_path,
                      f"notice-{level}")
    assert len(pages) == 1, f"{len(pages)} pages"
    assert is_a4(pages[0])
    # The receipt is on that page, whole: its bottom is above the page's content bottom.
    receipt = page.locator(".receipt").bounding_box()
    assert receipt is not None and receipt["height"] > 40
    assert overflowing(page) == []


def test_score_card_prints_on_at_most_two_a4_pages(
        page, live_server, sign_in, pdfinfo, tmp_path, office, plan, make_unit, make_task,
        make_assignment, make_milestone):
    from taskflow.scores import operations

    unit = make_unit(name="古南街道")
    for i in range(12):
        assignment = make_assignment(task=make_task(title=f"重点任务{i + 1}：推动企业研发投入增长"),
                                     unit=unit)
        make_milestone(assignment, due=date(2024, 3, 5 + i), title=f"第{i + 1}项季度进展")
    with live_server.setup():
        operations.recompute(plan.id, "2024Q1", None, today=date(2024, 4, 10))
    sign_in(page, live_server, office.username, TEST_PASSWORD)
    response = page.goto(f"/scores/periods/2024Q1/units/{unit.id}")
    assert response.status == 200
    page.emulate_media(media="print")
    assert page.locator("nav.tf-navbar").is_hidden()
    assert overflowing(page) == []
    pages = pdf_pages(pdfinfo, page.pdf(format="A4", prefer_css_page_size=True), tmp_path, "card")
    assert 1 <= len(pages) <= 2, f"{len(pages)} pages"
    assert all(is_a4(size) for size in pages)


def test_dispatch_board_prints_landscape_one_page_wide(
        page, live_server, sign_in, pdfinfo, tmp_path, office, plan, make_unit):
    from taskflow.enterprises import operations

    for name in ("古南街道", "文龙街道", "三江街道", "新盛街道", "通惠街道", "永城镇", "石角镇",
                 "綦万创新经济走廊指挥部办公室"):
        make_unit(name=name)
    with live_server.setup():
        period = operations.open_month(date(2026, 10, 1), None, plan=plan)
        period_id = period.id
    sign_in(page, live_server, office.username, TEST_PASSWORD)
    response = page.goto(f"/dispatch/{period_id}")
    assert response.status == 200
    # The landscape sheet is linked on this page only.
    assert page.locator('link[href*="dispatch_print.css"]').count() == 1
    page.emulate_media(media="print")
    assert page.locator("nav.tf-navbar").is_hidden()
    assert overflowing(page) == []
    pages = pdf_pages(pdfinfo, page.pdf(format="A4", prefer_css_page_size=True), tmp_path,
                      "dispatch")
    assert len(pages) >= 1 and all(is_a4(size, landscape=True) for size in pages), pages
    # Other pages keep portrait A4.
    page.emulate_media(media="screen")
    page.goto("/dispatch/")
    assert page.locator('link[href*="dispatch_print.css"]').count() == 0
