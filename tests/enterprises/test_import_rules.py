"""One validation for the register: a row the form refuses is refused by the Excel import with
the same message, and an imported workbook passes the same archive check as any upload."""

import html
import io
import zipfile
from datetime import date

import pytest
from sqlalchemy import func, select

from taskflow.core import uploads
from taskflow.enterprises import importer, operations
from taskflow.enterprises.models import Enterprise, EnterpriseImport, EnterpriseImportRow
from taskflow.extensions import db


def _form(code, **extra):
    data = {"name": "重庆綦江恒达机械有限公司", "credit_code": code, "source": "cultivated",
            "tech_in_library_on": "2023-04-01", "tech_removed_on": "", "high_tech_cert_no": "",
            "high_tech_cert_on": "", "status": "active", "closed_on": ""}
    return data | extra


def _upload(client, content, unit, name="名单.xlsx"):
    return client.post("/enterprises/import", data={
        "unit_id": unit.id, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data")


def _row_messages():
    return dict(db.session.execute(select(EnterpriseImportRow.row_number,
                                          EnterpriseImportRow.message)).all())


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("form_fields", "cells"), [
    # A certificate number without its date.
    ({"high_tech_cert_no": "GR202351100001"}, ["2023-04-01", "GR202351100001", None]),
    # A date in the future.
    ({"tech_in_library_on": "2099-01-01"}, ["2099-01-01", None, None]),
])
def test_a_new_row_the_form_refuses_is_refused_by_the_import_with_the_same_message(
        client, login, make_user, district, codes, make_xlsx, form_fields, cells):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    page = client.post("/enterprises/new", data=_form(codes(), unit_id=unit.id, **form_fields))
    assert page.status_code == 200 and _count(Enterprise) == 0
    response = _upload(client, make_xlsx([["重庆綦江恒达机械有限公司", codes(), "培育", *cells,
                                           "否"]]), unit)
    assert response.status_code == 302
    message = _row_messages()[2]
    assert message and html.escape(message) in page.get_data(as_text=True)
    assert db.session.scalar(select(EnterpriseImport.counts))["invalid"] == 1


def test_an_edit_the_form_refuses_is_refused_by_the_import_with_the_same_message(
        client, login, make_user, district, make_enterprise, make_xlsx):
    """The import checks the row as the register will hold it (its other fields included), as
    the edit form does: here an in-library date after the recorded removal from the library."""
    unit = district.unit("古南街道")
    enterprise = make_enterprise(unit, name="重庆老企业有限公司", source="cultivated",
                                 tech_in_library_on=date(2021, 1, 1),
                                 tech_removed_on=date(2022, 1, 1))
    login(make_user("reporter", unit=unit))
    data = _form(enterprise.credit_code, unit_id=unit.id, tech_in_library_on="2023-01-01",
                 tech_removed_on="2022-01-01", version=enterprise.version_id)
    page = client.post(f"/enterprises/{enterprise.id}/edit", data=data)
    assert page.status_code == 200
    db.session.refresh(enterprise)
    assert enterprise.tech_in_library_on == date(2021, 1, 1)
    response = _upload(client, make_xlsx([["重庆老企业有限公司", enterprise.credit_code, "培育",
                                           "2023-01-01", None, None, None]]), unit)
    assert response.status_code == 302
    message = _row_messages()[2]
    assert message == operations.data_problems({
        "name": "x", "source": "cultivated", "tech_in_library_on": date(2023, 1, 1),
        "tech_removed_on": date(2022, 1, 1)})[0]
    assert html.escape(message) in page.get_data(as_text=True)
    # The preview blocks the confirmation: the register keeps its value.
    token = response.headers["Location"].rsplit("/", 1)[1]
    client.post(f"/enterprises/import/{token}/confirm")
    db.session.refresh(enterprise)
    assert enterprise.tech_in_library_on == date(2021, 1, 1)


def test_the_batch_operations_refuse_what_the_single_ones_refuse(app, district, codes):
    """register_enterprises/update_enterprises (the import's write path) apply the same checks
    as register_enterprise/update_enterprise (the form's)."""
    unit = district.unit("古南街道")
    bad = {"name": "重庆坏企业有限公司", "credit_code": codes(), "source": "cultivated",
           "high_tech_cert_no": "GR1", "high_tech_cert_on": None}
    with pytest.raises(operations.EnterpriseError) as single:
        operations.register_enterprise(bad, unit, None)
    with pytest.raises(operations.EnterpriseError) as batch:
        operations.register_enterprises([bad], unit, None, note="")
    assert str(batch.value) == str(single.value)
    assert _count(Enterprise) == 0


def _with_part(content: bytes, name: str, data: bytes = b"x") -> bytes:
    """The workbook with one more part."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(name, data)
    return out.getvalue()


class _Upload:
    def __init__(self, content: bytes, filename: str):
        self.stream, self.filename = io.BytesIO(content), filename


@pytest.mark.parametrize("part", ["xl/vbaProject.bin", "../outside.xml",
                                  "xl/externalLinks/externalLink1.xml"])
def test_an_imported_workbook_passes_the_same_archive_check_as_any_upload(
        app, client, login, make_user, district, codes, make_xlsx, tmp_path, part):
    unit = district.unit("古南街道")
    content = _with_part(make_xlsx([["重庆新企业有限公司", codes(), "培育", None, None, None,
                                     None]]), part)
    path = tmp_path / "list.xlsx"
    path.write_bytes(content)
    with app.test_request_context():
        with pytest.raises(uploads.UploadRejected) as as_evidence:
            uploads.validate_upload(_Upload(content, "list.xlsx"))
        with pytest.raises(importer.FileRefused) as as_import:
            importer.check_archive(path)
        assert str(as_import.value) == str(as_evidence.value)
        expected = str(as_evidence.value)
    login(make_user("reporter", unit=unit))
    page = _upload(client, content, unit)
    assert page.status_code == 200
    assert html.escape(expected) in page.get_data(as_text=True)
    assert _count(EnterpriseImport) == 0
