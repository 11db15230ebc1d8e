"""Every route of the area for every role: 404 for another unit's objects, 403 for refusals."""

import io

import pytest
from sqlalchemy import func, select

from taskflow.enterprises import operations
from taskflow.enterprises.models import (
    ClaimConflict,
    DispatchConfirmation,
    DispatchPeriod,
    Enterprise,
)
from taskflow.extensions import db

ROLES = ("reporter_own", "reporter_other", "unit_head", "office", "supervisor", "leader", "admin",
         "anonymous")


@pytest.fixture
def world(district, make_user, make_enterprise, freeze, make_xlsx, codes):
    freeze("2024-04-03T09:00")
    own, other = district.unit("古南街道"), district.unit("文龙街道")
    enterprise = make_enterprise(own, name="本单位企业")
    foreign = make_enterprise(other, name="外单位企业")
    office = make_user("office")
    period = operations.open_month("2024-03", office)
    claim = operations.open_claim(foreign, own, office)
    db.session.commit()
    users = {
        "reporter_own": make_user("reporter", unit=own),
        "reporter_other": make_user("reporter", unit=other),
        "unit_head": make_user("unit_head", unit=own),
        "office": office,
        "supervisor": make_user("supervisor"),
        "leader": make_user("leader"),
        "admin": make_user("admin"),
    }
    return {"own": own, "other": other, "enterprise": enterprise, "foreign": foreign,
            "period": period, "claim": claim, "users": users, "xlsx": make_xlsx, "codes": codes}


def _routes(w):
    e, f, p, own, other = w["enterprise"], w["foreign"], w["period"], w["own"], w["other"]
    return [
        # (method, url, data, {role: expected status})
        ("GET", "/enterprises/", None, dict.fromkeys(ROLES[:-1], 200)),
        ("GET", "/enterprises/export.xlsx", None, dict.fromkeys(ROLES[:-1], 200)),
        ("GET", f"/enterprises/{e.id}", None,
         {"reporter_own": 200, "reporter_other": 404, "unit_head": 200, "office": 200,
          "supervisor": 200, "leader": 200, "admin": 200}),
        ("GET", f"/enterprises/{f.id}", None,
         {"reporter_own": 404, "reporter_other": 200, "unit_head": 404, "office": 200,
          "supervisor": 200, "leader": 200, "admin": 200}),
        ("GET", f"/enterprises/{e.id}/edit", None,
         {"reporter_own": 200, "reporter_other": 404, "unit_head": 200, "office": 200,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("POST", f"/enterprises/{e.id}/edit", {"name": "改", "source": "stock", "status": "active",
                                               "unit_id": own.id, "version": "99"},
         {"reporter_own": 200, "reporter_other": 404, "unit_head": 200, "office": 200,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("GET", "/enterprises/new", None,
         {"reporter_own": 200, "reporter_other": 200, "unit_head": 200, "office": 200,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("POST", "/enterprises/new", {"name": "x", "credit_code": "bad", "source": "stock",
                                      "status": "active", "unit_id": own.id},
         {"reporter_own": 200, "reporter_other": 200, "unit_head": 200, "office": 200,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("GET", "/enterprises/claims", None, dict.fromkeys(ROLES[:-1], 200)),
        ("POST", f"/enterprises/claims/{w['claim'].id}/decide", {"decision": "keep", "note": ""},
         {"reporter_own": 403, "reporter_other": 403, "unit_head": 403, "office": 302,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("GET", "/enterprises/import", None,
         {"reporter_own": 200, "reporter_other": 200, "unit_head": 200, "office": 200,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("GET", "/enterprises/import/template.xlsx", None,
         {"reporter_own": 200, "reporter_other": 200, "unit_head": 200, "office": 200,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("POST", "/enterprises/import", {"unit_id": own.id, "file": (io.BytesIO(b"x"), "a.xlsx")},
         {"reporter_own": 200, "reporter_other": 200, "unit_head": 200, "office": 200,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("GET", "/enterprises/import/nonexistent", None, dict.fromkeys(ROLES[:-1], 404)),
        ("POST", "/enterprises/import/nonexistent/confirm", None, dict.fromkeys(ROLES[:-1], 404)),
        ("POST", "/enterprises/import/nonexistent/discard", None, dict.fromkeys(ROLES[:-1], 404)),
        ("GET", "/dispatch/", None,
         {"reporter_own": 302, "reporter_other": 302, "unit_head": 302, "office": 200,
          "supervisor": 200, "leader": 200, "admin": 200}),
        ("POST", "/dispatch/open", {"month": "2024-02"},
         {"reporter_own": 403, "reporter_other": 403, "unit_head": 403, "office": 302,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("GET", f"/dispatch/{p.id}", None,
         {"reporter_own": 403, "reporter_other": 403, "unit_head": 403, "office": 200,
          "supervisor": 200, "leader": 200, "admin": 200}),
        ("GET", f"/dispatch/{p.id}/export.xlsx", None,
         {"reporter_own": 403, "reporter_other": 403, "unit_head": 403, "office": 200,
          "supervisor": 200, "leader": 200, "admin": 200}),
        ("GET", f"/dispatch/{p.id}/units/{own.id}", None,
         {"reporter_own": 200, "reporter_other": 404, "unit_head": 200, "office": 200,
          "supervisor": 200, "leader": 200, "admin": 200}),
        ("POST", f"/dispatch/{p.id}/units/{own.id}/confirm", {"note": "好"},
         {"reporter_own": 302, "reporter_other": 404, "unit_head": 302, "office": 403,
          "supervisor": 403, "leader": 403, "admin": 403}),
        ("GET", f"/dispatch/{p.id}/units/{other.id}", None,
         {"reporter_own": 404, "reporter_other": 200, "unit_head": 404, "office": 200,
          "supervisor": 200, "leader": 200, "admin": 200}),
        ("GET", "/dispatch/999/units/1", None, dict.fromkeys(ROLES[:-1], 404)),
        ("POST", f"/dispatch/{p.id}/close", None,
         {"reporter_own": 403, "reporter_other": 403, "unit_head": 403, "office": 302,
          "supervisor": 403, "leader": 403, "admin": 403}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_permission_walk(client, login, world, role):
    if role != "anonymous":
        login(world["users"][role])
    before = {
        "name": db.session.get(Enterprise, world["enterprise"].id).name,
        "claims": db.session.scalar(select(func.count()).select_from(ClaimConflict).where(
            ClaimConflict.state == "open")),
    }
    for method, url, data, expected in _routes(world):
        kwargs = {}
        if data is not None:
            kwargs["data"] = dict(data)
            if "file" in data:
                kwargs["content_type"] = "multipart/form-data"
        response = client.open(url, method=method, **kwargs)
        want = 302 if role == "anonymous" else expected[role]
        assert response.status_code == want, (role, method, url, response.status_code)
        if role == "anonymous":
            assert "/login" in response.headers["Location"]
    # Refused roles changed nothing.
    if role not in ("office", "reporter_own", "unit_head"):
        assert db.session.scalar(select(func.count()).select_from(DispatchConfirmation)) == 0
        assert db.session.scalar(select(func.count()).select_from(DispatchPeriod)) == 1
        assert db.session.get(Enterprise, world["enterprise"].id).name == before["name"]
    if role != "office":
        assert db.session.scalar(select(func.count()).select_from(ClaimConflict).where(
            ClaimConflict.state == "open")) == before["claims"]


def test_unit_users_see_only_their_own_unit_in_the_register(client, login, world):
    login(world["users"]["reporter_own"])
    page = client.get("/enterprises/", query_string={"unit": world["other"].id}).get_data(
        as_text=True)
    assert "本单位企业" in page and "外单位企业" not in page
    export = client.get("/enterprises/export.xlsx", query_string={"unit": world["other"].id})
    from openpyxl import load_workbook

    cells = {c for row in load_workbook(io.BytesIO(export.data)).worksheets[0].iter_rows(
        values_only=True) for c in row}
    assert "本单位企业" in cells and "外单位企业" not in cells
