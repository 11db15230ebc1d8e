"""Two administrators editing one account: the second save is refused with what is saved now,
nothing of the first is lost, and the second can then save deliberately."""

import re

from sqlalchemy import func, select

from taskflow.accounts.models import User
from taskflow.audit.models import AuditEvent
from taskflow.extensions import db
from tests.helpers import TEST_PASSWORD



def _browser(app, user):
    browser = app.test_client()
    assert browser.post("/login", data={"username": user.username,
                                        "password": TEST_PASSWORD}).status_code == 302
    return browser


def _form(browser, user_id) -> dict:
    """The edit form as the browser would submit it (hidden fields included)."""
    html = browser.get(f"/admin/users/{user_id}").get_data(as_text=True)
    fields = dict(re.findall(r'<input[^>]*name="(csrf_token|version)"[^>]*value="([^"]*)"', html))
    return {"csrf_token": fields["csrf_token"], "version": fields["version"],
            "role": "reporter", "active": "y"}


def _updates() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id))
                             .where(AuditEvent.action == "user.update"))


def test_the_second_of_two_edits_from_the_same_version_is_refused(app, make_user, town, make_unit):
    other_town = make_unit(name="三江街道")
    target = make_user("reporter", unit=town, display_name="张三", username="zhang_san")
    first, second = make_user("admin"), make_user("admin")
    browser_a, browser_b = _browser(app, first), _browser(app, second)
    form_a, form_b = _form(browser_a, target.id), _form(browser_b, target.id)
    assert form_a["version"] == form_b["version"] == "1"

    saved = browser_a.post(f"/admin/users/{target.id}", data={
        **form_a, "display_name": "张三（古南）", "email": "zs@qj.gov.cn", "unit_id": str(town.id)})
    assert saved.status_code == 302

    refused = browser_b.post(f"/admin/users/{target.id}", data={
        **form_b, "display_name": "张三", "email": "", "unit_id": str(other_town.id)})
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "该账号已被他人修改" in html
    # What the first administrator saved, above the second one's own entries.
    assert 'data-saved="display_name">张三（古南）<' in html and 'data-saved="unit">古南街道<' in html
    assert f'<option selected value="{other_town.id}">' in html
    db.session.expire_all()
    stored = db.session.get(User, target.id)
    assert (stored.display_name, stored.email, stored.unit_id, stored.version_id) == (
        "张三（古南）", "zs@qj.gov.cn", town.id, 2)
    assert _updates() == 1

    # Having seen it, the second administrator saves again: the form now carries version 2.
    again = dict(re.findall(r'<input[^>]*name="(csrf_token|version)"[^>]*value="([^"]*)"', html))
    assert again["version"] == "2"
    resaved = browser_b.post(f"/admin/users/{target.id}", data={
        **form_b, **again, "display_name": "张三", "email": "", "unit_id": str(other_town.id)})
    assert resaved.status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, target.id)
    assert (stored.display_name, stored.unit_id, stored.version_id) == ("张三", other_town.id, 3)
    assert _updates() == 2


def test_a_save_without_a_version_or_with_a_forged_one_is_refused(app, make_user, town):
    target = make_user("leader", display_name="王五")
    browser = _browser(app, make_user("admin"))
    form = _form(browser, target.id)
    for version in ("", "abc", "0", "7"):
        response = browser.post(f"/admin/users/{target.id}", data={
            **form, "version": version, "role": "leader", "display_name": "改了", "unit_id": ""})
        assert response.status_code == 409, version
    db.session.expire_all()
    stored = db.session.get(User, target.id)
    assert (stored.display_name, stored.version_id) == ("王五", 1)
    assert _updates() == 0


def test_sign_ins_and_own_settings_do_not_make_an_edit_stale(app, make_user):
    """Only administrators' edits count: the user signing in meanwhile changes nothing."""
    target = make_user("leader", display_name="赵六")
    browser = _browser(app, make_user("admin"))
    form = _form(browser, target.id)
    own = _browser(app, target)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                      own.get("/account").get_data(as_text=True)).group(1)
    assert own.post("/account/language", data={"locale": "en", "csrf_token": token}
                    ).status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, target.id)
    assert stored.locale == "en" and stored.last_login_at is not None and stored.version_id == 1
    response = browser.post(f"/admin/users/{target.id}", data={
        **form, "role": "leader", "display_name": "赵六六", "unit_id": ""})
    assert response.status_code == 302
