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
