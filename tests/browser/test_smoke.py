"""Smoke test in a real browser: Chinese sign-in page, sign in, language switch, sign out,
local assets only."""

import io
from urllib.parse import urlsplit

import pytest

from taskflow.accounts.operations import create_user
from tests.helpers import TEST_PASSWORD

pytestmark = pytest.mark.browser

PASSWORD = "Qj-双倍增-2027-secret"


def test_sign_in_page_renders_in_chinese_with_local_assets(page, live_server, network):
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "登录" in page.title()
    assert page.get_by_role("button", name="登录").is_visible()
    assert page.get_by_role("button", name="English").is_visible()
    # Bootstrap really loaded and applied: the primary button is filled, not browser-default grey.
    assert network.status_of("/assets/bootstrap/css/bootstrap.min.css") == [200]
    colour = page.get_by_role("button", name="登录").evaluate(
        "el => getComputedStyle(el).backgroundColor")
    assert colour not in {"rgba(0, 0, 0, 0)", "rgb(239, 239, 239)", "rgb(240, 240, 240)"}
    assert all(status < 400 for _url, status in network.responses), network.responses
    assert network.external == []
    assert network.console_errors == []


def test_sign_in_switch_language_and_sign_out(page, live_server, network, sign_in):
    with live_server.setup():
        create_user("wangke", PASSWORD, "admin", display_name="王科长")

    sign_in(page, live_server, "wangke", PASSWORD)
    navbar = page.locator("nav.navbar")
    assert "王科长" in navbar.inner_text()
    assert page.get_by_role("button", name="退出").is_visible()

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert "王科长" in navbar.inner_text()

    page.get_by_role("button", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")
    assert "您已退出登录" in page.inner_text("main")
    assert "王科长" not in page.locator("nav.navbar").inner_text()
    page.goto("/")
    assert urlsplit(page.url).path == "/login"  # signed out for real

    assert network.status_of("/assets/bootstrap/css/bootstrap.min.css")
    assert set(network.status_of("/assets/bootstrap/")) == {200}
    hosts = {urlsplit(url).hostname for url, _status in network.responses}
    assert hosts == {"127.0.0.1"}
    assert network.external == []
    assert [(u, s) for u, s in network.responses if s >= 400] == []
    assert network.console_errors == []


def test_data_created_while_the_server_runs_is_visible(page, live_server, sign_in, make_user):
    page.goto("/login")
    page.fill("input[name=username]", "later")
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit]")
    assert "用户名或密码错误" in page.inner_text("main")

    with live_server.setup():  # the server is already serving; the next request sees the row
        create_user("later", PASSWORD, "supervisor", display_name="督查组李四")
    sign_in(page, live_server, "later", PASSWORD)
    assert "督查组李四" in page.locator("nav.navbar").inner_text()

    # The shared factories write into the database the server reads.
    make_user("admin", username="factory-admin", display_name="系统管理员赵六")
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")
    sign_in(page, live_server, "factory-admin", TEST_PASSWORD)
    assert "系统管理员赵六" in page.locator("nav.navbar").inner_text()


def test_the_sample_pdf_passes_upload_validation(sample_pdf):
    from werkzeug.datastructures import FileStorage

    from taskflow.core.uploads import validate_upload

    upload = validate_upload(FileStorage(io.BytesIO(sample_pdf["buffer"]), sample_pdf["name"]),
                             max_bytes=1024 * 1024, zip_max_entries=10, zip_max_uncompressed=1)
    assert (upload.detected_type, upload.safe_display_name) == ("pdf", "证明材料.pdf")


def test_requests_to_other_hosts_are_blocked_and_recorded(page, live_server, network):
    from playwright.sync_api import Error

    with pytest.raises(Error):
        page.goto("http://example.com/x.css")
    assert network.external == ["http://example.com/x.css"]
