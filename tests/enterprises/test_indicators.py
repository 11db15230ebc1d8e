"""Enterprise indicators agree everywhere: lights follow the printed figures, every count opens a
register list of exactly that many rows, the board, its export, the 创新报表 and the cockpit give
the same totals for the same month, and departments count attracted enterprises only."""

import io
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import html
from openpyxl import load_workbook
from sqlalchemy import func, select

from taskflow.enterprises import importer, operations, queries
from taskflow.enterprises.demo import generate_demo_register
from taskflow.enterprises.models import ClaimConflict, Enterprise
from taskflow.extensions import db
from taskflow.measures import indicators as ind
from taskflow.units.models import Unit

PERCENTS = re.compile(r"^(\d+)% / (\d+)%")


def _open_month(month: str, office):
    period = operations.open_month(month, office)
    db.session.commit()
    return period


def _rule_of_printed_text(text: str, yellow: int, red: int) -> str:
    """The light a reader derives from the printed rule and the printed figures."""
    text = " ".join(text.split())
    if text.startswith("本年无增量目标"):
        return "red" if "低于目标" in text else "grey"
    if text.startswith("减少"):
        return "red"
    match = PERCENTS.match(text)
    assert match, text
    done, expected = int(match.group(1)), int(match.group(2))
    assert 0 <= done <= 100 and 0 <= expected <= 100, text  # never −133 % nor 600 %
    behind = expected - done
    return "red" if behind >= red else "yellow" if behind >= yellow else "green"


def _register_total(client, url: str) -> int:
    page = html.fromstring(client.get(url).get_data(as_text=True))
    return int(page.xpath("//h1/span[contains(@class, 'badge')]")[0].text_content())


def test_board_lights_follow_the_printed_rule_on_the_demo_register(
        client, login, make_user, imported_plans, freeze, app):
    freeze("2026-12-01T09:00")
    generate_demo_register(imported_plans, seed=2023)
    office = make_user("office")
    period = _open_month("2026-11", office)
    login(office)
    body = client.get(f"/dispatch/{period.id}").get_data(as_text=True)
    page = html.fromstring(body)
    yellow, red = app.config["LIGHT_YELLOW_POINTS"], app.config["LIGHT_RED_POINTS"]
    rule = page.get_element_by_id("light-rule").text_content()
    assert f"{yellow} 个百分点起亮黄灯" in rule and f"{red} 个百分点起亮红灯" in rule
    assert "数据截至 2026-11-30" in body
    cells = page.xpath("//table[@id='dispatch-board']//td[@data-progress]")
    assert len(cells) > 80
    seen = set()
    for cell in cells:
        progress = cell.xpath(".//span[contains(@class, 'tf-progress')]")
        if not progress:
            assert cell.text_content().strip() == "—"
            continue
        colour = progress[0].xpath(".//span[@data-light]")[0].get("data-light")
        printed = progress[0].xpath("./span[@class='small']")[0].text_content()
        assert colour == _rule_of_printed_text(printed, yellow, red), printed
        seen.add(colour)
    assert {"green", "red"} <= seen
    # Expected-to-date never passes the year's target on any row.
    board = queries.board(period)
    for row in board.rows + [None]:
        progress = row.progress if row else board.district.against_district
        for p in progress.values():
            if p.target is not None and p.expected is not None:
                assert min(p.base, p.target) <= p.expected <= max(p.base, p.target)


def _links(page) -> list[tuple[int, str]]:
    return [(int(a.get("data-count")), a.get("href")) for a in page.xpath("//a[@data-count]")]


def test_every_count_opens_a_register_list_of_exactly_that_many_rows(
        client, login, make_user, district, freeze, make_unit):
    freeze("2024-12-02T09:00")
    generate_demo_register(district.plan, seed=5)
    office = make_user("office")
    period = _open_month("2024-11", office)
    login(office)
    links = _links(html.fromstring(client.get(f"/dispatch/{period.id}").get_data(as_text=True)))
    unit = district.unit("古南街道")
    links += _links(html.fromstring(client.get(
        f"/dispatch/{period.id}/units/{unit.id}").get_data(as_text=True)))
    links += _links(html.fromstring(client.get("/cockpit").get_data(as_text=True)))
    assert len(links) > 50
    figures_seen = set()
    # Counts above one page (50 rows) prove the total is compared, not the page.
    assert any(n > 50 for n, _url in links)
    for number, url in sorted(set(links)):
        query = parse_qs(urlsplit(url).query)
        figures_seen.add(query["figure"][0])
        assert _register_total(client, url) == number, url
    assert figures_seen == set(ind.FIGURES)


def test_cockpit_figures_link_to_filters_the_register_applies(
        client, login, make_user, district, make_enterprise, freeze):
    freeze("2024-06-30T20:00")
    unit = district.unit("古南街道")
    make_enterprise(unit, tech_in_library_on=date(2023, 3, 1))
    make_enterprise(unit, high_tech_cert_on=date(2023, 5, 1))
    make_enterprise(unit, high_tech_cert_on=date(2020, 5, 1))  # expired 2023-05-01
    login(make_user("leader"))
    page = html.fromstring(client.get("/cockpit").get_data(as_text=True))
    links = {a.get("data-figure"): a for a in page.xpath("//div[@id='figures']//a[@data-figure]")}
    high = links["high_tech_valid"]
    assert high.text_content().strip() == "1"
    assert "figure=high_tech_valid" in high.get("href") and "on=2024-06-30" in high.get("href")
    assert _register_total(client, high.get("href")) == 1
    assert _register_total(client, links["tech_in_library"].get("href")) == 1
    assert "数据截至 2024-06-30" in page.text_content()
    # The register ignores a filter it does not know rather than pretending to apply it.
    assert _register_total(client, "/enterprises/?figure=bogus&on=2024-06-30") == 3


def test_board_export_innovation_report_and_cockpit_give_the_same_totals(
        client, login, make_user, imported_plans, freeze):
    freeze("2026-11-30T18:00")
    generate_demo_register(imported_plans, seed=11)
    office = make_user("office")
    period = _open_month("2026-11", office)
    login(office)
    page = html.fromstring(client.get(f"/dispatch/{period.id}").get_data(as_text=True))
    total = page.get_element_by_id("district-total")
    board = {td.get("data-figure"): int(td.text_content())
             for td in total.xpath("./td[@data-figure]")}
    assert board["tech_in_library"] > 3000
    # Its Excel export.
    rows = list(load_workbook(io.BytesIO(client.get(
        f"/dispatch/{period.id}/export.xlsx").data)).worksheets[0].iter_rows(values_only=True))
    export_total = next(r for r in rows if r[0] == "全区合计")
    export = dict(zip(ind.FIGURES, export_total[1:1 + len(ind.FIGURES)]))
    assert rows[1][0].startswith("数据截至 2026-11-30 · ")
    assert export == board
    # The 创新报表 of the same month.
    report = client.get("/scores/periods/2026-11/innovation-report.xlsx")
    assert report.status_code == 200
    sheet = list(load_workbook(io.BytesIO(report.data)).worksheets[0].iter_rows(values_only=True))
    header = sheet[2]  # below the title and the as-of line
    report_total = next(r for r in sheet if r[1] == "全区合计")
    tech = header.index("科技型企业在库量")
    high = header.index("高新技术企业有效量")
    assert (report_total[tech], report_total[high]) == (
        board["tech_in_library"], board["high_tech_valid"])
    assert sheet[1][0].startswith("数据截至 2026-11-30 · ")
    # The sum over the report's unit rows is the 合计 too (no unit left out or counted twice).
    body = [r for r in sheet[3:] if isinstance(r[0], int)]
    assert sum(r[tech] for r in body) == report_total[tech]
    # The cockpit on the month's last day.
    cockpit = html.fromstring(client.get("/cockpit").get_data(as_text=True))
    shown = {a.get("data-figure"): int(a.text_content())
             for a in cockpit.xpath("//div[@id='figures']//a[@data-figure]")}
    assert shown == {"tech_in_library": board["tech_in_library"],
                     "high_tech_valid": board["high_tech_valid"]}
    # And the one function all of them call.
    district = ind.month_figures(imported_plans, date(2026, 11, 1))
    assert district.totals == board == district.sum_over_units


# ---------------------------------------------------------------- departments: 招引 only


@pytest.fixture
def department(make_unit):
    return make_unit("区招商投资局", kind="department", peer_group="department")


def _data(codes, source, **fields):
    return {"name": "重庆招引科技有限公司", "credit_code": codes(), "source": source,
            "tech_in_library_on": date(2024, 2, 1), "high_tech_cert_no": None,
            "high_tech_cert_on": None, "specialised_sme": False, **fields}


def test_a_department_counts_only_attracted_enterprises(
        app, district, department, codes, make_user, freeze):
    freeze("2024-04-01T09:00")
    office = make_user("office")
    for source in ("stock", "cultivated"):
        with pytest.raises(operations.EnterpriseError, match="部门只计新招引企业"):
            operations.register_enterprise(_data(codes, source), department, office)
    attracted = operations.register_enterprise(_data(codes, "attracted"), department, office)
    db.session.commit()
    assert attracted.unit_id == department.id
    # Turning it into a cultivated one afterwards is refused too.
    with pytest.raises(operations.EnterpriseError, match="区招商投资局"):
        operations.update_enterprise(attracted, {"source": "cultivated"}, office,
                                     version=attracted.version_id)
    db.session.rollback()
    # A street keeps both kinds.
    street = district.unit("古南街道")
    assert operations.register_enterprise(_data(codes, "cultivated"), street, office).id


def test_the_office_cannot_transfer_a_cultivated_enterprise_to_a_department(
        district, department, codes, make_user, make_enterprise, freeze):
    freeze("2024-04-01T09:00")
    office = make_user("office")
    street = district.unit("古南街道")
    cultivated = make_enterprise(street, source="cultivated", tech_in_library_on=date(2024, 1, 5))
    claim = operations.open_claim(cultivated, department, office, reason="我局招引")
    db.session.commit()
    with pytest.raises(operations.EnterpriseError, match="部门只计新招引企业"):
        operations.decide_claim(claim, "transfer", "核实", office, version=claim.version_id)
    db.session.rollback()
    assert db.session.get(Enterprise, cultivated.id).unit_id == street.id
    claim = db.session.get(ClaimConflict, claim.id)
    operations.decide_claim(claim, "keep", "由街道培育", office, version=claim.version_id)
    db.session.commit()


def test_the_form_shows_the_refusal(client, login, make_user, department, codes, freeze):
    freeze("2024-04-01T09:00")
    login(make_user("office"))
    response = client.post("/enterprises/new", data={
        "unit_id": department.id, "name": "重庆培育科技有限公司", "credit_code": codes(),
        "source": "cultivated", "tech_in_library_on": "2024-02-01", "status": "active"})
    assert response.status_code == 200
    assert "部门只计新招引企业" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0


def test_a_department_import_marks_non_attracted_rows_invalid(
        client, login, make_user, department, codes, make_xlsx, freeze):
    freeze("2024-04-01T09:00")
    login(make_user("office"))
    content = make_xlsx([
        ["重庆甲科技有限公司", codes(), "招引", "2024-01-10", None, None, "否"],
        ["重庆乙科技有限公司", codes(), "培育", "2024-01-10", None, None, "否"],
    ])
    response = client.post("/enterprises/import", data={
        "unit_id": department.id, "file": (io.BytesIO(content), "名单.xlsx")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    from taskflow.enterprises.models import EnterpriseImportRow

    rows = db.session.scalars(select(EnterpriseImportRow).order_by(
        EnterpriseImportRow.row_number)).all()
    assert [r.outcome for r in rows] == ["new", "invalid"]
    assert "部门只计新招引企业" in rows[1].message
    batch = db.session.scalar(select(importer.EnterpriseImport))
    with pytest.raises(importer.FileRefused):
        importer.confirm(batch, None)


def test_the_demo_register_attributes_only_attracted_enterprises_to_departments(
        imported_plans, freeze):
    freeze("2026-12-01T09:00")
    generate_demo_register(imported_plans, seed=2023)
    db.session.commit()
    sources = dict(db.session.execute(
        select(Enterprise.source, func.count()).join(Unit, Enterprise.unit_id == Unit.id)
        .where(Unit.kind == "department").group_by(Enterprise.source)).all())
    assert sources and set(sources) == {"attracted"}
    # Streets and towns still have cultivated enterprises.
    assert db.session.scalar(
        select(func.count()).select_from(Enterprise).join(Unit, Enterprise.unit_id == Unit.id)
        .where(Unit.kind.in_(("street", "town")), Enterprise.source == "cultivated")) > 100
