"""The quarterly bulletin (季通报) as a 公文 laid out under GB/T 9704-2012, built with python-docx.

Page: A4 (210 × 297 mm); margins top 37 mm, bottom 35 mm, left (binding side) 28 mm, right 26 mm,
so the text block is 156 × 225 mm; a document grid of 22 lines × 28 characters of 3号 (16 pt).

What goes where (版头 · 主体 · 版记):
    [征求意见稿]                    drafts only, top left, 3号黑体 (where 份号/密级 go)
    发文机关标志                    red 小标宋, centred, 35 mm below the top of the text block,
                                    compressed horizontally to fit one line
    文号                            two lines lower, 3号仿宋, centred, the red line 4 mm under it
    标题                            two lines under the red line, 2号小标宋, centred
    (数据截至 …)                    3号楷体, centred
    主送机关：                      one line lower, flush left
    正文                            3号仿宋, first line indented two characters, 22 lines a page;
                                    headings 一、 黑体 / （一） 楷体 / 1. 仿宋 bold
    落款 and 成文日期               one line under the text; the signer 2 characters from the right,
                                    the date (Chinese numerals) under it, starting 2 characters to
                                    the right of the signer's first character
    附件说明                        "附件：逾期事项清单", one line under the text (items overdue)
    附件                            on a new page after the 落款: "附件" in 3号黑体 top left,
                                    its title in 2号小标宋, the full list of overdue items
    版记                            抄送 / 印发机关 and 印发日期 between rules, 4号仿宋
    页码                            "— 1 —" in 4号宋体, 7 mm under the text block, odd pages at the
                                    right, even pages at the left (one character in)

Fonts are named as Chinese government offices have them; a machine without one falls back by
the usual substitutions, listed in FONT_FALLBACKS (Word maps a missing East-Asian font through the
font table's altName, LibreOffice through its replacement table; both end on an installed CJK
font). Latin text and digits use Times New Roman.
"""

from __future__ import annotations

import io
import re
from datetime import date

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor, Twips
from flask import current_app
from flask_babel import gettext as _

from taskflow.core import clock
from taskflow.units.labels import peer_group_label

# ---------------------------------------------------------------- the standard's numbers

PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210, 297
MARGIN_TOP_MM, MARGIN_BOTTOM_MM = 37, 35
MARGIN_LEFT_MM, MARGIN_RIGHT_MM = 28, 26  # left is the binding side (订口)
TEXT_WIDTH_MM = PAGE_WIDTH_MM - MARGIN_LEFT_MM - MARGIN_RIGHT_MM  # 156
TEXT_HEIGHT_MM = PAGE_HEIGHT_MM - MARGIN_TOP_MM - MARGIN_BOTTOM_MM  # 225
LINES_PER_PAGE, CHARS_PER_LINE = 22, 28

BODY_PT = 16  # 3号
TITLE_PT = 22  # 2号
FOOTER_PT = 14  # 4号 (page numbers, 版记)
TABLE_PT = 12  # 小四 (tables)

TWIPS_PER_MM = 1440 / 25.4
# One grid line: 225 mm / 22 = 28.97 pt = 579 twips; one grid character: 156 mm / 28 = 15.79 pt.
LINE_PITCH_TWIPS = int(TEXT_HEIGHT_MM * TWIPS_PER_MM / LINES_PER_PAGE)
CHAR_PITCH_PT = TEXT_WIDTH_MM / 25.4 * 72 / CHARS_PER_LINE
# w:charSpace: the grid character's extra width over the body font size, in 1/4096 pt.
CHAR_SPACE = round((CHAR_PITCH_PT - BODY_PT) * 4096)
LINE_PT = LINE_PITCH_TWIPS / 20
CONDENSE_TWENTIETHS = -5  # −0.25 pt: 28 × 15.75 pt ≤ 442.2 pt

RED = RGBColor(0xFF, 0x00, 0x00)
RED_HEX = "FF0000"

# Font names as the offices' machines have them, with the fallbacks used where one is missing.
XIAOBIAOSONG = "方正小标宋简体"
FANGSONG = "仿宋_GB2312"
HEITI = "黑体"
KAITI = "楷体_GB2312"
SONGTI = "宋体"
LATIN = "Times New Roman"
FONT_FALLBACKS = {
    XIAOBIAOSONG: ("宋体", "华文中宋", "方正小标宋_GBK", "SimSun"),
    FANGSONG: ("仿宋", "FangSong", "华文仿宋", "STFangsong"),
    HEITI: ("SimHei", "Microsoft YaHei", "华文黑体"),
    KAITI: ("楷体", "KaiTi", "华文楷体", "STKaiti"),
    SONGTI: ("SimSun", "Songti SC", "STSong"),
}

# Style names (also what the tests look for).
STYLE_BODY = "Normal"
STYLE_TITLE = "公文标题"
STYLE_H1 = "一级标题"
STYLE_H2 = "二级标题"
STYLE_H3 = "三级标题"
STYLE_ORGAN = "发文机关标志"
STYLE_NUMBER = "发文字号"
STYLE_MARK = "版头标注"
STYLE_ATTACHMENT = "附件标识"
STYLE_CENTRED = "居中说明"
STYLE_SIGNER = "发文机关署名"
STYLE_DATE = "成文日期"
STYLE_TABLE = "表格文字"
STYLE_FIGURE = "图"
STYLE_RECORD = "版记"
STYLE_PAGE_NUMBER = "页码"

H1_RE = re.compile(r"^[一二三四五六七八九十]+、")
H2_RE = re.compile(r"^（[一二三四五六七八九十]+）")
H3_RE = re.compile(r"^\d+[.．]")

CHINESE_DIGITS = "〇一二三四五六七八九"


def chinese_date(day: date) -> str:
    """二〇二六年十月九日: the year digit by digit, month and day as numbers in words."""
    year = "".join(CHINESE_DIGITS[int(d)] for d in str(day.year))
    return f"{year}年{_chinese_number(day.month)}月{_chinese_number(day.day)}日"


def _chinese_number(n: int) -> str:
    """1..39 in words: 九, 十, 十一, 二十, 三十一."""
    tens, units = divmod(n, 10)
    text = ("" if tens == 0 else ("十" if tens == 1 else CHINESE_DIGITS[tens] + "十"))
    return text + (CHINESE_DIGITS[units] if units else "") if n else "〇"


def _long_date(iso: str | None) -> str:
    """2026-09-30 → 2026年9月30日 (the way dates are written in a 公文's text)."""
    from taskflow.scores.reports import long_date

    return long_date(iso) if iso else "—"


def _chinese_ordinal(n: int) -> str:
    return _chinese_number(n)


def movement_text(row: dict) -> str:
    """名次变化: ↑2 (two places up), ↓1, — (unchanged), 新 (not ranked in the previous period)."""
    movement = row.get("movement")
    if movement is None:
        return _("new")
    if movement > 0:
        return f"↑{movement}"
    if movement < 0:
        return f"↓{-movement}"
    return "—"


# ---------------------------------------------------------------- low-level XML helpers


# The order of each property element's children (the schema's sequence): Word refuses a file
# whose children are out of order, and LibreOffice silently ignores the misplaced ones.
ORDER = {
    "pPr": ("pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl",
            "numPr", "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens",
            "kinsoku", "wordWrap", "overflowPunct", "topLinePunct", "autoSpaceDE", "autoSpaceDN",
            "bidi", "adjustRightInd", "snapToGrid", "spacing", "ind", "contextualSpacing",
            "mirrorIndents", "suppressOverlap", "jc", "textDirection", "textAlignment",
            "textboxTightWrap", "outlineLvl", "divId", "cnfStyle", "rPr", "sectPr", "pPrChange"),
    "rPr": ("rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike", "dstrike",
            "outline", "shadow", "emboss", "imprint", "noProof", "snapToGrid", "vanish",
            "webHidden", "color", "spacing", "w", "kern", "position", "sz", "szCs", "highlight",
            "u", "effect", "bdr", "shd", "fitText", "vertAlign", "rtl", "cs", "em", "lang",
            "eastAsianLayout", "specVanish", "oMath"),
    "tblPr": ("tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize",
              "tblStyleColBandSize", "tblW", "jc", "tblCellSpacing", "tblInd", "tblBorders",
              "shd", "tblLayout", "tblCellMar", "tblLook"),
    "tcPr": ("cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap",
             "tcMar", "textDirection", "tcFitText", "vAlign", "hideMark"),
    "pBdr": ("top", "left", "bottom", "right", "between", "bar"),
}


def _put(parent, tag: str, **attributes):
    """Set the child `tag` of a property element (replacing one there), in the schema's order."""
    old = parent.find(qn(tag))
    if old is not None:
        parent.remove(old)
    element = OxmlElement(tag)
    for name, value in attributes.items():
        element.set(qn(f"w:{name}"), str(value))
    order = [qn(f"w:{name}") for name in ORDER[parent.tag.rpartition("}")[2]]]
    later = set(order[order.index(qn(tag)) + 1:])
    for position, child in enumerate(parent):
        if child.tag in later:
            parent.insert(position, element)
            return element
    parent.append(element)
    return element


def _set_fonts(rpr, east_asia: str, latin: str = LATIN) -> None:
    """rFonts with the East-Asian font named (theme fonts removed: they would win)."""
    _put(rpr, "w:rFonts", ascii=latin, hAnsi=latin, eastAsia=east_asia, cs=latin,
         hint="eastAsia")


def _append(parent, tag: str, **attributes) -> object:
    element = OxmlElement(tag)
    for name, value in attributes.items():
        element.set(qn(f"w:{name}"), str(value))
    parent.append(element)
    return element


def _indent_chars(ppr, *, first_line: int = 0, left: int = 0, right: int = 0) -> None:
    """Indents in grid characters (w:*Chars, hundredths of a character) with twips beside them."""
    char_twips = round(CHAR_PITCH_PT * 20)
    attributes = {"firstLineChars": first_line * 100, "firstLine": first_line * char_twips}
    if left:
        attributes.update(leftChars=left * 100, left=left * char_twips)
    if right:
        attributes.update(rightChars=right * 100, right=right * char_twips)
    _put(ppr, "w:ind", **attributes)


def _border(ppr, side: str, *, size_eighths: int, colour: str, space_pt: int = 1,
            style: str = "single") -> None:
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = _put(ppr, "w:pBdr")
    _put(borders, f"w:{side}", val=style, sz=size_eighths, space=space_pt, color=colour)


# ---------------------------------------------------------------- styles


def _paragraph_style(document, name: str, *, font: str, size: float, bold: bool = False,
                     colour: RGBColor | None = None, align=None, first_line_chars: int = 0,
                     line_exact: float | None = LINE_PT, before: float = 0, after: float = 0,
                     keep_with_next: bool = False, outline: int | None = None,
                     snap_to_grid: bool = True):
    styles = document.styles
    style = styles[name] if name == STYLE_BODY else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    if name != STYLE_BODY:
        style.base_style = styles[STYLE_BODY]
        style.quick_style = True
    style.font.size = Pt(size)
    style.font.bold = bold
    if colour is not None:
        style.font.color.rgb = colour
    _set_fonts(style.element.get_or_add_rPr(), font)
    fmt = style.paragraph_format
    if align is not None:
        fmt.alignment = align
    if line_exact is not None:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(line_exact)
    else:
        fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    fmt.keep_with_next = keep_with_next
    fmt.widow_control = True
    ppr = style.element.get_or_add_pPr()
    _indent_chars(ppr, first_line=first_line_chars)
    if name == STYLE_BODY:
        # No extra space between Chinese and Latin text or digits: 〔2026〕3号, 2026年.
        _put(ppr, "w:autoSpaceDE", val=0)
        _put(ppr, "w:autoSpaceDN", val=0)
    if not snap_to_grid:
        _put(ppr, "w:snapToGrid", val=0)
    if outline is not None:
        _put(ppr, "w:outlineLvl", val=outline)
    return style


def _define_styles(document) -> None:
    # The defaults every run inherits: 仿宋 3号, Times New Roman for Latin text and digits.
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr_default, FANGSONG)
    # Condensed by 0.25 pt: a 16 pt character fits the 15.79 pt grid cell, so LibreOffice (which
    # gives a wider character two cells) also sets 28 to a line, as Word does.
    _put(rpr_default, "w:spacing", val=CONDENSE_TWENTIETHS)
    _put(rpr_default, "w:sz", val=BODY_PT * 2)
    _put(rpr_default, "w:szCs", val=BODY_PT * 2)
    _put(rpr_default, "w:lang", val="en-US", eastAsia="zh-CN", bidi="ar-SA")
    ppr_default = defaults.find(qn("w:pPrDefault"))
    if ppr_default is not None:  # the template's "space after 0, multiple 1.08" is not ours
        defaults.remove(ppr_default)

    J, C, R, L = (WD_ALIGN_PARAGRAPH.JUSTIFY, WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT,
                  WD_ALIGN_PARAGRAPH.LEFT)
    # The text is set at exactly one grid line (22 a page) and, condensed, 28 characters a line,
    # without snapping to the character grid: LibreOffice spreads a snapped line that mixes
    # Chinese and Latin characters; Word and LibreOffice then give the same lines.
    _paragraph_style(document, STYLE_BODY, font=FANGSONG, size=BODY_PT, align=J,
                     first_line_chars=2, snap_to_grid=False)
    _paragraph_style(document, STYLE_MARK, font=HEITI, size=BODY_PT, align=L)
    _paragraph_style(document, STYLE_ATTACHMENT, font=HEITI, size=BODY_PT, align=L)
    _paragraph_style(document, STYLE_ORGAN, font=XIAOBIAOSONG, size=TITLE_PT, colour=RED, align=C,
                     line_exact=None, snap_to_grid=False)
    _paragraph_style(document, STYLE_NUMBER, font=FANGSONG, size=BODY_PT, align=C)
    _paragraph_style(document, STYLE_TITLE, font=XIAOBIAOSONG, size=TITLE_PT, align=C,
                     line_exact=round(TITLE_PT * 1.6), keep_with_next=True, outline=0,
                     snap_to_grid=False)
    _paragraph_style(document, STYLE_CENTRED, font=KAITI, size=BODY_PT, align=C)
    _paragraph_style(document, STYLE_H1, font=HEITI, size=BODY_PT, align=J, first_line_chars=2,
                     keep_with_next=True, outline=1)
    _paragraph_style(document, STYLE_H2, font=KAITI, size=BODY_PT, align=J, first_line_chars=2,
                     keep_with_next=True, outline=2)
    _paragraph_style(document, STYLE_H3, font=FANGSONG, size=BODY_PT, bold=True, align=J,
                     first_line_chars=2, keep_with_next=True, outline=3)
    _paragraph_style(document, STYLE_SIGNER, font=FANGSONG, size=BODY_PT, align=R)
    _paragraph_style(document, STYLE_DATE, font=FANGSONG, size=BODY_PT, align=R)
    _paragraph_style(document, STYLE_TABLE, font=FANGSONG, size=TABLE_PT, align=C,
                     line_exact=None, snap_to_grid=False)
    _paragraph_style(document, STYLE_FIGURE, font=FANGSONG, size=BODY_PT, align=C,
                     line_exact=None, snap_to_grid=False, keep_with_next=False)
    _paragraph_style(document, STYLE_RECORD, font=FANGSONG, size=FOOTER_PT, align=L,
                     line_exact=None, snap_to_grid=False)
    _paragraph_style(document, STYLE_PAGE_NUMBER, font=SONGTI, size=FOOTER_PT, align=R,
                     line_exact=None, snap_to_grid=False)
    # Digits and dashes of the page number in 宋体 too (半角宋体阿拉伯数字).
    _set_fonts(document.styles[STYLE_PAGE_NUMBER].element.get_or_add_rPr(), SONGTI, SONGTI)


def _font_table(document) -> None:
    """Name each Chinese font's fallbacks in the font table (w:altName), so Word substitutes a
    font the machine has rather than a Latin one."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    try:
        fonts_part = document.part.part_related_by(RT.FONT_TABLE)
    except KeyError:
        return
    from docx.oxml import parse_xml

    root = parse_xml(fonts_part.blob)
    known = {f.get(qn("w:name")) for f in root.findall(qn("w:font"))}
    for name, fallbacks in FONT_FALLBACKS.items():
        if name in known:
            continue
        font = _append(root, "w:font", name=name)
        _append(font, "w:altName", val=fallbacks[0])
        _append(font, "w:charset", val="86")  # GB2312
        _append(font, "w:family", val="modern" if name in (FANGSONG, KAITI, HEITI) else "roman")
        _append(font, "w:pitch", val="variable")
    from lxml import etree

    fonts_part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                      standalone=True)


# ---------------------------------------------------------------- page set-up


def _page_setup(document) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(MARGIN_TOP_MM), Mm(MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(MARGIN_LEFT_MM), Mm(MARGIN_RIGHT_MM)
    section.gutter = Mm(0)
    section.header_distance = Mm(15)
    # The page number's line starts 7 mm under the text block: 35 − 7 − one 4号 line ≈ 22 mm.
    section.footer_distance = Mm(MARGIN_BOTTOM_MM - 7 - 6)
    section.start_type = WD_SECTION.NEW_PAGE
    sect_pr = section._sectPr
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:
        grid = _append(sect_pr, "w:docGrid")
    for attribute in list(grid.attrib):
        del grid.attrib[attribute]
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(LINE_PITCH_TWIPS))
    grid.set(qn("w:charSpace"), str(CHAR_SPACE))
    # Page numbers: odd pages at the right, even pages at the left.
    document.settings.odd_and_even_pages_header_footer = True
    section.different_first_page_header_footer = False
    _page_number(section.footer, odd=True)
    _page_number(section.even_page_footer, odd=False)


def _page_number(footer, *, odd: bool) -> None:
    footer.is_linked_to_previous = False
    paragraph = footer.paragraphs[0]
    paragraph.style = STYLE_PAGE_NUMBER
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if odd else WD_ALIGN_PARAGRAPH.LEFT
    ppr = paragraph._p.get_or_add_pPr()
    # One character (of 4号) in from the outer edge.
    ind = _put(ppr, "w:ind")
    ind.set(qn("w:right" if odd else "w:left"), str(FOOTER_PT * 20))
    paragraph.add_run("— ")
    _field(paragraph, "PAGE", "1")
    paragraph.add_run(" —")


def _field(paragraph, instruction: str, shown: str) -> None:
    begin = paragraph.add_run()
    _append(begin._r, "w:fldChar", fldCharType="begin")
    code = paragraph.add_run()
    instr = _append(code._r, "w:instrText")
    instr.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    instr.text = f" {instruction} "
    separate = paragraph.add_run()
    _append(separate._r, "w:fldChar", fldCharType="separate")
    paragraph.add_run(shown)
    end = paragraph.add_run()
    _append(end._r, "w:fldChar", fldCharType="end")


# ---------------------------------------------------------------- the document


class _Writer:
    def __init__(self, document):
        self.document = document

    def paragraph(self, text: str = "", style: str = STYLE_BODY, *, before_lines: float = 0,
                  before_pt: float | None = None):
        paragraph = self.document.add_paragraph(style=style)
        if text:
            paragraph.add_run(text)
        if before_pt is not None or before_lines:
            paragraph.paragraph_format.space_before = Pt(
                before_pt if before_pt is not None else before_lines * LINE_PT)
        return paragraph

    def body(self, text: str) -> None:
        """A paragraph of the text; lines starting 一、 / （一） / 1. are headings of that level,
        and a （一） or 1. heading runs into its paragraph after its first sentence."""
        text = text.strip()
        if not text:
            return
        if H1_RE.match(text):
            self.paragraph(text, STYLE_H1)
            return
        for pattern, style in ((H2_RE, STYLE_H2), (H3_RE, STYLE_H3)):
            if pattern.match(text):
                head, dot, rest = text.partition("。")
                if not rest.strip():
                    self.paragraph(text, style)
                    return
                paragraph = self.paragraph("", STYLE_BODY)
                run = paragraph.add_run(head + dot)
                heading = self.document.styles[style]
                font = heading.element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))
                _set_fonts(run._r.get_or_add_rPr(), font)
                run.bold = heading.font.bold
                paragraph.add_run(rest)
                return
        self.paragraph(text, STYLE_BODY)

    def table(self, header: list[str], rows: list[list], widths_mm: list[float]) -> None:
        table = self.document.add_table(rows=1, cols=len(header))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        tbl_pr = table._tbl.tblPr
        _put(tbl_pr, "w:tblW", w=round(sum(widths_mm) * TWIPS_PER_MM), type="dxa")
        _put(tbl_pr, "w:tblLayout", type="fixed")
        header_row = table.rows[0]
        _append(header_row._tr.get_or_add_trPr(), "w:tblHeader")  # repeated on each page
        for cell, text in zip(header_row.cells, header):
            self._cell(cell, text, bold=True, font=HEITI)
        for values in rows:
            row = table.add_row()
            _append(row._tr.get_or_add_trPr(), "w:cantSplit")
            for cell, value in zip(row.cells, values):
                self._cell(cell, "" if value is None else str(value))
        # The grid's columns (what LibreOffice lays out by) and each cell (what Word reads).
        for grid_col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths_mm):
            grid_col.set(qn("w:w"), str(round(width * TWIPS_PER_MM)))
        for column, width in zip(table.columns, widths_mm):
            for cell in column.cells:
                cell.width = Mm(width)
        # A table is followed by a small gap before the next text.
        self.paragraph("", STYLE_TABLE).paragraph_format.space_after = Pt(0)

    @staticmethod
    def _cell(cell, text: str, *, bold: bool = False, font: str | None = None) -> None:
        paragraph = cell.paragraphs[0]
        paragraph.style = STYLE_TABLE
        run = paragraph.add_run(text)
        run.bold = bold
        if font:
            _set_fonts(run._r.get_or_add_rPr(), font)
        tc_pr = cell._tc.get_or_add_tcPr()
        _put(tc_pr, "w:vAlign", val="center")

    def picture(self, png: bytes, width_mm: float) -> None:
        paragraph = self.paragraph("", STYLE_FIGURE)
        paragraph.add_run().add_picture(io.BytesIO(png), width=Mm(width_mm))


def build(bulletin, *, charts: bool = True) -> bytes:
    """The bulletin as a .docx: a 公文 when published, marked 征求意见稿 while a draft."""
    from taskflow.scores.reports import (
        GRADE_COLOURS,
        bar_chart,
        grade_label,
        light_text,
        progress_chart,
    )

    config = current_app.config
    organ, signer = config["BULLETIN_ORGAN"], config["BULLETIN_SIGNER"]
    copy_to = config["BULLETIN_COPY_TO"]
    published = bulletin.state == "published"
    data = bulletin.data
    issued_on = (clock.to_local(bulletin.published_at).date() if published and bulletin.published_at
                 else clock.local_today())

    document = Document()
    _define_styles(document)
    _page_setup(document)
    _font_table(document)
    core = document.core_properties
    # Core properties hold at most 255 characters (a title saved before the cap may be longer).
    core.title, core.author, core.language = bulletin.title[:255], organ[:255], "zh-CN"
    core.subject = bulletin.number or ""
    core.keywords = _("bulletin")
    out = _Writer(document)

    # ------------------------------------------------ 版头
    lead = 35.0 / 25.4 * 72  # the organ's mark starts 35 mm under the top of the text block
    if not published:
        out.paragraph(_("Draft for comment"), STYLE_MARK)
        lead -= LINE_PT
    if bulletin.superseded_at is not None:
        mark = out.paragraph(
            _("SUPERSEDED — the scores this bulletin was built on were corrected (revision %(n)s).",
              n=bulletin.superseded_by.revision if bulletin.superseded_by else "?"), STYLE_MARK)
        mark.runs[0].font.color.rgb = RED
        lead -= 2 * LINE_PT
    organ_paragraph = out.paragraph("", STYLE_ORGAN, before_pt=max(lead, 0))
    run = organ_paragraph.add_run(organ)
    size, scale = _organ_fit(organ)
    run.font.size = Pt(size)
    if scale < 100:
        _put(run._r.get_or_add_rPr(), "w:w", val=scale)
    number = bulletin.number or f"{config['BULLETIN_NUMBER_PREFIX']}〔{issued_on.year}〕　　号"
    number_paragraph = out.paragraph(number, STYLE_NUMBER, before_lines=2)
    # The red line, as wide as the text block, 4 mm under the 文号.
    _border(number_paragraph._p.get_or_add_pPr(), "bottom", size_eighths=12, colour=RED_HEX,
            space_pt=11)

    # ------------------------------------------------ 主体
    out.paragraph(bulletin.title, STYLE_TITLE, before_lines=2)
    out.paragraph(_("(data as of %(d)s)", d=_long_date(data.get("as_of"))), STYLE_CENTRED)
    addressee = out.paragraph(_("To every unit concerned:"),
                              STYLE_BODY, before_lines=1)
    _indent_chars(addressee._p.get_or_add_pPr())  # 主送机关 flush left

    for section in bulletin.sections:
        out.paragraph(section.title, STYLE_H1)
        for line in section.body.split("\n"):
            out.body(line)
        if section.key == "rankings":
            for index, (group, rows) in enumerate(data.get("rankings", {}).items(), start=1):
                out.paragraph(f"（{_chinese_ordinal(index)}）{peer_group_label(group)}", STYLE_H2)
                out.table([_("Rank"), _("Unit"), _("Total"), _("Grade"), _("Rank change")],
                          [[r["rank"], r["unit"], f'{r["total"]:.2f}', grade_label(r["grade"]),
                            movement_text(r)] for r in rows],
                          [16, 60, 24, 32, 24])
                if rows and charts:
                    out.picture(bar_chart(peer_group_label(group), [r["unit"] for r in rows],
                                          [r["total"] for r in rows],
                                          [GRADE_COLOURS.get(r["grade"], "#206bc4") for r in rows],
                                          ylabel=_("Total")), 150)
        elif section.key == "red_list":
            if data.get("red_units"):
                out.paragraph("1." + _("Units with the most overdue items"), STYLE_H3)
                out.table([_("No."), _("Unit"), _("Overdue items")],
                          [[i, u["unit"], u["count"]]
                           for i, u in enumerate(data["red_units"], start=1)],
                          [16, 100, 40])
            if data.get("red_items"):
                out.body(_("The list of the overdue items is attached."))
        elif section.key == "progress":
            rows = data.get("progress", [])
            if rows:
                out.table([_("Indicator"), _("Actual"), _("Year target"), _("Expected to date"),
                           _("Done / expected"), _("Light")],
                          [[p["label"], p["actual"], p["target"], p["expected"],
                            p.get("shown", p["completion_pct"]), light_text(p["light"])]
                           for p in rows],
                          [44, 18, 22, 24, 30, 18])
                if charts:
                    out.picture(progress_chart(_("Progress against the targets"),
                                               [p["label"] for p in rows],
                                               [p["actual"] for p in rows],
                                               [p["target"] or 0 for p in rows]), 130)
        elif section.key == "commendations" and data.get("recognitions"):
            out.table([_("Unit"), _("Recognition"), _("Date"), _("Points")],
                      [[r["unit"], r["title"], r["awarded"], r["points"]]
                       for r in data["recognitions"]],
                      [40, 70, 28, 18])

    # ------------------------------------------------ 附件说明: one line under the text
    items = data.get("red_items", [])
    if items:
        out.paragraph(_("Attachment: %(name)s", name=_("List of the overdue items")), STYLE_BODY,
                      before_lines=1)

    # ------------------------------------------------ 落款 and 成文日期
    signer_chars, date_text = len(signer), chinese_date(issued_on)
    date_right = signer_chars - len(date_text)
    signer_right = 2
    if date_right < 2:  # the date is the longer: it keeps 2 characters, the signer moves left
        signer_right += 2 - date_right
        date_right = 2
    signer_paragraph = out.paragraph(signer, STYLE_SIGNER, before_lines=2)
    _indent_chars(signer_paragraph._p.get_or_add_pPr(), right=signer_right)
    date_paragraph = out.paragraph(date_text, STYLE_DATE)
    _indent_chars(date_paragraph._p.get_or_add_pPr(), right=date_right)

    # ------------------------------------------------ 附件: on a new page, before the 版记
    if items:
        attachment = out.paragraph(_("Attachment"), STYLE_ATTACHMENT)
        attachment.paragraph_format.page_break_before = True
        out.paragraph(_("List of the overdue items"), STYLE_TITLE, before_lines=1)
        out.paragraph(_("(overdue on %(d)s, in working days counted to that day)",
                        d=_long_date(data.get("as_of"))), STYLE_CENTRED)
        out.table([_("No."), _("Task"), _("Unit"), _("Item"), _("Due"),
                   _("Working days overdue")],
                  [[i, r["task"], r["unit"], r["title"], r["due"], r["days"]]
                   for i, r in enumerate(items, start=1)],
                  [14, 14, 42, 42, 24, 20])

    # ------------------------------------------------ 版记
    _record(document, organ, copy_to, issued_on)

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _record(document, organ: str, copy_to: str, issued_on: date) -> None:
    """The 版记 at the foot of the last page: its lines (抄送, then 印发机关 and 印发日期) in a
    frame at the bottom of the text block (w:framePr), between a thick rule at the top and the
    bottom and a thin one between them."""
    lines = []
    if copy_to:
        lines.append((_("Copy to: %(names)s", names=copy_to), None))
    # 印发日期 in Arabic numerals (GB/T 9704-2012 7.4.3): 2026年12月2日印发.
    lines.append((organ, _("Printed and issued on %(d)s", d=_long_date(issued_on.isoformat()))))
    width = round(TEXT_WIDTH_MM * TWIPS_PER_MM)
    tab = width - FOOTER_PT * 20  # the right edge, one character in
    for index, (left, right) in enumerate(lines):
        paragraph = document.add_paragraph(style=STYLE_RECORD)
        ppr = paragraph._p.get_or_add_pPr()
        _put(ppr, "w:framePr", w=width, wrap="around", vAnchor="margin", hAnchor="margin",
             xAlign="center", yAlign="bottom")
        _indent_chars(ppr, left=1, right=1)
        paragraph.paragraph_format.space_before = Pt(0)
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.add_run(left)
        if right:
            _append(_put(ppr, "w:tabs"), "w:tab", val="right", pos=tab)
            paragraph.add_run("\t" + right)
        if index == 0:
            _border(ppr, "top", size_eighths=8, colour="000000", space_pt=4)
        last = index == len(lines) - 1
        _border(ppr, "bottom", size_eighths=8 if last else 4, colour="000000", space_pt=4)


def _organ_fit(organ: str) -> tuple[float, int]:
    """(size in pt, horizontal scale in %) that puts the organ's name on one line of the text
    block, as large as 2号 allows (long names are compressed, down to 60 %, then made smaller)."""
    width_pt = TEXT_WIDTH_MM / 25.4 * 72
    chars = sum(1 if ord(c) > 0x7F else 0.5 for c in organ) or 1
    size = float(TITLE_PT)
    scale = min(100, int(width_pt / (chars * size) * 100))
    if scale < 60:
        size = round(width_pt / (chars * 0.6), 1)
        scale = 60
    return size, scale
