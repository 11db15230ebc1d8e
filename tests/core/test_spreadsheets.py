"""The one report writer (core.spreadsheets.write_report): what a printed export looks like,
read back with openpyxl."""

from datetime import date, datetime, timezone
from io import BytesIO

import pytest
from openpyxl import load_workbook

from taskflow.core.spreadsheets import (
    MAX_WIDTH,
    SAMPLE_ROWS,
    Report,
    report_workbook,
    text_width,
    write_report,
)

HEADER = ["企业名称", "Code", "数量", "比例", "认定日期", "确认时间"]
LONG_NAME = "重庆电子信息新能源汽车产业发展集团有限公司綦江分公司第二生产基地"


def sample_report(rows=None, **kwargs) -> Report:
    rows = rows if rows is not None else [
        ["甲铝业", "ABCDEF", 3, 0.5, date(2024, 1, 10), datetime(2024, 3, 1, 1, 30,
                                                              tzinfo=timezone.utc)],
        [LONG_NAME, "=1+1", 12, 1.25, None, None],
    ]
    values = dict(title="企业名录（2024-03-31）", as_of=date(2024, 3, 31), header=HEADER,
                  rows=rows, totals=[["合计", "", 15, None, None, None]])
    values.update(kwargs)
    return Report(**values)


def read(content: bytes):
    return load_workbook(BytesIO(content)).worksheets[0]


def test_title_as_of_line_header_and_print_setup(app):
    app.config["EXPORT_ISSUER"] = "綦江区科技局"
    sheet = read(report_workbook(sample_report()))
    # Row 1: the title merged over the table's width; row 2: as of when, issued by whom.
    assert "A1:F1" in {str(r) for r in sheet.merged_cells.ranges}
    assert sheet["A1"].value == "企业名录（2024-03-31）" and sheet["A1"].font.b
    assert sheet["A2"].value == "数据截至 2024-03-31 · 制表单位 綦江区科技局"
    assert [c.value for c in sheet[3]] == HEADER and all(c.font.b for c in sheet[3])
    # Frozen below the header, which every printed page repeats.
    assert sheet.freeze_panes == "A4"
    assert sheet.print_title_rows == "$3:$3"
    # Landscape A4, one page wide, as many pages tall as it takes.
    setup = sheet.page_setup
    assert setup.orientation == "landscape" and str(setup.paperSize) == "9"
    assert setup.fitToWidth == 1 and setup.fitToHeight == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True


def test_cells_keep_their_types_and_the_totals_row_is_bold(app):
    sheet = read(report_workbook(sample_report()))
    first, second, total = sheet[4], sheet[5], sheet[6]
    assert first[2].value == 3 and first[2].data_type == "n"
    assert first[3].value == 0.5 and first[3].data_type == "n"
    assert first[4].value == datetime(2024, 1, 10) and first[4].number_format == "yyyy-mm-dd"
    assert first[4].is_date
    # A moment is written in Beijing time.
    assert first[5].value == datetime(2024, 3, 1, 9, 30) and first[5].is_date
    # Text that looks like a formula stays text.
    assert second[1].value == "=1+1" and second[1].data_type == "s"
    assert [c.value for c in total[:3]] == ["合计", None, 15]
    assert all(c.font.b for c in total) and not any(c.font.b for c in first)


def test_widths_count_cjk_double_and_long_names_wrap(app):
    assert text_width("甲乙丙") == 6 and text_width("abc") == 3
    rows = [["甲乙丙丁戊己庚辛壬癸", "abcdefghij", 1, 1.0, None, None], [LONG_NAME, "x", 2, 2.0,
                                                                   None, None]]
    sheet = read(report_workbook(sample_report(rows=rows, header=["A", "B", "C", "D", "E", "F"],
                                               totals=[])))
    widths = {c: sheet.column_dimensions[c].width for c in "AB"}
    # Ten CJK characters need twice the room of ten ASCII ones; the longest name is capped.
    assert widths["A"] == MAX_WIDTH and widths["B"] == 12
    sheet = read(report_workbook(sample_report(rows=rows[:1], header=["A", "B", "C", "D", "E",
                                                                      "F"], totals=[])))
    assert sheet.column_dimensions["A"].width == 22 > sheet.column_dimensions["B"].width == 12
    # A name wider than its column wraps; one that fits does not.
    sheet = read(report_workbook(sample_report(rows=rows, totals=[])))
    assert sheet["A5"].value == LONG_NAME and sheet["A5"].alignment.wrap_text
    assert not sheet["A4"].alignment.wrap_text


def test_rows_stream_past_the_width_sample_and_progress_is_reported(app, tmp_path):
    seen = []
    rows = ([f"企业{i}", str(i), i, i / 2, None, None] for i in range(SAMPLE_ROWS + 1500))
    path = tmp_path / "big.xlsx"
    written = write_report(path, sample_report(rows=rows, totals=[]), progress=seen.append)
    assert written == SAMPLE_ROWS + 1500
    assert seen[:2] == [1000, 2000]
    assert seen[-1] == written
    sheet = load_workbook(path, read_only=True).worksheets[0]
    values = [row for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert len(values) == written
    assert values[-1][:3] == (f"企业{written - 1}", str(written - 1), written - 1)


@pytest.mark.parametrize("issuer", ["区科技创新工作领导小组办公室"])
def test_the_issuer_default_is_the_labelled_setting(app, issuer):
    from config import Config

    assert Config.EXPORT_ISSUER == issuer
    assert app.config["EXPORT_ISSUER"] in read(report_workbook(sample_report()))["A2"].value


def test_odd_values_still_give_a_valid_workbook(app):
    from decimal import Decimal

    rows = [["控制\x07字符 ", Decimal("98.5"), float("nan"), True, "<b>&amp;</b>", None]]
    sheet = read(report_workbook(sample_report(rows=rows, totals=[],
                                               sheet_name="a/b:c*d?[e]" * 5)))
    values = [c.value for c in sheet[4]]
    assert values[0] == "控制字符 "  # a control character XML cannot hold is dropped
    assert values[1] == 98.5 and sheet["B4"].data_type == "n"  # a Decimal is a number
    assert values[2] == "nan" and values[3] is True and values[4] == "<b>&amp;</b>"
    assert len(sheet.title) <= 31 and not set("/:*?[]") & set(sheet.title)
