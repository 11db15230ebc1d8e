"""The exports as printed: converted to PDF by LibreOffice (headless), pages counted with pdfinfo
and read with pdftotext. Skipped where soffice is missing, except in CI (CI=true), where the
test set-up installs it (make libreoffice)."""

import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from taskflow.enterprises import operations
from taskflow.extensions import db

TOOLS = ("soffice", "pdfinfo", "pdftotext")
pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS) and os.environ.get("CI") != "true",
    reason="LibreOffice or poppler-utils not installed (make libreoffice)")


def to_pdf(tmp_path: Path, name: str, content: bytes) -> Path:
    source = tmp_path / name
    source.write_bytes(content)
    profile = tmp_path / "lo-profile"  # a private profile: parallel conversions do not collide
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    pdf = source.with_suffix(".pdf")
    assert pdf.is_file()
    return pdf


def pdf_info(pdf: Path) -> dict:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                         text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    width, height = map(float, re.search(r"^Page size:\s+([\d.]+) x ([\d.]+)", out, re.M).groups())
    return {"pages": pages, "width": width, "height": height}


def page_texts(pdf: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    return [page for page in out.split("\f") if page.strip()]


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
