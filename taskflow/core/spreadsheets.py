"""The one helper for Excel files: writing with formulas never interpreted, reading row by row."""

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from io import BytesIO
from typing import Any

from flask import Response
from openpyxl import Workbook, load_workbook
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


def read_rows(source, *, max_rows: int | None = None) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cell values) for every row of the first sheet, streamed in bounded memory."""
    workbook = load_workbook(source, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if max_rows is not None and number > max_rows:
                break
            yield number, list(row)
    finally:
        workbook.close()
