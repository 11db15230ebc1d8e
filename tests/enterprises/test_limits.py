"""Implausible months in the dispatch and odd versions in the register (issue 12, A.6/A.7):
refused with a message, nothing opened or saved."""

import pytest
from sqlalchemy import func, select

from taskflow.audit.models import AuditEvent
from taskflow.enterprises.models import DispatchPeriod
from taskflow.extensions import db


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("month, message", [
    ("1900-01", "年份须在 2022 至 2028 之间"),   # the plan runs 2023–2027
    ("2021-12", "年份须在 2022 至 2028 之间"),
    ("9999-12", "年份须在 2022 至 2028 之间"),
    ("2024-13", "请按 YYYY-MM 格式填写月份"),
    ("2024-00", "请按 YYYY-MM 格式填写月份"),
    ("0000-01", "请按 YYYY-MM 格式填写月份"),
    ("24-03", "请按 YYYY-MM 格式填写月份"),
])
def test_the_office_cannot_open_an_implausible_month(client, login, make_user, district, freeze,
                                                     month, message):
    freeze("2024-04-02T09:00")
    login(make_user("office"))
    page = client.post("/dispatch/open", data={"month": month}, follow_redirects=True)
    assert page.status_code == 200
    assert message in page.get_data(as_text=True)
    assert _count(DispatchPeriod) == 0
    assert _count(AuditEvent, AuditEvent.action == "dispatch.open") == 0


def test_the_first_month_of_the_window_still_opens(client, login, make_user, district, freeze):
    freeze("2024-04-02T09:00")
    login(make_user("office"))
    assert client.post("/dispatch/open", data={"month": "2022-01"}).status_code == 302
    assert _count(DispatchPeriod) == 1


@pytest.mark.parametrize("page", [str(2**63), str(2**64), "-1", "abc"])
def test_register_pages_and_filters_take_any_number(client, login, make_user, district, page):
    login(make_user("office"))
    for url in (f"/enterprises/?page={page}", f"/enterprises/?unit={page}",
                f"/enterprises/{page}", f"/dispatch/{page}/board"):
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)


@pytest.mark.parametrize("version", ["abc", str(2**64), ""])
def test_an_edit_with_a_garbled_version_is_refused_as_stale(client, login, make_user, district,
                                                          make_enterprise, version):
    unit = district.unit("古南街道")
    enterprise = make_enterprise(unit, name="重庆原名有限公司")
    db.session.commit()
    login(make_user("office"))
    response = client.post(f"/enterprises/{enterprise.id}/edit", data={
        "name": "重庆新名有限公司", "credit_code": enterprise.credit_code, "unit_id": unit.id,
        "source": "stock", "status": "active", "version": version})
    assert response.status_code < 500
    db.session.rollback()
    assert db.session.get(type(enterprise), enterprise.id).name == "重庆原名有限公司"
