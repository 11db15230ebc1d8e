"""In a real browser: a supervisor enrols an authenticator app at first sign-in (the key read
off the page, the codes computed here with pyotp), signs out, and signs in again with a fresh
code; the steps' pages fit a 360 px phone screen."""

import time
from urllib.parse import urlsplit

import pyotp
import pytest

from taskflow.accounts.operations import create_user

pytestmark = pytest.mark.browser

PASSWORD = "Qj-双倍增-2027-secret"


def fits(page) -> bool:
    """No horizontal scrolling at the current viewport."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def submit_password(page, username: str) -> None:
    """Fill the sign-in form's first step and wait for the next page."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form [type=submit]")


def fresh_code(secret: str, after: str | None = None) -> str:
    """The app's current code; waits for the next 30-second step when it equals `after`
    (a code accepted once is refused until the next step)."""
    totp = pyotp.TOTP(secret)
    code = totp.now()
    while code == after:
        time.sleep(1)
        code = totp.now()
    return code


def test_enrol_at_first_sign_in_then_sign_in_with_a_code(page, live_server, network):
    live_server.app.config["TOTP_REQUIRED_ROLES"] = "office,supervisor,admin,leader"
    with live_server.setup():
        create_user("zhang_ducha", PASSWORD, "supervisor", display_name="张督查")
    page.set_viewport_size({"width": 360, "height": 740})

    page.goto("/login?next=/account")
    submit_password(page, "zhang_ducha")
    assert urlsplit(page.url).path == "/login/enrol"
    assert page.get_by_role("heading", name="设置身份验证器").is_visible()
    qr = page.locator("img[data-totp-qr]")
    assert qr.is_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the SVG really rendered
    assert fits(page)
    secret = page.locator("[data-totp-secret]").inner_text().strip()
    assert len(secret) == 32

    page.fill("input[name=code]", "000000")
    with page.expect_navigation():
        page.get_by_role("button", name="确认").click()
    assert "验证码错误" in page.inner_text("main")
    enrol_code = fresh_code(secret)
    page.fill("input[name=code]", enrol_code)
    with page.expect_navigation():
        page.get_by_role("button", name="确认").click()
    codes = page.locator("[data-recovery-codes] li").all_inner_texts()
    assert len(codes) == 10
    assert fits(page)
    with page.expect_navigation():
        page.get_by_role("button", name="继续").click()
    assert urlsplit(page.url).path == "/account"  # signed in, where they were going
    # At 360 px the bar is collapsed behind the menu button: the name shows once it is opened.
    assert "张督查" not in page.locator("nav.navbar").inner_text()
    page.locator(".navbar-toggler").click()
    page.locator("#tf-nav.show").wait_for()
    assert "张督查" in page.locator("nav.navbar").inner_text()

    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/login?next=/account")

    submit_password(page, "zhang_ducha")
    assert urlsplit(page.url).path == "/login/code"
    assert fits(page)
    page.fill("input[name=code]", fresh_code(secret, after=enrol_code))
    with page.expect_navigation():
        page.get_by_role("button", name="验证").click()
    assert urlsplit(page.url).path == "/account"
    assert "剩余恢复码：10" in page.inner_text("main")
    assert fits(page)

    assert network.external == []
    # The one failed response is the wrong code's page (400); nothing else failed.
    assert [(urlsplit(url).path, status) for url, status in network.responses
            if status >= 400] == [("/login/enrol", 400)]
    assert len(network.console_errors) == 1 and "400" in network.console_errors[0]
