"""Security events in the database: sign-in, sign-out and refused access are stored with who,
when and from where (issue 12, B.3)."""


import pytest
from sqlalchemy import func, select

from taskflow.audit.models import SecurityEvent
from taskflow.core.security_log import log_security_event
from taskflow.extensions import db


def _events(kind=None):
    query = select(SecurityEvent).order_by(SecurityEvent.id)
    if kind:
        query = query.where(SecurityEvent.kind == kind)
    return list(db.session.scalars(query))


def test_sign_in_and_sign_out_are_stored(client, login, make_user):
    user = make_user("office", username="li_office")
    response = login(user)
    assert response.status_code == 302
    [signed_in] = _events("sign_in")
    assert (signed_in.username, signed_in.user_id, signed_in.ip) == ("li_office", user.id,
                                                                      "127.0.0.1")
    response = client.post("/logout")
    assert response.status_code == 302
    [signed_out] = _events("sign_out")
    assert (signed_out.username, signed_out.user_id) == ("li_office", user.id)
    assert signed_out.occurred_at >= signed_in.occurred_at


def test_a_failed_sign_in_stores_no_security_event(client, make_user):
    # Failed attempts are rows of login_attempts (pruned with the same retention).
    user = make_user("office")
    client.post("/login", data={"username": user.username, "password": "wrong-password-1"})
    assert _events() == []


def test_refused_page_view_is_stored(client, login, make_user):
    user = make_user("supervisor")
    login(user)
    response = client.get("/admin/users")
    assert response.status_code == 403
    [refused] = _events("access_refused")
    assert refused.user_id == user.id and refused.ip == "127.0.0.1"
    assert refused.detail == {"status": 403, "method": "GET", "path": "/admin/users"}


def test_refused_post_is_stored_without_waiting_for_its_own_write_lock(client, login,
                                                                       make_user):
    # A POST holds SQLite's write lock from its first query; the event is written after the
    # request's session has ended, so it never waits on its own request.
    user = make_user("supervisor")
    login(user)
    response = client.post("/admin/users/new", data={"username": "x"})
    assert response.status_code == 403
    [refused] = _events("access_refused")
    assert refused.detail["method"] == "POST"


def test_not_found_for_a_signed_in_user_is_stored_but_not_for_anonymous(client, login,
                                                                         make_user):
    client.get("/no-such-page")
    assert _events() == []
    login(make_user("office"))
    assert client.get("/no-such-page").status_code == 404
    [refused] = _events("access_refused")
    assert refused.detail["status"] == 404


def test_log_security_event_adds_to_the_current_session(app, make_user):
    user = make_user("admin")
    event = log_security_event("password_changed", user=user, ip="192.0.2.1",
                               detail={"by": "self"})
    log_security_event("second_factor_enrolled", username="ghost")
    db.session.rollback()  # not committed by the helper: the caller's transaction decides
    assert db.session.scalar(select(func.count(SecurityEvent.id))) == 0
    event = log_security_event("password_changed", user=user, ip="192.0.2.1",
                               detail={"by": "self"})
    db.session.commit()
    stored = db.session.get(SecurityEvent, event.id)
    assert (stored.kind, stored.username, stored.ip, stored.detail) == (
        "password_changed", user.username, "192.0.2.1", {"by": "self"})


def test_unknown_kind_is_refused(app):
    with pytest.raises(ValueError):
        log_security_event("coffee_break")
