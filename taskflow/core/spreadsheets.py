"""The one helper for Excel files: print-ready reports streamed in constant memory (write_report),
with formulas never interpreted, and reading uploads row by row within limits (read_sheet,
bounded by ReadLimits)."""

import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from flask import Response
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from taskflow.core.clock import to_local

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: Any) -> Any:
    """A value Excel stores as it is (text stays text; see build_workbook for formulas)."""
    if isinstance(value, datetime):
        local = to_local(value)
        return local.replace(tzinfo=None) if local else None
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (int, float, date)):
        return value
    if isinstance(value, Decimal):
        return float(value)  # a number stays a number
    return str(value)


def build_workbook(sheets: Iterable[tuple[str, list[str], Iterable[Iterable[Any]]]]) -> bytes:
    """An .xlsx with one sheet per (title, header, rows); headers bold, columns sized."""
    workbook = Workbook(write_only=False)
    workbook.remove(workbook.active)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        sheet.append([safe_cell(h) for h in header])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DCE6F1")
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        widths = [max(6, len(str(h)) * 2) for h in header]
        for row in rows:
            values = [safe_cell(v) for v in row]
            for i, value in enumerate(values):
                if i < len(widths) and value is not None:
                    widths[i] = min(60, max(widths[i], len(str(value)) + 2))
            sheet.append(values)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    # openpyxl marks "=…" text as a formula; stored as a string, Excel never runs it.
                    cell.data_type = "s"
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A2"
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(filename: str, content: bytes) -> Response:
    """A download response for an .xlsx, with the (possibly Chinese) name per RFC 6266."""
    from taskflow.core.http import attachment_headers

    response = Response(content, mimetype=XLSX_MIMETYPE)
    response.headers.update(attachment_headers(filename))
    return response


# ---------------------------------------------------------------- print-ready reports
#
# Every export goes through write_report: openpyxl's write-only mode streams the rows to the file
# (memory stays constant whatever the row count). Row 1 is the merged title, row 2 the as-of date
# and the issuing unit, row 3 the header: frozen below it and repeated on every printed page.
# Landscape A4, one page wide. Column widths come from the header and the first SAMPLE_ROWS rows
# (held back until the widths are known: write-only mode writes <cols> before the first row);
# CJK characters count double; text wider than its column wraps.

SAMPLE_ROWS = 500
MIN_WIDTH = 6
MAX_WIDTH = 40  # a long name wraps rather than widening the page
HEADER_WIDTH_CAP = 8  # headers wrap onto two or three lines rather than widening a number column
LINE_HEIGHT = 14.5  # points per line of 11-point text: wrapped rows are given their height
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TITLE_ROWS = 3  # title, as-of line, header


@dataclass
class Report:
    """One sheet of a report: its title (what, which period), the as-of date, the header, the
    rows (any iterable; streamed), bold totals rows after them and plain notes below."""

    title: str
    as_of: date | datetime
    header: list[str]
    rows: Iterable[Iterable[Any]]
    totals: list[list[Any]] = field(default_factory=list)
    sheet_name: str = ""
    notes: list[str] = field(default_factory=list)


def text_width(value: Any) -> int:
    """Display width of a value in Excel's character units: CJK and full-width characters count
    double, a date 10, a number its digits."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, float):
        value = f"{value:.2f}"
    text = str(value)
    width = 0
    for char in text:
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _export_issuer() -> str:
    from flask import current_app

    return current_app.config["EXPORT_ISSUER"]


def _as_of_text(as_of: date | datetime) -> str:
    if isinstance(as_of, datetime):
        local = to_local(as_of) or as_of
        return local.strftime("%Y-%m-%d %H:%M")
    return as_of.isoformat()


# The package is written by hand, part by part, into the zip stream: openpyxl (even in
# write-only mode) builds two cell objects per value and costs ~10 times as much per row, which
# is minutes for the city's register on a busy server. Strings are inline (no shared-string
# table held in memory); styles are a fixed table (STYLE_*), the same in every workbook.

FONTS = ('<font><sz val="11"/><name val="宋体"/><family val="3"/><charset val="134"/></font>'
         '<font><b/><sz val="11"/><name val="宋体"/><family val="3"/><charset val="134"/></font>'
         '<font><b/><sz val="16"/><name val="黑体"/><family val="3"/><charset val="134"/></font>')
FILLS = ('<fill><patternFill patternType="none"/></fill>'
         '<fill><patternFill patternType="gray125"/></fill>'
         '<fill><patternFill patternType="solid"><fgColor rgb="FFDCE6F1"/>'
         '<bgColor indexed="64"/></patternFill></fill>')
BORDERS = ('<border><left/><right/><top/><bottom/><diagonal/></border>'
           '<border><left style="thin"><color rgb="FF808080"/></left>'
           '<right style="thin"><color rgb="FF808080"/></right>'
           '<top style="thin"><color rgb="FF808080"/></top>'
           '<bottom style="thin"><color rgb="FF808080"/></bottom><diagonal/></border>')
NUMBER_FORMATS = {164: DATE_FORMAT, 165: DATETIME_FORMAT}
# (number format, font, fill, border, alignment attributes) per style index.
_XF = [
    (0, 0, 0, 0, None),                                                    # 0 default
    (0, 2, 0, 0, 'horizontal="center" vertical="center"'),                 # 1 title
    (0, 0, 0, 0, 'horizontal="right" vertical="center"'),                  # 2 as-of line
    (0, 1, 2, 1, 'horizontal="center" vertical="center" wrapText="1"'),    # 3 header
    (0, 0, 0, 1, 'vertical="top"'),                                        # 4 body
    (0, 0, 0, 1, 'vertical="top" wrapText="1"'),                           # 5 body, wrapped
    (164, 0, 0, 1, 'vertical="top"'),                                      # 6 body date
    (165, 0, 0, 1, 'vertical="top"'),                                      # 7 body date-time
    (0, 1, 0, 1, 'vertical="top"'),                                        # 8 totals
    (0, 1, 0, 1, 'vertical="top" wrapText="1"'),                           # 9 totals, wrapped
    (164, 1, 0, 1, 'vertical="top"'),                                      # 10 totals date
    (165, 1, 0, 1, 'vertical="top"'),                                      # 11 totals time
]
STYLE_TITLE, STYLE_AS_OF, STYLE_HEADER, STYLE_BODY, STYLE_BOLD = 1, 2, 3, 4, 8


def _styles_xml() -> str:
    formats = "".join(f'<numFmt numFmtId="{i}" formatCode="{f}"/>'
                      for i, f in NUMBER_FORMATS.items())
    xfs = []
    for number, font, fill, border, align in _XF:
        applied = (f' applyNumberFormat="{int(bool(number))}" applyFont="{int(bool(font))}"'
                   f' applyFill="{int(bool(fill))}" applyBorder="{int(bool(border))}"')
        if align:
            xfs.append(f'<xf numFmtId="{number}" fontId="{font}" fillId="{fill}" '
                       f'borderId="{border}" xfId="0"{applied} applyAlignment="1">'
                       f'<alignment {align}/></xf>')
        else:
            xfs.append(f'<xf numFmtId="{number}" fontId="{font}" fillId="{fill}" '
                       f'borderId="{border}" xfId="0"{applied}/>')
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_NS}">'
            f'<numFmts count="{len(NUMBER_FORMATS)}">{formats}</numFmts>'
            f'<fonts count="3">{FONTS}</fonts><fills count="3">{FILLS}</fills>'
            f'<borders count="2">{BORDERS}</borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            f'</cellStyleXfs><cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            '</styleSheet>')


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Characters XML 1.0 does not allow (control characters but tab, newline, return).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EPOCH = datetime(1899, 12, 30)


def _xml_text(value: str) -> str:
    return escape(_ILLEGAL_XML.sub("", value), {'"': "&quot;"})


def _column_letters(index: int) -> str:
    return get_column_letter(index)


def _cell_xml(ref: str, value: Any, style: int) -> str:
    """One <c> element; bool and numbers as numbers, dates as serial numbers, text inline."""
    if value is None or value == "":
        return f'<c r="{ref}" s="{style}"/>'
    if isinstance(value, bool):
        return f'<c r="{ref}" s="{style}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return f'<c r="{ref}" s="{style}"><v>{value!r}</v></c>'
    if isinstance(value, float):  # NaN or infinite: no number Excel can hold
        value = str(value)
    if isinstance(value, datetime):
        serial = (value.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="{style + 3}"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        serial = (value - _EPOCH.date()).days
        return f'<c r="{ref}" s="{style + 2}"><v>{serial}</v></c>'
    text = _xml_text(str(value))
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _sheet_head(widths: list[int]) -> str:
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                   for i, w in enumerate(widths, start=1))
    return (f'{_HEAD}<worksheet xmlns="{_NS}" xmlns:r="{_REL_NS}">'
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            '<sheetViews><sheetView workbookViewId="0">'
            f'<pane ySplit="{TITLE_ROWS}" topLeftCell="A{TITLE_ROWS + 1}" activePane="bottomLeft"'
            ' state="frozen"/><selection pane="bottomLeft" activeCell="A4" sqref="A4"/>'
            '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            f'<cols>{cols}</cols><sheetData>')


def _sheet_tail(columns: int) -> str:
    last = _column_letters(columns)
    return ('</sheetData>'
            f'<mergeCells count="2"><mergeCell ref="A1:{last}1"/><mergeCell ref="A2:{last}2"/>'
            '</mergeCells>'
            '<printOptions horizontalCentered="1"/>'
            '<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3"'
            ' footer="0.3"/>'
            '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
            '<headerFooter><oddFooter>&amp;C&amp;P / &amp;N</oddFooter></headerFooter>'
            '</worksheet>')


def _row_xml(number: int, values: list[Any], style: int, widths: list[int],
             height: float | None = None) -> str:
    """One <row>; a row with wrapped text is given the height of its longest cell (LibreOffice
    does not size rows when it opens a file)."""
    cells = []
    lines = 1
    wrapping = style in (STYLE_BODY, STYLE_BOLD, STYLE_HEADER)
    for i, value in enumerate(values):
        cell_style = style
        if wrapping and isinstance(value, str):
            room = (widths[i] if i < len(widths) else MAX_WIDTH) - 1
            needed = -(-text_width(value) // max(room, 1))
            if needed > 1:
                lines = max(lines, needed)
                if style != STYLE_HEADER:
                    cell_style = style + 1  # wrapped
        cells.append(_cell_xml(f"{_column_letters(i + 1)}{number}", value, cell_style))
    if height is None and lines > 1:
        height = round(lines * LINE_HEIGHT + 2, 1)
    extra = f' ht="{height}" customHeight="1"' if height else ""
    return f'<row r="{number}"{extra}>{"".join(cells)}</row>'


def _write_sheet(stream, report: Report, issuer: str,
                 progress: Callable[[int], None] | None) -> int:
    """Stream one sheet's XML to `stream` (a binary file in the zip); returns its data rows."""
    from itertools import islice

    columns = max(len(report.header), 1)
    rows = iter(report.rows)
    sample = [[safe_cell(v) for v in row] for row in islice(rows, SAMPLE_ROWS)]
    totals = [[safe_cell(v) for v in row] for row in report.totals]
    widths = [min(text_width(h), HEADER_WIDTH_CAP) for h in report.header]
    widths += [0] * (columns - len(widths))
    for row in sample + totals:
        for i, value in enumerate(row[:columns]):
            widths[i] = max(widths[i], text_width(value))
    widths = [min(MAX_WIDTH, max(MIN_WIDTH, w + 2)) for w in widths]

    buffer: list[str] = []
    size = 0

    def put(text: str) -> None:
        nonlocal size
        buffer.append(text)
        size += len(text)
        if size > 256 * 1024:
            stream.write("".join(buffer).encode("utf-8"))
            buffer.clear()
            size = 0

    put(_sheet_head(widths))
    as_of_line = _("Data as of %(as_of)s · Issued by %(issuer)s",
                   as_of=_as_of_text(report.as_of), issuer=issuer)
    put(_row_xml(1, [report.title] + [None] * (columns - 1), STYLE_TITLE, widths, height=30))
    put(_row_xml(2, [as_of_line] + [None] * (columns - 1), STYLE_AS_OF, widths, height=20))
    put(_row_xml(3, [str(h) for h in report.header], STYLE_HEADER, widths))
    number = TITLE_ROWS
    written = 0
    for source in (sample, rows):
        for row in source:
            values = row if source is sample else [safe_cell(v) for v in row]
            if len(values) < columns:  # every cell of the table bordered
                values = list(values) + [None] * (columns - len(values))
            number += 1
            put(_row_xml(number, values, STYLE_BODY, widths))
            written += 1
            if progress is not None and written % 1000 == 0:
                progress(written)
    for row in totals:
        row = row + [None] * (columns - len(row))
        number += 1
        put(_row_xml(number, row, STYLE_BOLD, widths))
    if report.notes:
        number += 1
        for note in report.notes:
            number += 1
            put(_row_xml(number, [note], 0, widths))
    put(_sheet_tail(columns))
    stream.write("".join(buffer).encode("utf-8"))
    return written


def _sheet_names(reports: list[Report]) -> list[str]:
    names: list[str] = []
    for report in reports:
        base = re.sub(r"[\[\]:*?/\\]", "_", report.sheet_name or report.title)[:31] or "Sheet"
        name, n = base, 1
        while name.lower() in (x.lower() for x in names):
            n += 1
            name = f"{base[:28]}({n})"
        names.append(name)
    return names


def _package_parts(names: list[str]) -> dict[str, str]:
    sheets = "".join(f'<sheet name="{_xml_text(name)}" sheetId="{i}" r:id="rId{i}"/>'
                     for i, name in enumerate(names, start=1))
    titles = "".join(
        f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
        f"'{_xml_text(name).replace(chr(39), chr(39) * 2)}'!${TITLE_ROWS}:${TITLE_ROWS}"
        "</definedName>" for i, name in enumerate(names))
    rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" '
                   f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(names) + 1))
    rels += (f'<Relationship Id="rId{len(names) + 1}" Type="{_REL_NS}/styles" '
             'Target="styles.xml"/>')
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(names) + 1))
    return {
        "[Content_Types].xml": (
            f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            f'officedocument.spreadsheetml.styles+xml"/>{overrides}</Types>'),
        "_rels/.rels": (
            f'{_HEAD}<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
            f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'{_HEAD}<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><bookViews><workbookView/>'
            f'</bookViews><sheets>{sheets}</sheets><definedNames>{titles}</definedNames>'
            '</workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'{_HEAD}<Relationships xmlns="{_PKG_REL_NS}">{rels}</Relationships>'),
        "xl/styles.xml": _styles_xml(),
    }


def write_report(target, reports: Report | list[Report], *,
                 progress: Callable[[int], None] | None = None) -> int:
    """Write `reports` (one sheet each) as a print-ready .xlsx to `target` (a path or a binary
    file), streamed: memory does not grow with the rows. Returns the number of data rows
    written; `progress(rows)` is called every 1000 rows and at the end. Needs an app context
    (the issuing unit is the EXPORT_ISSUER setting)."""
    if isinstance(reports, Report):
        reports = [reports]
    issuer = _export_issuer()
    names = _sheet_names(reports)
    written = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, content in _package_parts(names).items():
            archive.writestr(name, content)
        for i, report in enumerate(reports, start=1):
            with archive.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as stream:
                def sheet_progress(rows: int, before: int = written) -> None:
                    if progress is not None:
                        progress(before + rows)

                written += _write_sheet(stream, report, issuer, sheet_progress)
    if progress is not None:
        progress(written)
    return written


def report_workbook(reports: Report | list[Report]) -> bytes:
    """write_report into memory: for the small exports that stream in the request."""
    buffer = BytesIO()
    write_report(buffer, reports)
    return buffer.getvalue()


# ---------------------------------------------------------------- bounded reading
#
# Uploaded workbooks are read by this streaming reader rather than by openpyxl: openpyxl builds a
# whole row (and the whole shared-string table, and the styles) in memory before the caller can
# look at it, so one crafted row of millions of cells costs gigabytes. Here expat feeds callbacks
# chunk by chunk, every count is checked as it grows, and reading stops at the first excess.


@dataclass(frozen=True)
class ReadLimits:
    """What an uploaded workbook may hold; exceeding any of them stops reading at once."""

    max_rows: int = 50_000  # data rows (rows below the header holding a value)
    max_columns: int = 100  # highest column index holding a value
    max_cells_per_row: int = 1_000  # <c> elements in one row, empty ones included
    max_cells: int = 2_000_000  # <c> elements in the sheet, empty (formatted) ones included
    max_row_elements: int = 1_000_000  # <row> elements in the sheet, empty ones included
    max_shared_strings: int = 500_000
    max_shared_string_bytes: int = 20 * 1024 * 1024  # UTF-8 bytes of all shared strings
    max_cell_chars: int = 32_767  # Excel's own limit for the text of one cell
    max_styles: int = 64_000  # Excel's own limit of cell formats in a workbook
    max_part_bytes: int = 100 * 1024 * 1024  # uncompressed bytes read from any one part
    max_ratio: int = 100  # uncompressed / compressed size of one part ...
    ratio_floor_bytes: int = 1024 * 1024  # ... checked for parts larger than this


class LimitExceeded(ValueError):
    """The workbook exceeds a ReadLimits field: `limit` names it, `value` is its setting."""

    def __init__(self, limit: str, value: int, where: str = ""):
        super().__init__(f"{limit} > {value} {where}".strip())
        self.limit = limit
        self.value = value
        self.where = where


class WorkbookUnreadable(ValueError):
    """The archive is not a workbook this reader understands (the message is for the log)."""


READ_CHUNK = 64 * 1024
# Built-in number formats that show a date (ECMA-376 §18.8.30 and the East Asian ones).
BUILTIN_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48),
                                  *range(50, 59), *range(71, 82)])


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def _refuse_dtd(*_args) -> None:
    raise WorkbookUnreadable("a DTD or entity declaration in a workbook part")


def _parser(start, end=None, text=None):
    """An expat parser with namespaces resolved and no DTDs or entities (no entity bombs)."""
    from xml.parsers import expat

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    parser.buffer_text = True
    return parser


def check_ratio(info: zipfile.ZipInfo, limits: ReadLimits) -> None:
    """LimitExceeded("max_ratio") when a large part is compressed suspiciously well."""
    if info.file_size <= limits.ratio_floor_bytes:
        return
    if info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise LimitExceeded("max_ratio", limits.max_ratio, info.filename)


def _feed(archive: zipfile.ZipFile, name: str, parser, limits: ReadLimits) -> Iterator[None]:
    """Feed one part to `parser` chunk by chunk (yielding after each), within the byte budget."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise WorkbookUnreadable(f"missing part {name}") from None
    check_ratio(info, limits)
    read = 0
    with archive.open(info) as stream:
        while True:
            chunk = stream.read(READ_CHUNK)
            if not chunk:
                break
            read += len(chunk)
            if read > limits.max_part_bytes:
                raise LimitExceeded("max_part_bytes", limits.max_part_bytes, name)
            if read > limits.max_ratio * max(info.compress_size, 1) + limits.ratio_floor_bytes:
                # The declared sizes lied: what actually unpacks is checked as well.
                raise LimitExceeded("max_ratio", limits.max_ratio, name)
            parser.Parse(chunk, False)
            yield
    parser.Parse(b"", True)
    yield


def _parse_all(archive, name, parser, limits) -> None:
    for _ in _feed(archive, name, parser, limits):
        pass


def _resolve(base_dir: str, target: str) -> str:
    import posixpath

    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base_dir, target))


def _first_sheet(archive, limits) -> tuple[str, str | None, str | None, bool]:
    """(sheet part, shared strings part, styles part, 1904 dates) of the workbook's first sheet."""
    sheets: list[str] = []
    flags = {"date1904": False}

    def on_workbook(name, attrs):
        local = _local(name)
        if local == "sheet":
            # r:id, whatever the relationships namespace (transitional or strict OOXML).
            sheets.append(next((v for k, v in attrs.items() if k.endswith(" id")), ""))
        elif local == "workbookPr":
            flags["date1904"] = attrs.get("date1904", "0").lower() in ("1", "true")

    _parse_all(archive, "xl/workbook.xml", _parser(on_workbook), limits)
    targets: dict[str, str] = {}
    kinds: dict[str, str] = {}

    def on_rels(name, attrs):
        if _local(name) == "Relationship":
            rel_id, target = attrs.get("Id", ""), attrs.get("Target", "")
            targets[rel_id] = _resolve("xl", target)
            kinds[attrs.get("Type", "").rsplit("/", 1)[-1]] = targets[rel_id]

    _parse_all(archive, "xl/_rels/workbook.xml.rels", _parser(on_rels), limits)
    if not sheets or sheets[0] not in targets:
        raise WorkbookUnreadable("the workbook names no sheet")
    return (targets[sheets[0]], kinds.get("sharedStrings"), kinds.get("styles"),
            flags["date1904"])


def _date_styles(archive, name: str | None, limits) -> list[bool]:
    """For each cell style index: whether its number format shows a date."""
    if name is None or name not in archive.namelist():
        return []
    from openpyxl.styles.numbers import is_date_format

    custom: dict[int, bool] = {}
    styles: list[bool] = []
    state = {"in_xfs": False}

    def start(tag, attrs):
        local = _local(tag)
        if local == "numFmt":
            try:
                custom[int(attrs.get("numFmtId", "-1"))] = is_date_format(
                    attrs.get("formatCode", ""))
            except ValueError:
                pass
        elif local == "cellXfs":
            state["in_xfs"] = True
        elif local == "xf" and state["in_xfs"]:
            if len(styles) >= limits.max_styles:
                raise LimitExceeded("max_styles", limits.max_styles, name)
            try:
                number = int(attrs.get("numFmtId", "0"))
            except ValueError:
                number = 0
            styles.append(custom.get(number, number in BUILTIN_DATE_FORMATS))

    def end(tag):
        if _local(tag) == "cellXfs":
            state["in_xfs"] = False

    _parse_all(archive, name, _parser(start, end), limits)
    return styles


def _shared_strings(archive, name: str | None, limits) -> list[str]:
    """The shared-string table, counted and measured as it is read."""
    if name is None or name not in archive.namelist():
        return []
    strings: list[str] = []
    parts: list[str] = []
    state = {"depth_rph": 0, "in_t": False, "chars": 0, "bytes": 0}

    def start(tag, attrs):
        local = _local(tag)
        if local == "si":
            parts.clear()
            state["chars"] = 0
        elif local == "rPh":
            state["depth_rph"] += 1
        elif local == "t" and not state["depth_rph"]:
            state["in_t"] = True

    def text(data):
        if state["in_t"]:
            state["chars"] += len(data)
            if state["chars"] > limits.max_cell_chars:
                raise LimitExceeded("max_cell_chars", limits.max_cell_chars, name)
            parts.append(data)

    def end(tag):
        local = _local(tag)
        if local == "t":
            state["in_t"] = False
        elif local == "rPh":
            state["depth_rph"] -= 1
        elif local == "si":
            if len(strings) >= limits.max_shared_strings:
                raise LimitExceeded("max_shared_strings", limits.max_shared_strings, name)
            value = "".join(parts)
            state["bytes"] += len(value.encode("utf-8"))
            if state["bytes"] > limits.max_shared_string_bytes:
                raise LimitExceeded("max_shared_string_bytes", limits.max_shared_string_bytes,
                                    name)
            strings.append(value)

    _parse_all(archive, name, _parser(start, end, text), limits)
    return strings


def column_index(letters: str) -> int:
    """1 for A, 27 for AA … (ValueError for anything but letters)."""
    number = 0
    for char in letters.upper():
        if not "A" <= char <= "Z":
            raise ValueError(letters)
        number = number * 26 + ord(char) - 64
    if number == 0:
        raise ValueError(letters)
    return number


def _split_ref(ref: str) -> tuple[int, int]:
    """(column, row) of a cell reference such as "AB12"."""
    for i, char in enumerate(ref):
        if char.isdigit():
            return column_index(ref[:i]), int(ref[i:])
    raise ValueError(ref)


def _number(text: str):
    text = text.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    return float(text)


def read_sheet(source, limits: ReadLimits = ReadLimits()) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cell values) of each row with a value of the first sheet, streamed.

    Values as openpyxl's data_only mode gives them (text, int/float, datetime for date-formatted
    numbers, bool). Raises LimitExceeded at the first excess of `limits` and WorkbookUnreadable,
    zipfile.BadZipFile or expat errors for what cannot be read; memory stays bounded by the
    limits whatever the file holds."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

    with zipfile.ZipFile(source) as archive:
        sheet, shared_name, styles_name, date1904 = _first_sheet(archive, limits)
        epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        date_styles = _date_styles(archive, styles_name, limits)
        shared = _shared_strings(archive, shared_name, limits)
        ready: list[tuple[int, list[Any]]] = []
        row: dict[int, Any] = {}
        text: list[str] = []
        state = {"row": 0, "col": 0, "cells_in_row": 0, "cells": 0, "rows": 0,
                 "type": "n", "style": 0, "capture": False, "chars": 0, "rph": 0, "data": 0}

        def start(tag, attrs):
            local = _local(tag)
            if local == "c":
                state["cells"] += 1
                state["cells_in_row"] += 1
                if state["cells_in_row"] > limits.max_cells_per_row:
                    raise LimitExceeded("max_cells_per_row", limits.max_cells_per_row,
                                        f"row {state['row']}")
                if state["cells"] > limits.max_cells:
                    raise LimitExceeded("max_cells", limits.max_cells)
                ref = attrs.get("r")
                state["col"] = _split_ref(ref)[0] if ref else state["col"] + 1
                state["type"] = attrs.get("t", "n")
                try:
                    state["style"] = int(attrs.get("s", "0"))
                except ValueError:
                    state["style"] = 0
                text.clear()
                state["chars"] = 0
            elif local == "row":
                state["rows"] += 1
                if state["rows"] > limits.max_row_elements:
                    raise LimitExceeded("max_row_elements", limits.max_row_elements)
                number = attrs.get("r")
                state["row"] = int(number) if number else state["row"] + 1
                state["col"] = 0
                state["cells_in_row"] = 0
                row.clear()
            elif local == "rPh":
                state["rph"] += 1
            elif local in ("v", "t") and not state["rph"]:
                state["capture"] = True

        def chars(data):
            if state["capture"]:
                state["chars"] += len(data)
                if state["chars"] > limits.max_cell_chars:
                    raise LimitExceeded("max_cell_chars", limits.max_cell_chars,
                                        f"row {state['row']}")
                text.append(data)

        def end(tag):
            local = _local(tag)
            if local in ("v", "t"):
                state["capture"] = False
            elif local == "rPh":
                state["rph"] -= 1
            elif local == "c":
                value = _value("".join(text))
                text.clear()
                if value is None or value == "":
                    return
                if state["col"] > limits.max_columns:
                    raise LimitExceeded("max_columns", limits.max_columns,
                                        f"row {state['row']}")
                row[state["col"]] = value
            elif local == "row" and row:
                state["data"] += 1
                if state["data"] > limits.max_rows + 1:  # the header row and max_rows rows
                    raise LimitExceeded("max_rows", limits.max_rows, f"row {state['row']}")
                width = max(row)
                ready.append((state["row"], [row.get(i) for i in range(1, width + 1)]))
                row.clear()

        def _value(raw: str):
            kind = state["type"]
            if not raw:
                return None
            if kind == "s":
                index = _number(raw)
                if not isinstance(index, int) or not 0 <= index < len(shared):
                    raise WorkbookUnreadable(f"shared string {raw!r} out of range")
                return shared[index]
            if kind in ("inlineStr", "str", "e"):
                return raw
            if kind == "b":
                return raw.strip() in ("1", "true")
            if kind == "d":
                return datetime.fromisoformat(raw.strip()) if raw.strip() else None
            number = _number(raw)
            style = state["style"]
            if number is not None and 0 <= style < len(date_styles) and date_styles[style]:
                try:
                    return from_excel(number, epoch)
                except (ValueError, OverflowError):
                    return number
            return number

        parser = _parser(start, end, chars)
        for _ in _feed(archive, sheet, parser, limits):
            yield from ready
            ready.clear()


def sheet_rows_hint(source, limits: ReadLimits = ReadLimits()) -> int | None:
    """The first sheet's last row number as its <dimension> declares it (None if it does not);
    only a hint for a progress bar: reading stops at <sheetData>."""
    with zipfile.ZipFile(source) as archive:
        sheet = _first_sheet(archive, limits)[0]
        found: dict[str, int | None] = {"rows": None}

        class Done(Exception):
            pass

        def start(tag, attrs):
            local = _local(tag)
            if local == "dimension":
                try:
                    found["rows"] = _split_ref(attrs.get("ref", "").split(":")[-1])[1]
                except ValueError:
                    pass
                raise Done
            if local == "sheetData":
                raise Done

        try:
            _parse_all(archive, sheet, _parser(start), limits)
        except Done:
            pass
        return found["rows"]
