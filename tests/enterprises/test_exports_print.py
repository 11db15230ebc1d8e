"""The exports as printed: converted to PDF by LibreOffice (headless), pages counted with pdfinfo
and read with pdftotext (tests/printing.py)."""

from datetime import date

from taskflow.enterprises import operations
from taskflow.extensions import db
from tests.printing import needs_office, page_texts, pdf_info, to_pdf

pytestmark = needs_office


def test_the_dispatch_export_of_a_month_prints_on_one_landscape_a4_page(
        client, login, make_user, district, make_enterprise, freeze, tmp_path):
    freeze("2024-04-10T09:00")
    make_enterprise(district.unit("古南街道"), tech_in_library_on=date(2024, 2, 1))
    office = make_user("office")
    period = operations.open_month("2024-03", office)
    db.session.commit()
    login(office)
    response = client.get(f"/dispatch/{period.id}/export.xlsx")
    pdf = to_pdf(tmp_path, "dispatch.xlsx", response.data)
    info = pdf_info(pdf)
    # Landscape A4 (842 × 595 pt), and the whole table on one page: every column is there,
    # from the first (单位名称) to the last (备注), with the title, the as-of line and the total.
    assert (round(info["width"]), round(info["height"])) == (842, 595)
    assert info["pages"] == 1
    text = page_texts(pdf)[0]
    for expected in ("月调度表 2024-03", "数据截至 2024-03-31", "制表单位", "单位名称", "备注",
                     "逾期", "全区合计", "古南街道", "文龙街道"):
        assert expected in text, expected


def test_a_long_register_repeats_its_header_on_every_page(
        client, login, make_user, district, make_enterprise, freeze, tmp_path):
    freeze("2024-04-10T09:00")
    unit = district.unit("古南街道")
    for i in range(120):
        make_enterprise(unit, name=f"重庆电子信息新能源汽车产业发展有限公司第{i:03d}分公司",
                        tech_in_library_on=date(2023, 1, 1))
    login(make_user("office"))
    pdf = to_pdf(tmp_path, "register.xlsx", client.get("/enterprises/export.xlsx").data)
    info = pdf_info(pdf)
    assert (round(info["width"]), round(info["height"])) == (842, 595)
    pages = page_texts(pdf)
    assert info["pages"] == len(pages) >= 2
    # One page wide: each page carries the header's first and last columns (the header row
    # repeats), and no name is cut.
    for page in pages:
        assert "企业名称" in page and "状态" in page
    whole = "".join(pages)
    assert whole.count("产业发展有限公司第") == 120
    assert "第119分公司" in whole and "合计 120 家" in whole
