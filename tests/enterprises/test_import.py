"""Excel import: template, preview row by row, nothing written before confirming, atomic confirm."""

import io
import zipfile
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import func, select

from taskflow.enterprises import importer
from taskflow.enterprises.models import (
    ClaimConflict,
    Enterprise,
    EnterpriseImport,
    EnterpriseImportRow,
)
from taskflow.extensions import db


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def _upload(client, content, unit, name="名单.xlsx"):
    return client.post("/enterprises/import", data={
        "unit_id": unit.id, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data")


def test_template_downloads_with_the_expected_header(client, login, make_user, district):
    login(make_user("reporter", unit=district.unit("古南街道")))
    response = client.get("/enterprises/import/template.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["企业名称", "统一社会信用代码"]
    example_code = sheet.cell(row=2, column=2).value
    assert importer.creditcode.is_valid(example_code)


def test_preview_classifies_every_row_and_writes_nothing(
        client, login, make_user, district, make_enterprise, codes, make_xlsx):
    mine, other = district.unit("古南街道"), district.unit("文龙街道")
    own = make_enterprise(mine, name="重庆老企业有限公司", tech_in_library_on=date(2021, 1, 1))
    foreign = make_enterprise(other, name="重庆别家企业有限公司")
    new_code, dup_code = codes(), codes()
    rows = [
        ["重庆新企业有限公司", new_code, "培育", "2023-03-01", None, None, "否"],
        ["重庆老企业有限公司", own.credit_code, "存量", "2021-01-01", "GR202351100001",
         date(2023, 10, 1), "是"],
        ["重庆别家企业有限公司", foreign.credit_code, "招引", None, None, None, None],
        ["重庆错码企业有限公司", "91350100M000100Y44", "培育", None, None, None, None],
        ["重庆坏日期企业有限公司", codes(), "培育", "2023-13-45", None, None, None],
        ["", codes(), "培育", None, None, None, None],
        ["重庆来源错企业有限公司", codes(), "外地", None, None, None, None],
        ["重庆重复一有限公司", dup_code, "培育", None, None, None, None],
        ["重庆重复二有限公司", dup_code, "培育", None, None, None, None],
        ["重庆无日期证书有限公司", codes(), "培育", None, "GR2023", None, None],
        [None, None, None, None, None, None, None],  # blank rows are skipped
    ]
    login(make_user("reporter", unit=mine))
    before = (_count(Enterprise), _count(ClaimConflict))
    response = _upload(client, make_xlsx(rows), mine)
    assert response.status_code == 302
    batch = db.session.scalar(select(EnterpriseImport))
    assert batch.counts == {"new": 2, "changed": 1, "unchanged": 0, "conflict": 1, "invalid": 6}
    assert (_count(Enterprise), _count(ClaimConflict)) == before
    outcomes = dict(db.session.execute(select(EnterpriseImportRow.row_number,
                                              EnterpriseImportRow.outcome)).all())
    assert outcomes == {2: "new", 3: "changed", 4: "conflict", 5: "invalid", 6: "invalid",
                        7: "invalid", 8: "invalid", 9: "new", 10: "invalid", 11: "invalid"}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    for text in ("应为 3", "不是日期", "企业名称为空", "外地", "第 9 行", "文龙街道",
                 "证书编号和认定日期"):
        assert text in page, text
    # Invalid rows block the confirmation: still nothing written.
    confirm = client.post(f"/enterprises/import/{batch.token}/confirm", follow_redirects=True)
    assert "重新上传" in confirm.get_data(as_text=True)
    assert (_count(Enterprise), _count(ClaimConflict)) == before


def test_confirm_applies_new_changed_and_claims_atomically(
        client, login, make_user, district, make_enterprise, codes, make_xlsx):
    mine, other = district.unit("古南街道"), district.unit("文龙街道")
    own = make_enterprise(mine, name="重庆老企业有限公司", tech_in_library_on=date(2021, 1, 1),
                          high_tech_cert_no="GR202051100001", high_tech_cert_on=date(2020, 11, 1))
    foreign = make_enterprise(other, name="重庆别家企业有限公司")
    new_code = codes()
    rows = [
        ["重庆新企业有限公司", new_code, "招引", "2023-03-01", "GR202351109999", "2023-11-02",
         "是"],
        ["重庆老企业有限公司", own.credit_code, "存量", None, "GR202351100001", "2023-10-20", None],
        ["重庆别家企业有限公司", foreign.credit_code, "招引", None, None, None, None],
    ]
    reporter = make_user("reporter", unit=mine)
    login(reporter)
    token = _upload(client, make_xlsx(rows), mine).headers["Location"].rsplit("/", 1)[1]
    response = client.post(f"/enterprises/import/{token}/confirm")
    assert response.status_code == 302
    new = db.session.scalar(select(Enterprise).where(Enterprise.credit_code == new_code))
    assert new.unit_id == mine.id and new.source == "attracted" and new.specialised_sme
    assert new.high_tech_expires_on == date(2026, 11, 2)
    assert new.high_tech_first_on == date(2023, 11, 2)
    db.session.refresh(own)
    assert own.high_tech_cert_on == date(2023, 10, 20)
    assert own.high_tech_first_on == date(2020, 11, 1)  # a re-review keeps the status continuous
    assert own.tech_in_library_on == date(2021, 1, 1)  # an empty cell keeps the register's value
    assert own.version_id == 2
    claim = db.session.scalar(select(ClaimConflict))
    assert claim.enterprise_id == foreign.id and claim.claimant_unit_id == mine.id
    assert db.session.get(Enterprise, foreign.id).unit_id == other.id
    assert db.session.get(EnterpriseImport, 1).state == "confirmed"
    # A second confirmation is refused.
    again = client.post(f"/enterprises/import/{token}/confirm", follow_redirects=True)
    assert _count(Enterprise) == 3 and _count(ClaimConflict) == 1
    assert again.status_code == 200


def test_confirm_revalidates_and_refreshes_when_the_register_changed(
        client, login, make_user, district, make_enterprise, codes, make_xlsx):
    mine, other = district.unit("古南街道"), district.unit("文龙街道")
    code = codes()
    login(make_user("reporter", unit=mine))
    token = _upload(client, make_xlsx([["重庆抢先企业有限公司", code, "培育", None, None, None,
                                        None]]), mine).headers["Location"].rsplit("/", 1)[1]
    # Meanwhile another unit registers the same code.
    make_enterprise(other, name="重庆抢先企业有限公司", credit_code=code)
    page = client.post(f"/enterprises/import/{token}/confirm",
                       follow_redirects=True).get_data(as_text=True)
    assert "预览后" in page
    assert _count(Enterprise) == 1 and _count(ClaimConflict) == 0
    assert db.session.scalar(select(EnterpriseImportRow.outcome)) == "conflict"
    client.post(f"/enterprises/import/{token}/confirm")
    assert _count(Enterprise) == 1 and _count(ClaimConflict) == 1


def _zip_bytes(names):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return buffer.getvalue()


def test_files_that_are_not_usable_excel_get_a_clear_message(
        client, login, make_user, district, app, make_xlsx):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    cases = [
        (b"name,code\n\xe4\xb8\xad,1\n", "名单.xlsx", "不是 Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "名单.xls", ".xls"),
        (_zip_bytes(["a.txt"]), "名单.xlsx", "不是 Excel"),
        (b"", "名单.xlsx", "文件为空"),
        (make_xlsx([["a", "b"]], header=["名称", "代码"]), "名单.xlsx", "统一社会信用代码"),
        (make_xlsx([], header=None), "名单.xlsx", "为空"),
        (make_xlsx([]), "名单.xlsx", "没有企业"),
    ]
    for content, name, expected in cases:
        page = _upload(client, content, unit, name=name)
        assert page.status_code == 200, expected
        assert expected in page.get_data(as_text=True), expected
    app.config["ENTERPRISE_IMPORT_MAX_MB"] = 1
    page = _upload(client, b"PK\x03\x04" + b"\0" * (1024 * 1024 + 10), unit)
    assert "最多" in page.get_data(as_text=True) and "1 MB" in page.get_data(as_text=True)
    assert _count(Enterprise) == 0 and _count(EnterpriseImport) == 0
    assert not list((app.config["DATA_DIR"] / "imports").glob("*"))  # temp copies removed


def test_a_staged_import_belongs_to_its_uploader(client, login, make_user, district, codes,
                                                 make_xlsx):
    unit = district.unit("古南街道")
    first = make_user("reporter", unit=unit)
    login(first)
    token = _upload(client, make_xlsx([["重庆甲有限公司", codes(), "培育", None, None, None,
                                        None]]), unit).headers["Location"].rsplit("/", 1)[1]
    client.post("/logout")
    login(make_user("reporter", unit=unit))
    assert client.get(f"/enterprises/import/{token}").status_code == 404
    assert client.post(f"/enterprises/import/{token}/confirm").status_code == 404
    assert _count(Enterprise) == 0


def test_discard_drops_the_staged_rows(client, login, make_user, district, codes, make_xlsx):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    token = _upload(client, make_xlsx([["重庆甲有限公司", codes(), "培育", None, None, None,
                                        None]]), unit).headers["Location"].rsplit("/", 1)[1]
    client.post(f"/enterprises/import/{token}/discard")
    assert _count(EnterpriseImportRow) == 0 and _count(Enterprise) == 0
    assert db.session.scalar(select(EnterpriseImport.state)) == "discarded"


def test_a_reporter_always_imports_into_its_own_unit(client, login, make_user, district, codes,
                                                      make_xlsx):
    own = district.unit("古南街道")
    login(make_user("reporter", unit=own))
    _upload(client, make_xlsx([["x", codes(), "培育"]]), district.unit("文龙街道"))
    assert db.session.scalar(select(EnterpriseImport.unit_id)) == own.id


def test_cli_import_shows_progress_and_writes_with_yes(runner, district, codes, tmp_path,
                                                       make_xlsx):
    path = tmp_path / "list.xlsx"
    path.write_bytes(make_xlsx([[f"重庆企业{i}有限公司", codes(), "培育", "2023-01-05", None,
                                 None, None] for i in range(30)]))
    result = runner.invoke(args=["enterprises", "import", str(path), "--unit", "古南街道", "--yes"])
    assert result.exit_code == 0, result.output
    assert "new: 30" in result.output and "imported" in result.output
    assert _count(Enterprise) == 30
    result = runner.invoke(args=["enterprises", "import", str(path), "--unit", "没有这个单位"])
    assert result.exit_code != 0 and "没有这个单位" in result.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(make_xlsx([["x", "123", "培育"]]))
    result = runner.invoke(args=["enterprises", "import", str(bad), "--unit", "古南街道", "--yes"])
    assert result.exit_code != 0 and "nothing was imported" in result.output
    assert _count(Enterprise) == 30
