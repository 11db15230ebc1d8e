"""The register: adding, editing, claims of a second unit, search, history."""

from datetime import date

from sqlalchemy import func, select

from taskflow.audit.models import AuditEvent
from taskflow.enterprises.models import ClaimConflict, Enterprise, EnterpriseEvent
from taskflow.extensions import db
from taskflow.measures import indicators as ind


def _form(code, name="重庆綦江恒达机械有限公司", **extra):
    data = {"name": name, "credit_code": code, "source": "cultivated",
            "tech_in_library_on": "2023-04-01", "tech_removed_on": "", "high_tech_cert_no": "",
            "high_tech_cert_on": "", "status": "active", "closed_on": ""}
    data.update(extra)
    return data


def test_a_reporter_adds_an_enterprise_to_its_own_unit(client, login, make_user, district, codes):
    unit = district.unit("古南街道")
    reporter = make_user("reporter", unit=unit)
    login(reporter)
    code = codes()
    response = client.post("/enterprises/new", data=_form(code.lower(), unit_id=unit.id))
    assert response.status_code == 302, response.get_data(as_text=True)
    enterprise = db.session.scalar(select(Enterprise).where(Enterprise.credit_code == code))
    assert enterprise.unit_id == unit.id and enterprise.tech_in_library_on == date(2023, 4, 1)
    page = client.get(f"/enterprises/{enterprise.id}").get_data(as_text=True)
    assert enterprise.name in page and "登记" in page  # history shows "Registered"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "enterprise.create")) == 1


def test_a_bad_credit_code_is_refused_with_its_reason(client, login, make_user, district):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    page = client.post("/enterprises/new", data=_form("91350100M000100Y44", unit_id=unit.id))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "校验码" in text and "3" in text
    page = client.post("/enterprises/new", data=_form("91350100M0001O0Y43", unit_id=unit.id))
    assert "第 14 位" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0


def test_a_second_unit_claiming_opens_a_conflict_never_a_second_count(
        client, login, make_user, district, make_enterprise):
    holder, claimant = district.unit("古南街道"), district.unit("文龙街道")
    enterprise = make_enterprise(holder, tech_in_library_on=date(2021, 5, 1))
    login(make_user("reporter", unit=claimant))
    response = client.post("/enterprises/new", data=_form(enterprise.credit_code,
                                                          unit_id=claimant.id),
                           follow_redirects=True)
    assert "区科技局" not in response.get_data(as_text=True)  # no leak beyond the unit name
    assert "古南街道" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 1
    claims = db.session.scalars(select(ClaimConflict)).all()
    assert len(claims) == 1 and claims[0].claimant_unit_id == claimant.id
    # Claiming again does not open a second conflict.
    client.post("/enterprises/new", data=_form(enterprise.credit_code, unit_id=claimant.id))
    assert db.session.scalar(select(func.count()).select_from(ClaimConflict)) == 1
    # The holder still counts it; the claimant does not.
    from taskflow.enterprises import queries

    figures = ind.figures_by_unit(date(2023, 1, 31))
    assert figures[holder.id]["tech_in_library"] == 1 and claimant.id not in figures


def test_the_same_unit_registering_twice_is_refused(client, login, make_user, district,
                                                    make_enterprise):
    unit = district.unit("古南街道")
    enterprise = make_enterprise(unit)
    login(make_user("reporter", unit=unit))
    page = client.post("/enterprises/new", data=_form(enterprise.credit_code, unit_id=unit.id))
    assert "已在本单位" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ClaimConflict)) == 0


def test_the_office_decides_claims_keep_and_transfer(client, login, make_user, district,
                                                     make_enterprise):
    from taskflow.enterprises import operations

    a, b = district.unit("古南街道"), district.unit("文龙街道")
    one, two = make_enterprise(a, name="甲公司"), make_enterprise(a, name="乙公司")
    claimant = make_user("reporter", unit=b)
    c1 = operations.open_claim(one, b, claimant)
    c2 = operations.open_claim(two, b, claimant)
    db.session.commit()
    office = make_user("office")
    login(office)
    queue = client.get("/enterprises/claims").get_data(as_text=True)
    assert "甲公司" in queue and "乙公司" in queue
    # A reason is required.
    client.post(f"/enterprises/claims/{c1.id}/decide",
                data={"decision": "keep", "note": "", "version": c1.version_id})
    assert db.session.get(ClaimConflict, c1.id).state == "open"
    client.post(f"/enterprises/claims/{c1.id}/decide",
                data={"decision": "keep", "note": "实际由古南街道引导", "version": c1.version_id})
    client.post(f"/enterprises/claims/{c2.id}/decide",
                data={"decision": "transfer", "note": "招引单位为文龙街道", "version": c2.version_id})
    assert db.session.get(ClaimConflict, c1.id).state == "kept"
    assert db.session.get(Enterprise, one.id).unit_id == a.id
    assert db.session.get(ClaimConflict, c2.id).state == "transferred"
    assert db.session.get(Enterprise, two.id).unit_id == b.id
    kinds = set(db.session.scalars(select(EnterpriseEvent.kind).where(
        EnterpriseEvent.enterprise_id == two.id)))
    assert {"claim_opened", "transferred"} <= kinds
    actions = list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.action == "enterprise.claim_decide")))
    assert len(actions) == 2
    # Deciding twice is refused.
    response = client.post(f"/enterprises/claims/{c2.id}/decide", follow_redirects=True,
                           data={"decision": "keep", "note": "x", "version": 2})
    assert db.session.get(Enterprise, two.id).unit_id == b.id
    assert response.status_code == 200


def test_editing_with_a_stale_version_is_refused_and_renewal_is_a_re_review(
        client, login, make_user, district, make_enterprise):
    unit = district.unit("古南街道")
    enterprise = make_enterprise(unit, tech_in_library_on=date(2020, 1, 1),
                                 high_tech_cert_no="GR202051100001",
                                 high_tech_cert_on=date(2020, 11, 1))
    login(make_user("reporter", unit=unit))
    data = _form(enterprise.credit_code, name="改名公司", unit_id=unit.id, source="stock",
                 tech_in_library_on="2020-01-01", high_tech_cert_no="GR202351100009",
                 high_tech_cert_on="2023-10-20", version=str(enterprise.version_id))
    assert client.post(f"/enterprises/{enterprise.id}/edit", data=data).status_code == 302
    db.session.refresh(enterprise)
    assert enterprise.name == "改名公司"
    assert enterprise.high_tech_first_on == date(2020, 11, 1)  # continuous status
    assert enterprise.high_tech_expires_on == date(2026, 10, 20)
    assert "re_reviewed" in {e.kind for e in enterprise.events}
    # A second edit with the old version is refused.
    page = client.post(f"/enterprises/{enterprise.id}/edit", data=data | {"name": "又改名"},
                       follow_redirects=True).get_data(as_text=True)
    assert "其他人" in page
    db.session.refresh(enterprise)
    assert enterprise.name == "改名公司"


def test_register_search_and_filters(client, login, make_user, district, make_enterprise):
    a, b = district.unit("古南街道"), district.unit("文龙街道")
    make_enterprise(a, name="重庆甲铝业有限公司", high_tech_cert_on=date(2024, 3, 1))
    make_enterprise(a, name="重庆乙食品有限公司", source="attracted")
    make_enterprise(b, name="重庆丙电子有限公司", specialised_sme=True)
    login(make_user("leader"))

    def names(**args):
        text = client.get("/enterprises/", query_string=args).get_data(as_text=True)
        return {n for n in ("甲铝业", "乙食品", "丙电子") if n in text}

    assert names() == {"甲铝业", "乙食品", "丙电子"}
    assert names(q="铝业") == {"甲铝业"}
    assert names(unit=b.id) == {"丙电子"}
    assert names(source="attracted") == {"乙食品"}
    assert names(high_tech="yes") == {"甲铝业"}
    assert names(specialised="yes") == {"丙电子"}
    export = client.get("/enterprises/export.xlsx", query_string={"unit": a.id})
    assert export.status_code == 200 and export.mimetype.endswith("sheet")
    assert "filename*=UTF-8''" in export.headers["Content-Disposition"]


def test_a_stale_claim_decision_is_refused_with_its_conflict_message(
        client, login, make_user, district, make_enterprise):
    from taskflow.enterprises import operations

    a, b = district.unit("古南街道"), district.unit("文龙街道")
    claim = operations.open_claim(make_enterprise(a, name="甲公司"), b,
                                  make_user("reporter", unit=b))
    db.session.commit()
    login(make_user("office"))
    page = client.post(f"/enterprises/claims/{claim.id}/decide", follow_redirects=True,
                       data={"decision": "transfer", "note": "核实",
                             "version": claim.version_id + 1}).get_data(as_text=True)
    assert "其他人已处理了该归属争议。" in page
    assert db.session.get(ClaimConflict, claim.id).state == "open"
