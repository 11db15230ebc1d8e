"""Hostile and heavy Excel imports (issue 12, A.1): refused at the first limit in bounded memory,
and a long parse never holds the database's write lock against other units."""

import http.cookiejar
import io
import random
import re
import resource
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from taskflow.assignments.models import StatusUpdate
from taskflow.enterprises import creditcode, importer
from taskflow.enterprises.models import Enterprise, EnterpriseImport, EnterpriseImportRow
from taskflow.extensions import db
from tests.helpers import TEST_PASSWORD

HEADER = [zh for _key, zh, _en, _required in importer.COLUMNS]

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
    '+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
SHEET_START = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
               'openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_END = "</sheetData></worksheet>"


def _text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def _header_row() -> str:
    return '<row r="1">' + "".join(_text_cell(f"{chr(65 + i)}1", title)
                                   for i, title in enumerate(HEADER)) + "</row>"


def workbook(sheet_chunks, shared_strings=()) -> bytes:
    """An .xlsx written part by part: the sheet XML is streamed from `sheet_chunks` (str) through
    deflate, so a test builds a huge sheet without holding it in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                       b'openxmlformats.org/spreadsheetml/2006/main">')
            for chunk in shared_strings:
                part.write(chunk.encode("utf-8"))
            part.write(b"</sst>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(SHEET_START.encode())
            for chunk in sheet_chunks:
                part.write(chunk.encode("utf-8"))
            part.write(SHEET_END.encode())
    return buffer.getvalue()


def one_huge_row(cells: int, block: int = 250):
    """The attack: the template's header, then one row of `cells` cells (no references, values
    varying within a block that repeats: deflate packs ~16 bytes a cell into well under 1)."""
    yield _header_row()
    yield '<row r="2">'
    pattern = "".join(f"<c><v>{i * 7919 % 100_000}</v></c>" for i in range(block))
    for _ in range(cells // block):
        yield pattern
    yield "</row>"


def enterprise_rows(count: int, *, seed: int = 5):
    """The header and `count` valid rows of a unit's list."""
    yield _header_row()
    for number, code in enumerate(creditcode.generate_unique(count, seed=seed), start=2):
        yield (f'<row r="{number}">' + _text_cell(f"A{number}", f"重庆企业{number}有限公司")
               + _text_cell(f"B{number}", code) + _text_cell(f"C{number}", "培育") + "</row>")


def _varied_text(seed: int, length: int) -> str:
    """Chinese text that does not compress much (so the ratio limit is not what refuses it)."""
    rng = random.Random(seed)
    return "".join(chr(0x4E00 + rng.randrange(20_000)) for _ in range(length))


def _upload(client, content, unit):
    return client.post("/enterprises/import", data={
        "unit_id": unit.id, "file": (io.BytesIO(content), "名单.xlsx")},
        content_type="multipart/form-data")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------- the crafted file


@pytest.fixture(scope="module")
def crafted() -> bytes:
    """One row of 4,000,000 cells, about 0.9 MB once compressed."""
    return workbook(one_huge_row(4_000_000))


def _refused_in_bounded_memory(client, unit, content):
    peak_before = _peak_rss_mb()
    page = _upload(client, content, unit)
    growth = _peak_rss_mb() - peak_before
    assert page.status_code == 200
    assert growth < 100, f"peak memory grew by {growth:.0f} MB"
    assert _count(EnterpriseImport) == 0 and _count(EnterpriseImportRow) == 0
    return page.get_data(as_text=True)


def test_a_row_of_four_million_cells_is_refused_fast_in_bounded_memory(
        client, login, make_user, district, crafted, app):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    assert len(crafted) < 1_500_000
    text = _refused_in_bounded_memory(client, unit, crafted)
    assert "超出第 100 列" in text  # the limit of columns, named
    assert not list((app.config["DATA_DIR"] / "imports").iterdir())


def test_a_part_compressed_beyond_the_ratio_is_refused_before_reading(
        client, login, make_user, district, app):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    uniform = workbook(["<row r=\"2\">", "<c><v>1</v></c>" * 2_000_000, "</row>"])
    text = _refused_in_bounded_memory(client, unit, uniform)
    assert "压缩比超过 100:1" in text


@pytest.mark.parametrize(("setting", "value", "content", "expected"), [
    # A value beyond the last allowed column (from the cell's reference).
    ("IMPORT_MAX_COLUMNS", 10, lambda: workbook([_header_row(), '<row r="2">',
                                                 _text_cell("K2", "x"), "</row>"]),
     "超出第 10 列"),
    ("ENTERPRISE_IMPORT_MAX_ROWS", 5, lambda: workbook(enterprise_rows(6)), "超过 5 行"),
    ("IMPORT_MAX_CELLS", 100, lambda: workbook(
        [_header_row()] + [f'<row r="{n}"><c r="A{n}" s="1"/></row>' for n in range(2, 200)]),
     "超过 100 个单元格"),
    ("IMPORT_MAX_ROW_ELEMENTS", 50, lambda: workbook(
        [_header_row()] + [f'<row r="{n}"/>' for n in range(2, 100)]), "超过 50 行（含空行"),
    ("IMPORT_MAX_SHARED_STRINGS", 10, lambda: workbook(
        [_header_row()], [f"<si><t>{i}</t></si>" for i in range(11)]), "超过 10 个不同的文本"),
    ("IMPORT_MAX_SHARED_STRINGS_MB", 1, lambda: workbook(
        [_header_row()], [f"<si><t>{_varied_text(i, 30_000)}</t></si>" for i in range(13)]),
     "超过 1 MB"),
])
def test_each_reading_limit_refuses_with_a_message_naming_it(
        client, login, make_user, district, app, setting, value, content, expected):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    app.config[setting] = value
    text = _refused_in_bounded_memory(client, unit, content())
    assert expected in text, text[-3000:]


def test_a_cell_longer_than_excel_allows_and_an_entity_bomb_are_refused(
        client, login, make_user, district):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    long_cell = workbook([_header_row(), '<row r="2">', _text_cell("A2", "长" * 40_000),
                          "</row>"])
    assert "32767 个字符" in _refused_in_bounded_memory(client, unit, long_cell)
    laughs = workbook([_header_row()])  # a valid workbook to tamper with
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(laughs)) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/sharedStrings.xml":
                data = (b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
                        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><sst><si><t>&b;</t>'
                        b'</si></sst>')
            target.writestr(info.filename, data)
    text = _refused_in_bounded_memory(client, unit, buffer.getvalue())
    assert "无法读取" in text
    bad_reference = workbook([_header_row(), '<row r="2">', _text_cell("12", "x"), "</row>"])
    assert "无法读取" in _refused_in_bounded_memory(client, unit, bad_reference)


def test_a_valid_list_written_by_another_tool_still_imports(client, login, make_user, district):
    unit = district.unit("古南街道")
    login(make_user("reporter", unit=unit))
    response = _upload(client, workbook(enterprise_rows(40)), unit)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    batch = db.session.scalar(select(EnterpriseImport))
    assert batch.counts["new"] == 40 and _count(EnterpriseImportRow) == 40


# ---------------------------------------------------------------- no write lock while parsing


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A signed-in HTTP client of the real server: cookies, the form's CSRF token, no redirects."""

    def __init__(self, base_url: str, user):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)
        status = self.post_form("/login", {"username": user.username, "password": TEST_PASSWORD})
        assert status == 302, status

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=300) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:  # a 302 (not followed) or an error page
            return exc.code, exc.read().decode("utf-8", "replace")

    def csrf(self, path: str) -> str:
        status, page = self._open(urllib.request.Request(self.base_url + path))
        assert status == 200, status
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def post_form(self, path: str, fields: dict, *, page: str | None = None) -> int:
        """POST a form as the page holding it (`page`, default `path`) would."""
        token = self.csrf(page or path)
        body = urllib.parse.urlencode({"csrf_token": token, **fields}).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=body))[0]

    def post_file(self, path: str, fields: dict, name: str, content: bytes) -> int:
        boundary = "taskflow-test-boundary"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                 .encode() for k, v in {"csrf_token": self.csrf(path), **fields}.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + content + f"\r\n--{boundary}--\r\n".encode())
        request = urllib.request.Request(
            self.base_url + path, data=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return self._open(request)[0]


@pytest.fixture
def server(app):
    """The test's app (its SQLite file in WAL mode, or PostgreSQL) served by a real threaded
    werkzeug server, as tests/browser/conftest.py's live_server does."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_another_units_writes_go_through_while_a_large_list_is_parsed(
        app, server, make_user, district, codes, make_assignment, make_milestone):
    importing, other = district.unit("古南街道"), district.unit("文龙街道")
    uploader = make_user("reporter", unit=importing)
    writer = make_user("reporter", unit=other)
    milestone = make_milestone(assignment=make_assignment(unit=other))
    milestone_id = milestone.id
    db.session.commit()
    content = workbook(enterprise_rows(20_000))
    upload_browser, write_browser = Browser(server, uploader), Browser(server, writer)
    imports = app.config["DATA_DIR"] / "imports"
    outcome = {}
    importing_id = importing.id  # the thread has no app context to load it

    def upload():
        status = upload_browser.post_file("/enterprises/import", {"unit_id": importing_id},
                                          "名单.xlsx", content)
        outcome["upload"] = (status, time.monotonic())

    thread = threading.Thread(target=upload, name="import")
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not (imports.is_dir() and any(imports.iterdir())):  # saved: now being parsed
            assert time.monotonic() < deadline and thread.is_alive(), outcome
            time.sleep(0.01)
        code = codes()
        started = time.monotonic()
        status = write_browser.post_form("/enterprises/new", {
            "name": "重庆另一单位企业有限公司", "credit_code": code, "unit_id": other.id,
            "source": "cultivated", "tech_in_library_on": "2023-04-01", "tech_removed_on": "",
            "high_tech_cert_no": "", "high_tech_cert_on": "", "status": "active",
            "closed_on": ""})
        assert status == 302
        # ... and a progress report of that unit, as in the attack.
        status = write_browser.post_form(f"/milestones/{milestone_id}/updates", {
            "progress": "60", "narrative": "完成了季度工作", "problems": "", "next_steps": ""},
            page=f"/milestones/{milestone_id}")
        finished = time.monotonic()
        assert status == 302
        # The other unit's write did not wait for the parse: the import is still running.
        assert thread.is_alive(), f"the writes waited {finished - started:.1f} s for the import"
    finally:
        thread.join(timeout=300)
    assert outcome["upload"][0] == 302
    assert outcome["upload"][1] > finished
    db.session.expire_all()
    assert db.session.scalar(select(Enterprise.unit_id).where(Enterprise.credit_code == code)) \
        == other.id
    assert _count(EnterpriseImportRow) == 20_000
    assert db.session.scalar(select(func.count()).select_from(StatusUpdate).where(
        StatusUpdate.milestone_id == milestone_id)) == 1


def test_the_right_to_import_is_checked_again_after_the_parse(app, make_user, district, tmp_path):
    """The parse runs outside any transaction: a reporter moved to another unit meanwhile (by
    the office, in another session) stages nothing."""
    from werkzeug.exceptions import Forbidden

    from taskflow.accounts.models import User

    unit, other = district.unit("古南街道"), district.unit("文龙街道")
    reporter = make_user("reporter", unit=unit)
    db.session.commit()
    path = tmp_path / "list.xlsx"
    path.write_bytes(workbook(enterprise_rows(600)))
    moved = []

    def office_moves_the_reporter(_rows):
        if not moved:
            with app.app_context():  # another session, as another request would have
                db.session.get(User, reporter.id).unit_id = other.id
                db.session.commit()
            moved.append(True)

    with pytest.raises(Forbidden):
        importer.stage(path, "list.xlsx", unit, reporter, progress=office_moves_the_reporter)
    db.session.rollback()
    assert moved and _count(EnterpriseImport) == 0 and _count(EnterpriseImportRow) == 0


def test_the_bounded_reader_reads_what_openpyxl_reads(tmp_path):
    """Dates (built-in and custom formats, 1900 and 1904 calendars), numbers, booleans, shared
    and rich text, formulas without a cached value, gaps: the same values as openpyxl's."""
    from datetime import date, datetime

    from openpyxl import Workbook, load_workbook
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    from taskflow.core.spreadsheets import read_sheet

    for epoch_1904 in (False, True):
        book = Workbook()
        if epoch_1904:
            book.epoch = __import__("openpyxl").utils.datetime.CALENDAR_MAC_1904
        sheet = book.active
        sheet.append(HEADER)
        sheet.append(["重庆甲有限公司", "91500222MA5U000000", "培育", date(2023, 5, 10),
                      "GR202351100123", datetime(2023, 11, 20, 0, 0), "是"])
        sheet.append([CellRichText("重庆", TextBlock(InlineFont(b=True), "乙"), "有限公司"),
                      12345, 1.5, True, "=1+1", None, "  空格  "])
        sheet["D3"].number_format = "yyyy年m月d日"
        sheet["D3"] = 45000
        sheet.cell(row=7, column=12, value="far")
        path = tmp_path / f"book{int(epoch_1904)}.xlsx"
        book.save(path)
        expected = []
        reference = load_workbook(path, read_only=True, data_only=True, rich_text=False)
        for number, row in enumerate(reference.worksheets[0].iter_rows(values_only=True), 1):
            values = list(row)
            while values and values[-1] is None:
                values.pop()
            if values:
                expected.append((number, values))
        reference.close()
        assert list(read_sheet(path)) == expected


def test_the_cli_keeps_the_preview_while_asking_and_discards_it_on_no(
        runner, district, codes, tmp_path, make_xlsx):
    """No write lock is held while a person reads the question: the preview is committed first,
    and answering no discards it (the register is untouched either way)."""
    path = tmp_path / "list.xlsx"
    path.write_bytes(make_xlsx([["重庆甲有限公司", codes(), "培育"]]))
    result = runner.invoke(args=["enterprises", "import", str(path), "--unit", "古南街道"],
                           input="n\n")
    assert result.exit_code == 0, result.output
    assert "nothing was written" in result.output
    assert _count(Enterprise) == 0 and _count(EnterpriseImportRow) == 0
    assert db.session.scalar(select(EnterpriseImport.state)) == "discarded"
    result = runner.invoke(args=["enterprises", "import", str(path), "--unit", "古南街道"],
                           input="y\n")
    assert result.exit_code == 0, result.output
    assert _count(Enterprise) == 1
