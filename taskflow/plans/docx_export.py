"""Build a Word version of the district work plan from its text extraction.

The office works in Word; tests use the result to exercise ``parse_plan_docx``. Every text line
becomes one paragraph with exactly that text, and the attachment becomes a real Word table with
the merged cells of the original (序号/单位 header, the 高新区管委会 cell over rows 1–3, …), so that
reading the file back gives the same lines and therefore the same ParsedPlan.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from taskflow.plans.documents import (
    DISTRICT_COLUMNS,
    _find_district_table,
    _group_tab_rows,
    _split_lines,
    detect_level,
)

GRID_COLUMNS = 3 + len(DISTRICT_COLUMNS)  # 序号, managing unit, unit / task force, ten numbers

# The attachment header, one entry per cell as Word stores it: (first grid column, columns
# spanned, vertical merge). "restart" opens a vertical merge, "continue" is covered by the cell
# above, None is a plain cell. Three rows: 序号 | 单位 | 科技型企业（在库数量） | 高新技术企业, then the
# years, then 在库量/复审/新增/培育/招引 under 2023年.
_HEADER_LAYOUT: tuple[tuple[tuple[int, int, str | None], ...], ...] = (
    ((0, 1, "restart"), (1, 2, "restart"), (3, 3, None), (6, 7, None)),
    (
        (0, 1, "continue"), (1, 2, "continue"), (3, 1, "restart"), (4, 1, "restart"),
        (5, 1, "restart"), (6, 1, "restart"), (7, 5, None), (12, 1, "restart"),
    ),
    (
        (0, 1, "continue"), (1, 2, "continue"), (3, 1, "continue"), (4, 1, "continue"),
        (5, 1, "continue"), (6, 1, "continue"), (7, 1, None), (8, 1, None), (9, 1, None),
        (10, 1, None), (11, 1, None), (12, 1, "continue"),
    ),
)

_BODY_FONT = "仿宋_GB2312"
_HEADING_FONT = "黑体"
_TITLE_FONT = "方正小标宋_GBK"


def write_plan_docx(text_path: str | PathLike, out_path: str | PathLike) -> None:
    """Write the district work plan at ``text_path`` as a .docx at ``out_path``."""
    text = Path(text_path).read_text(encoding="utf-8")
    if detect_level(text) != "district":
        raise ValueError(
            f"{text_path} is the city action plan; only the district work plan can be written "
            "as .docx (its attachment is the only table with a known layout)"
        )
    lines = _split_lines(text)
    start = _find_district_table(lines)
    rows, end = _group_tab_rows(lines, start)

    document = Document()
    _set_default_font(document)
    in_title = True
    for line in lines[:start]:
        paragraph = document.add_paragraph(line)
        in_title = _format_paragraph(paragraph, line, in_title)
    _add_table(document, rows)
    for line in lines[end:]:
        paragraph = document.add_paragraph(line)
        _format_paragraph(paragraph, line, False)
    document.save(str(out_path))


def _set_default_font(document) -> None:
    style = document.styles["Normal"]
    style.font.name = _BODY_FONT
    style.font.size = Pt(16)  # 三号, the usual size for the body of a government document
    # Word takes Chinese text's font from the eastAsia attribute, not from font.name.
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), _BODY_FONT)


def _set_run_font(run, name: str, size: float, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _format_paragraph(paragraph, line: str, in_title: bool) -> bool:
    """Style one paragraph by what the line is; returns whether the title block goes on."""
    text = line.strip()
    if in_title and not text:
        return False  # the first empty line ends the title block
    if in_title:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        is_main = not text.startswith("（")
        for run in paragraph.runs:
            _set_run_font(run, _TITLE_FONT if is_main else _BODY_FONT, 22 if is_main else 16)
        return True
    if re.match(r"^[一二三四五六七八九十]+、", text):
        for run in paragraph.runs:
            _set_run_font(run, _HEADING_FONT, 16)
    elif re.match(r"^（[一二三四五六七八九十]+）", text):
        for run in paragraph.runs:
            _set_run_font(run, "楷体_GB2312", 16, bold=True)
    elif text == "附件":
        paragraph.paragraph_format.page_break_before = True
        for run in paragraph.runs:
            _set_run_font(run, _HEADING_FONT, 16)
    elif text:
        paragraph.paragraph_format.first_line_indent = Pt(32)  # two characters
    return False


def _add_table(document, rows: list[list[tuple[int, str]]]) -> None:
    """The attachment as a Word table, merging cells the way the original does."""
    header_count = len(_HEADER_LAYOUT)
    header_sizes = [len(row) for row in rows[:header_count]]
    if header_sizes != [len(row) for row in _HEADER_LAYOUT]:
        raise ValueError(
            f"the attachment header has {header_sizes} cells per row; "
            f"expected {[len(row) for row in _HEADER_LAYOUT]}"
        )
    table = document.add_table(rows=len(rows), cols=GRID_COLUMNS)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    # table.cell() rebuilds the whole cell grid on every call (quadratic on this table), so take
    # the cells once before merging; each stays bound to its <w:tc>, which merging keeps in place
    # for the top-left and bottom-right corners used below.
    grid = [list(row.cells) for row in table.rows]

    # Header: open each vertical merge down over the rows that continue it.
    for r, layout in enumerate(_HEADER_LAYOUT):
        for (col, span, vmerge), (_, text) in zip(layout, rows[r]):
            if vmerge == "continue":
                continue
            last_row = r
            if vmerge == "restart":
                while last_row + 1 < header_count and any(
                    c == col and v == "continue" for c, _, v in _HEADER_LAYOUT[last_row + 1]
                ):
                    last_row += 1
            cell = grid[r][col]
            if span > 1 or last_row > r:
                cell = cell.merge(grid[last_row][col + span - 1])
            _set_cell_text(cell, text, bold=True)

    width = len(DISTRICT_COLUMNS)
    managing_top: int | None = None
    for r in range(header_count, len(rows)):
        cells = [text for _, text in rows[r]]
        values = cells[-width:]
        names = cells[:-width]
        if len(names) == 1:  # 合计: one cell over 序号 and both unit columns
            _set_cell_text(grid[r][0].merge(grid[r][2]), names[0], bold=True)
            managing_top = None
        elif len(names) == 2:  # one unit over both unit columns
            _set_cell_text(grid[r][0], names[0])
            _set_cell_text(grid[r][1].merge(grid[r][2]), names[1])
            managing_top = None
        elif len(names) == 3:  # managing unit, task force
            _set_cell_text(grid[r][0], names[0])
            if names[1].strip() or managing_top is None:
                managing_top = r
                _set_cell_text(grid[r][1], names[1])
            else:
                # An empty managing cell continues the one above: merge it in (rows 2–3 → 高新区管委会).
                grid[managing_top][1].merge(grid[r][1])
            _set_cell_text(grid[r][2], names[2])
        else:
            raise ValueError(f"table row {r + 1} has {len(cells)} cells; expected 11 to 13")
        for offset, text in enumerate(values):
            _set_cell_text(grid[r][3 + offset], text)


def _set_cell_text(cell, text: str, *, bold: bool = False) -> None:
    """Put text in a cell; a line break in the text becomes a line break in Word."""
    cell.text = text
    for paragraph in cell.paragraphs:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for run in paragraph.runs:
            _set_run_font(run, _BODY_FONT, 10.5, bold=bold)
