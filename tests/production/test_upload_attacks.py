"""Upload attacks through the real status-update route, as a signed-in reporter.

Each attack must be refused with a message on the form (or a 413 for a body beyond the request
limit), and leave nothing behind: no status update, no evidence row, no audit event, no file
under DATA_DIR/evidence (temp files included), and the milestone still open.
"""

import io
import re
import struct
import zipfile
from html import escape
from io import BytesIO

import pytest
from sqlalchemy import func, select

from taskflow.assignments.models import Evidence, Milestone, StatusUpdate
from taskflow.audit.models import AuditEvent
from taskflow.core.uploads import UploadRejected, validate_upload
from taskflow.extensions import db

PE_STUB = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44
           + b"\x80\x00\x00\x00" + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21"
           + b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 200)


def _zip(entries: dict[str, bytes], level: int = 9) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _overlapping_bomb() -> bytes:
    """Two central-directory entries pointing at the same compressed data (the overlap trick
    behind non-recursive bombs): the second entry's local-header offset is patched to 0."""
    data = bytearray(_zip({"a.txt": b"A" * 1000, "b.txt": b"B" * 1000}))
    eocd = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", data[eocd + 16:eocd + 20])[0]
    first_len = struct.unpack("<HHH", data[cd_offset + 28:cd_offset + 34])
    second = cd_offset + 46 + sum(first_len)
    assert data[second:second + 4] == b"PK\x01\x02"
    data[second + 42:second + 46] = struct.pack("<I", 0)
    return bytes(data)


def _nested_bomb() -> bytes:
    """A zip of zips, each inner one a high-ratio bomb (the 42.zip pattern, scaled down)."""
    inner = _zip({"zeros.bin": b"\x00" * (8 * 1024 * 1024)})
    return _zip({f"layer{i}.zip": inner for i in range(8)}, level=0)


def _polyglot(pdf: bytes) -> bytes:
    """A PDF whose body carries a ZIP (with a program in it) that zip readers open: the PDF
    still ends with %%EOF, so it looks like a valid document to a PDF reader."""
    payload = _zip({"readme.txt": b"hello", "setup.exe": PE_STUB})
    return pdf + payload + b"\n%%EOF\n"


@pytest.fixture
def reporter(reporting_world, signed_in):
    return signed_in(reporting_world.users.reporter)


@pytest.fixture
def submit(reporter, prod):
    def do_submit(milestone_id, files, narrative="本季度完成情况"):
        data = {"progress": "50", "narrative": narrative, "problems": "", "next_steps": "",
                "files": [(BytesIO(content), name) for name, content in files]}
        response = reporter.post(f"/milestones/{milestone_id}/updates", data=data,
                                 content_type="multipart/form-data")
        prod.fresh()
        return response

    return do_submit


def _nothing_written(app, milestone_id, prod):
    counts = prod.row_counts(StatusUpdate, Evidence)
    assert counts == {"StatusUpdate": 0, "Evidence": 0}
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action.like("status_update.%"))) == 0
    assert db.session.get(Milestone, milestone_id).state == "pending"
    assert prod.evidence_files(app) == []


def _expected_rejection(app, name: str, content: bytes) -> UploadRejected:
    """What the validator says about this file, in the page's language (zh_CN)."""
    from werkzeug.datastructures import FileStorage

    with app.test_request_context("/"):
        with pytest.raises(UploadRejected) as caught:
            validate_upload(FileStorage(BytesIO(content), filename=name))
        caught.value.text = str(caught.value.message)
    return caught.value


ATTACKS = {
    # renamed Windows program, with and without a PDF-looking name
    "exe_renamed_pdf": ("年度总结.pdf", lambda pdf: PE_STUB, "dangerous"),
    "exe_renamed_jpg": ("现场照片.jpg", lambda pdf: PE_STUB, "dangerous"),
    "exe_double_extension": ("年度总结.pdf.exe", lambda pdf: PE_STUB, "extension"),
    "elf_renamed_docx": ("方案.docx", lambda pdf: b"\x7fELF\x02\x01\x01" + b"\x00" * 500, "dangerous"),
    "script_renamed_png": ("图.png", lambda pdf: b"#!/bin/sh\nrm -rf /\n", "dangerous"),
    "html_renamed_pdf": ("报告.pdf", lambda pdf: b"<html><script>alert(1)</script></html>",
                         "dangerous"),
    # a PDF that is also a ZIP carrying a program
    "pdf_zip_polyglot": ("证明材料.pdf", _polyglot, "polyglot"),
    # a PDF carrying a Windows program in a stream
    "pdf_with_embedded_exe": ("证明材料.pdf",
                              lambda pdf: pdf[:-6] + PE_STUB + b"\n%%EOF\n", "polyglot"),
    # zip bombs
    "zip_bomb_ratio": ("材料.zip", lambda pdf: _zip({"zeros.bin": b"\x00" * (20 * 1024 * 1024)}),
                       "zip_bomb"),
    "zip_bomb_overlap": ("材料.zip", lambda pdf: _overlapping_bomb(), "zip_bomb"),
    "zip_bomb_nested": ("材料.zip", lambda pdf: _nested_bomb(), "zip_bomb"),
    "zip_with_program": ("材料.zip", lambda pdf: _zip({"安装.exe": PE_STUB}), "zip_executable"),
    "zip_path_traversal": ("材料.zip", lambda pdf: _zip({"../../evil.pdf": pdf}), "zip_path"),
    "docx_with_macros": ("方案.docx", lambda pdf: _zip({
        "[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>",
        "word/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"}), "zip_executable"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_refused_with_a_message_and_nothing_is_written(app, reporting_world, submit,
                                                                prod, attack):
    name, build, code = ATTACKS[attack]
    content = build(prod.minimal_pdf("attack"))
    expected = _expected_rejection(app, name, content)
    assert expected.code == code

    response = submit(reporting_world.milestone.id, [(name, content)],
                      narrative="我写的说明不会丢")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = re.findall(r"data-upload-error>(.*?)</div>", page, re.S)
    assert len(errors) == 1
    assert escape(expected.text, quote=True) in errors[0] or expected.text in errors[0]
    assert "我写的说明不会丢" in page  # the text the reporter typed is kept
    _nothing_written(app, reporting_world.milestone.id, prod)


def test_a_good_file_beside_an_attack_is_not_kept_either(app, reporting_world, submit, prod):
    response = submit(reporting_world.milestone.id, [("好的.pdf", prod.minimal_pdf("ok")),
                                                     ("材料.zip", _overlapping_bomb())])
    assert response.status_code == 400
    _nothing_written(app, reporting_world.milestone.id, prod)


@pytest.mark.parametrize("raw_name", [
    "../../../etc/证明材料.pdf",
    "/var/www/html/证明材料.pdf",
    "uploads_dir/../../证明材料.pdf",
    # Windows paths as an RFC 7578 client quotes them (backslash escaped in the quoted string)
    "C:\\\\Users\\\\张三\\\\Desktop\\\\证明材料.pdf",
    "..\\\\..\\\\证明材料.pdf",
])
def test_a_path_in_the_file_name_is_dropped(app, reporting_world, submit, reporter, prod,
                                            raw_name):
    pdf = prod.minimal_pdf("path")
    response = submit(reporting_world.milestone.id, [(raw_name, pdf)])
    assert response.status_code == 302
    evidence = db.session.scalars(select(Evidence)).one()
    assert evidence.original_name == "证明材料.pdf"
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}", evidence.storage_key)
    files = prod.evidence_files(app)
    root = (app.config["DATA_DIR"] / "evidence").resolve()
    assert [p.resolve() for p in files] == [(root / evidence.storage_key).resolve()]
    assert files[0].read_bytes() == pdf
    # Nothing escaped the evidence root (the data dir holds only the store).
    assert not any(p.name == "证明材料.pdf" for p in app.config["DATA_DIR"].parent.rglob("*"))

    page = reporter.get(f"/milestones/{reporting_world.milestone.id}").get_data(as_text=True)
    assert "证明材料.pdf" in page
    for fragment in ("/etc/", "Users", "Desktop", "/var/www", "uploads_dir", "..\\", "../"):
        assert fragment not in page
    assert not re.search(r"[/\\]证明材料", page)
    download = reporter.get(f"/evidence/{evidence.id}/download")
    assert download.status_code == 200 and download.data == pdf
    disposition = download.headers["Content-Disposition"]
    assert "/" not in disposition.replace("attachment;", "") and "\\" not in disposition


def test_raw_backslashes_in_a_file_name_never_make_a_path(app, reporting_world, submit, prod):
    """Old Windows clients send C:\\...\\name unescaped; the quoted-string parser drops the
    backslashes. Whatever survives is a plain name: no separator, stored under a random key."""
    pdf = prod.minimal_pdf("raw")
    response = submit(reporting_world.milestone.id, [("C:\\Users\\张三\\证明材料.pdf", pdf)])
    assert response.status_code == 302
    evidence = db.session.scalars(select(Evidence)).one()
    assert evidence.original_name.endswith("证明材料.pdf")
    assert "/" not in evidence.original_name and "\\" not in evidence.original_name
    assert [p.name for p in prod.evidence_files(app)] == [evidence.storage_key.rsplit("/", 1)[1]]


def test_a_refused_file_is_named_without_its_path_or_bidi_tricks(app, reporting_world, submit,
                                                                  prod):
    """The refusal names the file by its safe display name, as the accepted evidence is named:
    no directories, no right-to-left override that makes “gpj.exe” read as “exe.jpg”."""
    raw = "/home/张三/桌面/发票\u202egpj.exe"
    response = submit(reporting_world.milestone.id, [(raw, PE_STUB)])
    assert response.status_code == 400
    errors = " ".join(re.findall(r"data-upload-error>(.*?)</div>", response.get_data(as_text=True),
                                 re.S))
    assert errors
    assert "\u202e" not in errors
    assert "/home" not in errors and "桌面" not in errors
    _nothing_written(app, reporting_world.milestone.id, prod)


def test_a_file_beyond_max_upload_mb_is_refused_by_the_form(app, reporting_world, submit, prod):
    app.config["MAX_UPLOAD_MB"] = 1
    pdf = prod.minimal_pdf("big")
    big = pdf[:-6] + b"%" + b"x" * (1024 * 1024 + 10) + b"\n%%EOF\n"
    response = submit(reporting_world.milestone.id, [("大文件.pdf", big)])
    assert response.status_code == 400
    errors = re.findall(r"data-upload-error>(.*?)</div>", response.get_data(as_text=True), re.S)
    assert len(errors) == 1 and "1" in errors[0]
    _nothing_written(app, reporting_world.milestone.id, prod)


def test_a_body_beyond_the_request_limit_gets_413_and_nothing_is_written(app, reporting_world,
                                                                          submit, prod):
    app.config["MAX_UPLOAD_MB"] = 1
    app.config["MAX_CONTENT_LENGTH"] = (1 + 5) * 1024 * 1024  # as config.py derives it
    pdf = prod.minimal_pdf("huge")
    huge = pdf[:-6] + b"%" + b"x" * (7 * 1024 * 1024) + b"\n%%EOF\n"
    response = submit(reporting_world.milestone.id, [("巨大.pdf", huge)])
    assert response.status_code == 413
    _nothing_written(app, reporting_world.milestone.id, prod)

