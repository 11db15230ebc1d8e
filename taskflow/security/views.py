"""The security page (/admin/security), administrator only.

The page is a list of sections, each a partial template under templates/security/ and the data
it shows: adding a section is one `_section(...)` line here and one partial."""

from dataclasses import dataclass, field

from flask import render_template
from flask_login import current_user, login_required

from taskflow.core import clock
from taskflow.core.permissions import is_admin, require
from taskflow.security import bp, queries


@dataclass
class Section:
    """One part of the page: its partial template and what it shows."""

    template: str
    data: dict = field(default_factory=dict)


def _section(template: str, **data) -> Section:
    return Section(f"security/{template}", data)


@bp.route("")
@login_required
def page():
    """What an assessor asks about, as it stands now."""
    require(is_admin(current_user))
    sections = [
        _section("_backup.html", backup=queries.latest_backup()),
        _section("_field_key.html", field_key=queries.field_key_status()),
        _section("_accounts.html", accounts=queries.accounts_status(clock.utcnow())),
        _section("_audit_log.html", log=queries.audit_log_status()),
    ]
    return render_template("security/page.html", sections=sections)
