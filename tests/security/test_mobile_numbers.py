"""Mobile numbers on the administrator's user pages: validated, masked in lists and audit events,
shown in full only on the edit page, found by exact number, stored encrypted."""

import pytest
from sqlalchemy import select, text

from taskflow.accounts.models import User
from taskflow.audit.models import AuditEvent
from taskflow.extensions import db

PASSWORD = "river-lantern-47"
MOBILE = "13812341234"


def _create(client, username, mobile):
    return client.post("/admin/users/new", data={
        "username": username, "role": "office", "unit_id": "", "mobile": mobile,
        "password": PASSWORD, "confirm": PASSWORD})


def _user(username) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def test_admin_creates_an_account_with_a_mobile_number(client, login, admin):
    login(admin)
    response = _create(client, "with_mobile", "138 1234-1234")
    assert response.status_code == 302, response.get_data(as_text=True)
    user = _user("with_mobile")
    assert user.mobile == MOBILE  # normalised
    raw = db.session.execute(
        text("SELECT mobile FROM users WHERE username = 'with_mobile'")).scalar()
    assert MOBILE not in raw and raw.startswith("v1:")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create",
                                                       AuditEvent.object_id == user.id))
    assert event.after["mobile"] == "138****1234"
    assert MOBILE not in str(event.after) and MOBILE not in event.summary


@pytest.mark.parametrize("bad", ["12812341234", "1381234123", "138123412345", "phone",
                                 "+1 13812341234"])
def test_a_number_that_is_not_a_mainland_mobile_is_refused(client, login, admin, bad):
    login(admin)
    response = _create(client, "bad_mobile", bad)
    assert response.status_code == 400
    assert "11-digit mainland mobile number" in response.get_data(as_text=True) or \
        "11 位" in response.get_data(as_text=True)
    assert _user("bad_mobile") is None


def test_list_masks_and_edit_page_shows_the_full_number(client, login, admin, make_user):
    user = make_user("office", username="phone_owner", mobile=MOBILE)
    login(admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "138****1234" in page and MOBILE not in page
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert f'value="{MOBILE}"' in page


def test_list_finds_an_account_by_its_exact_number(client, login, admin, make_user):
    make_user("office", username="phone_owner", mobile=MOBILE)
    make_user("office", username="other_owner", mobile="13912341234")
    login(admin)
    page = client.get("/admin/users",
                      query_string={"q": "+86 138 1234 1234"}).get_data(as_text=True)
    assert "phone_owner" in page and "other_owner" not in page
    page = client.get("/admin/users?q=1234").get_data(as_text=True)
    assert "phone_owner" not in page  # no partial match on an encrypted number


def test_editing_the_number_audits_it_masked_even_when_the_mask_is_unchanged(
        client, login, admin, make_user):
    user = make_user("office", username="phone_owner", mobile=MOBILE)
    login(admin)
    form = {"display_name": "phone_owner", "role": "office", "unit_id": "", "active": "y",
            "version": str(user.version_id)}
    response = client.post(f"/admin/users/{user.id}", data={**form, "mobile": "13899991234"})
    assert response.status_code == 302
    assert _user("phone_owner").mobile == "13899991234"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event.before == {"mobile": "138****1234"} and event.after == {"mobile": "138****1234"}
    # Clearing the number clears its index too.
    response = client.post(f"/admin/users/{user.id}",
                           data={**form, "version": str(_user("phone_owner").version_id),
                                 "mobile": ""})
    assert response.status_code == 302
    row = db.session.execute(text("SELECT mobile, mobile_index FROM users WHERE id = :i"),
                             {"i": user.id}).one()
    assert tuple(row) == (None, None)


def test_saving_without_touching_the_number_changes_nothing(client, login, admin, make_user):
    user = make_user("office", username="phone_owner", mobile=MOBILE)
    raw_before = db.session.execute(text("SELECT mobile FROM users WHERE id = :i"),
                                    {"i": user.id}).scalar()
    login(admin)
    response = client.post(f"/admin/users/{user.id}", data={
        "display_name": "phone_owner", "role": "office", "unit_id": "", "active": "y",
        "version": str(user.version_id), "mobile": MOBILE}, follow_redirects=True)
    assert response.status_code == 200
    assert _user("phone_owner").version_id == user.version_id
    assert db.session.execute(text("SELECT mobile FROM users WHERE id = :i"),
                              {"i": user.id}).scalar() == raw_before


@pytest.mark.parametrize("role", ["reporter", "unit_head", "office", "supervisor", "leader"])
def test_other_roles_cannot_see_the_numbers(client, login, user_for_role, make_user, role):
    owner = make_user("office", username="phone_owner", mobile=MOBILE)
    login(user_for_role(role))
    for url in ("/admin/users", f"/admin/users/{owner.id}"):
        response = client.get(url)
        assert response.status_code == 403 and MOBILE not in response.get_data(as_text=True)
    # (The refusal page links back to the URL asked for, so the number typed is in it.)
    response = client.get(f"/admin/users?q={MOBILE}")
    assert response.status_code == 403 and "phone_owner" not in response.get_data(as_text=True)
