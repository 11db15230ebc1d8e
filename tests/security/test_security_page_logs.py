"""The security page's log section: the retention in force, the security events it keeps and
the last anchor of the audit chain's head (and how many events were written after it)."""

import re

from taskflow.audit.anchor import write_anchor
from taskflow.core import audit
from taskflow.extensions import db

URL = "/admin/security"


def _section(page: str) -> str:
    match = re.search(r'<section[^>]*data-section="audit-log".*?</section>', page, re.S)
    assert match
    return match.group(0)



def test_no_anchor_yet_is_said(client, login, admin):
    login(admin)
    section = _section(client.get(URL).get_data(as_text=True))
    assert 'data-anchor="none"' in section
    assert 'data-days="180"' in section


def test_last_anchor_and_events_after_it(app, client, login, admin):
    login(admin)  # the sign-in writes a security event
    for n in range(3):
        audit.record(admin, "test.event", object_type="test", object_id=n, summary=f"e{n}")
    db.session.commit()
    anchor = write_anchor()
    audit.record(admin, "test.event", object_type="test", object_id=9, summary="after")
    db.session.commit()

    section = _section(client.get(URL).get_data(as_text=True))
    assert f'data-anchor-event="{anchor.event_id}"' in section
    assert 'data-since="1"' in section  # one event written after the anchor
    assert 'data-anchor="none"' not in section
    assert 'data-count="0"' not in section  # the sign-in was logged


def test_retention_setting_is_shown(app, client, login, admin):
    app.config["SECURITY_LOG_RETENTION_DAYS"] = 365
    login(admin)
    assert 'data-days="365"' in _section(client.get(URL).get_data(as_text=True))


def _accounts(client) -> str:
    page = client.get(URL).get_data(as_text=True)
    match = re.search(r'<section[^>]*data-section="accounts".*?</section>', page, re.S)
    assert match
    return match.group(0)


def test_accounts_without_a_required_factor_are_listed(app, client, login, admin, make_user):
    from datetime import timedelta

    from taskflow.core import clock

    login(admin)  # before the policy is on: the test helper signs in with a password only
    app.config["TOTP_REQUIRED_ROLES"] = "office,supervisor,admin,leader"
    app.config["PASSWORD_MAX_AGE_DAYS"] = 90
    office = make_user("office", username="office_li")
    enrolled = make_user("leader", username="leader_enrolled")
    enrolled.totp_secret = "JBSWY3DPEHPK3PXP"
    enrolled.totp_confirmed_at = clock.utcnow()
    stale = make_user("supervisor", username="sup_stale")
    stale.totp_confirmed_at = clock.utcnow()
    stale.totp_secret = "JBSWY3DPEHPK3PXQ"
    stale.password_changed_at = clock.utcnow() - timedelta(days=91)
    admin.totp_secret = "JBSWY3DPEHPK3PXR"
    admin.totp_confirmed_at = clock.utcnow()
    db.session.commit()

    section = _accounts(client)
    without = re.search(r'data-accounts="without-factor" data-count="(\d+)"', section)
    assert without.group(1) == "1" and "office_li" in section
    assert "leader_enrolled" not in section.split('data-accounts="without-factor-any"')[0]
    expired = re.search(r'data-accounts="expired" data-count="(\d+)".*?</dd>', section, re.S)
    assert 'data-count="1"' in expired.group(0) and "sup_stale" in expired.group(0)
    assert office.username not in expired.group(0)
