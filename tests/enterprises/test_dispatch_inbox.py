"""Opening a month of the monthly dispatch (月调度) tells each unit's reporters and head once,
with a link to the unit's own page; confirming the figures reads those items."""

import re
from datetime import date

from sqlalchemy import select

from taskflow.enterprises import operations
from taskflow.enterprises.jobs import run_monthly_dispatch
from taskflow.enterprises.models import DispatchPeriod
from taskflow.extensions import db
from taskflow.notices import messages
from taskflow.notices.models import Notification


def opened_items():
    return list(db.session.scalars(select(Notification).where(
        Notification.kind == "dispatch_opened").order_by(Notification.id)))


def test_the_office_opening_a_month_tells_every_units_people_once(
        client, login, make_user, district, freeze):
    freeze("2024-04-02T09:00")
    gunan, wenlong = district.unit("古南街道"), district.unit("文龙街道")
    reporter = make_user("reporter", unit=gunan)
    head = make_user("unit_head", unit=gunan)
    other = make_user("reporter", unit=wenlong)
    make_user("reporter", unit=gunan).active = False  # left: told nothing
    db.session.commit()
    office = make_user("office")
    login(office)
    assert client.post("/dispatch/open", data={"month": "2024-03"}).status_code == 302
    client.post("/dispatch/open", data={"month": "2024-03"})  # refused: told nobody again
    period = db.session.scalar(select(DispatchPeriod))
    items = opened_items()
    assert sorted(n.user_id for n in items) == sorted([reporter.id, head.id, other.id])
    by_user = {n.user_id: n for n in items}
    assert by_user[reporter.id].link == f"/dispatch/{period.id}/units/{gunan.id}"
    assert by_user[other.id].link == f"/dispatch/{period.id}/units/{wenlong.id}"
    with client.application.test_request_context("/"):
        title, detail = messages.render("dispatch_opened", by_user[reporter.id].params)
    assert "2024-03" in title and period.due_on.isoformat() in detail

    # The reporter sees the badge, opens the page (still unread), confirms (read).
    client.post("/logout")
    login(reporter)

    def badge():
        html = client.get(f"/dispatch/{period.id}/units/{gunan.id}").get_data(as_text=True)
        found = re.search(r'data-unread="(\d+)"', html)
        return int(found.group(1)) if found else 0

    assert badge() == 1
    assert badge() == 1
    assert client.post(f"/dispatch/{period.id}/units/{gunan.id}/confirm",
                       data={"note": ""}).status_code == 302
    assert badge() == 0
    db.session.refresh(by_user[head.id])
    assert by_user[head.id].read_at is None  # the head's own item stays his to read


def test_the_job_opening_a_month_tells_the_units_once(make_user, district, freeze, app):
    gunan = district.unit("古南街道")
    reporter = make_user("reporter", unit=gunan)
    freeze("2024-04-01T08:00")
    with app.test_request_context("/"):
        run_monthly_dispatch(date(2024, 4, 1))
        run_monthly_dispatch(date(2024, 4, 1))
    assert [n.user_id for n in opened_items()] == [reporter.id]
    assert operations.open_month_if_due(date(2024, 4, 1)) is None
