"""A register export too large for a request, in a real browser: the office asks for it, 我的导出
shows it queued, the page notices by itself when the scheduler has written it, and the file
downloads under its Chinese name."""

import pytest

from taskflow.core import clock
from tests.helpers import TEST_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def register_world(app, make_unit, make_user):
    from taskflow.enterprises.models import Enterprise
    from taskflow.extensions import db

    app.config["EXPORT_BACKGROUND_ROWS"] = 2
    town = make_unit(name="古南街道")
    for i, name in enumerate(("甲铝业有限公司", "乙食品有限公司", "丙电子有限公司")):
        db.session.add(Enterprise(name=name, credit_code=f"91500222MA5U{i:06d}", unit_id=town.id,
                                  source="stock"))
    db.session.commit()
    make_user("office", username="office", display_name="联席办王五")


def test_a_large_register_export_is_prepared_and_downloaded(page, live_server, sign_in,
                                                            register_world, app):
    from taskflow.enterprises import jobs

    sign_in(page, live_server, "office", TEST_PASSWORD)
    page.goto(live_server.url("/enterprises/"))
    page.get_by_role("link", name="导出 Excel").click()
    page.wait_for_url("**/enterprises/export.xlsx*")
    assert "3 家" in page.locator("#export-request").inner_text()
    page.get_by_role("button", name="生成导出文件").click()
    page.wait_for_url("**/enterprises/exports")
    row = page.locator("#export-jobs tbody tr").first
    assert "排队中" in row.inner_text()
    # The bar's width comes from the script (no inline styles under the CSP).
    assert page.locator(".progress-bar").evaluate("el => el.style.width") == "0%"
    with app.app_context():
        assert jobs.run_export_jobs() == {"done": 1, "failed": 0}
    # The page polls and reloads itself once the file is ready.
    download_link = page.get_by_role("link", name="下载")
    download_link.wait_for(timeout=15_000)
    with page.expect_download() as info:
        download_link.click()
    today = clock.local_today().isoformat()
    assert info.value.suggested_filename == f"企业库 {today}.xlsx"
