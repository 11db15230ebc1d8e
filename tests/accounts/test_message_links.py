"""A message link (渝快政 / DingTalk / e-mail) opened while signed out: the sign-in page says what
opens afterwards, and after sign-in - the second-factor step included - the user lands on it."""

from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote, urlsplit

import pyotp
import pytest

from taskflow.accounts.operations import confirm_second_factor, new_totp_secret
from taskflow.core.clock import frozen_at
from taskflow.extensions import db
from tests.helpers import TEST_PASSWORD

T0 = datetime(2024, 4, 3, 1, 0, tzinfo=timezone.utc)  # 09:00 in Qijiang, a working day


@pytest.fixture
def linked(make_unit, make_task, make_assignment, make_milestone, make_user):
    town = make_unit(name="古南街道")
    assignment = make_assignment(task=make_task(title="广泛培育科技型企业"), unit=town)
    milestone = make_milestone(assignment=assignment, title="机密的里程碑名称",
                               due=date(2024, 4, 30))
    reporter = make_user("reporter", unit=town, username="gunan")
    office = make_user("office", username="office")
    return {"milestone": milestone, "reporter": reporter, "office": office, "town": town}


def location(response) -> str:
    return response.headers.get("Location", "")


def test_a_reporter_opens_a_milestone_link_signed_out_and_lands_on_it(client, linked):
    path = f"/milestones/{linked['milestone'].id}"
    response = client.get(path)
    assert response.status_code == 302
    login_url = location(response)
    assert urlsplit(login_url).path == "/login" and quote(path, safe="") in login_url

    page = client.get(login_url).get_data(as_text=True)
    assert "登录后将打开一个里程碑及其报送表" in page
    assert f'data-next-page="{path}"' in page
    assert "机密的里程碑名称" not in page  # nothing about the item before sign-in

    response = client.post(login_url, data={"username": "gunan", "password": TEST_PASSWORD})
    assert response.status_code == 302 and location(response) == path
    assert "机密的里程碑名称" in client.get(path).get_data(as_text=True)


def test_an_office_user_with_a_second_factor_lands_on_the_linked_notice(app, client, linked):
    from taskflow.notices.operations import issue_notice

    office = linked["office"]
    secret = new_totp_secret()
    with frozen_at(T0 - timedelta(hours=1)):
        confirm_second_factor(office, secret, pyotp.TOTP(secret).at(T0 - timedelta(hours=1)))
        notice = issue_notice(linked["town"].id, [linked["milestone"]], "yellow",
                              date(2024, 4, 10), actor=office)
    db.session.commit()
    app.config["TOTP_REQUIRED_ROLES"] = "office,supervisor,admin,leader"
    path = f"/notices/{notice.id}"
    with frozen_at(T0):
        login_url = location(client.get(path))
        assert "登录后将打开一份催办督办单" in client.get(login_url).get_data(as_text=True)
        response = client.post(login_url, data={"username": "office", "password": TEST_PASSWORD})
        assert location(response).endswith("/login/code")
        step = client.get("/login/code").get_data(as_text=True)
        assert "完成此步骤后将打开一份催办督办单" in step and f'data-next-page="{path}"' in step
        response = client.post("/login/code", data={"code": pyotp.TOTP(secret).at(T0)})
        assert response.status_code == 302 and location(response) == path
        assert client.get(path).status_code == 200


@pytest.mark.parametrize("target", [
    "//evil.example/milestones/1", "https://evil.example/", "/\\evil.example", "/\tevil",
    "javascript:alert(1)", "/no/such/page", "/", "/logout"])
def test_no_hint_and_no_redirect_off_the_site_for_other_targets(client, linked, target):
    url = "/login?next=" + quote(target, safe="")
    page = client.get(url).get_data(as_text=True)
    assert "data-next-page" not in page and "登录后将打开" not in page
    response = client.post(url, data={"username": "gunan", "password": TEST_PASSWORD})
    assert response.status_code == 302
    landed = urlsplit(location(response))
    assert landed.netloc in ("", "localhost") and not landed.path.startswith("//")
    if target not in ("/no/such/page", "/", "/logout"):
        assert landed.path in ("/", "/my")  # home, never the given target


def test_a_hint_names_the_kind_of_page_only(client, linked):
    page = client.get("/login?next=" + quote("/notices/inbox?unread=1", safe="")).get_data(
        as_text=True)
    assert "登录后将打开消息" in page and "/notices/inbox?unread=1" in page
    page = client.get("/login?next=" + quote("/account", safe="")).get_data(as_text=True)
    assert "登录后将打开您要打开的页面" in page
