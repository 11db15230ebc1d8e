"""The quarterly bulletin as a 公文 (GB/T 9704-2012): read back with python-docx (and its XML where
python-docx has no API), numbered at publication, and converted to PDF by LibreOffice."""

import io
import os
import re
import shutil
import subprocess
from datetime import date, datetime, timezone

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, Twips
from sqlalchemy import select, update

from taskflow.core import clock
from taskflow.extensions import db
from taskflow.scores import bulletin_docx, operations, queries
from taskflow.scores.models import Bulletin, ScoreCard

NOW = datetime(2024, 4, 10, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
ORGAN = "綦江区“双倍增”行动联席会议办公室"


@pytest.fixture
def bulletins(app, plan, computed, make_user):
    """Q1 2024 published, with previous ranks for three units; a published and a draft bulletin."""
    office = make_user("office", username="office-b")
    supervisor = make_user("supervisor", username="sup-b")
    with clock.frozen_at(NOW):
        quarter = queries.latest_period(plan.id, "2024Q1")
        units = computed.units
        # Ranked last quarter: A 3rd (now up or down), B 1st; C was not ranked (新).
        db.session.execute(update(ScoreCard).where(ScoreCard.period_id == quarter.id,
                                                   ScoreCard.unit_id == units["A"].id)
                           .values(previous_rank=3))
        db.session.execute(update(ScoreCard).where(ScoreCard.period_id == quarter.id,
                                                   ScoreCard.unit_id == units["B"].id)
                           .values(previous_rank=1))
        operations.lock(quarter, supervisor)
        operations.publish(quarter, supervisor)
        published = operations.create_bulletin(quarter, office)
        draft = operations.create_bulletin(quarter, office)
        operations.publish_bulletin(published, office)
        db.session.commit()
    return {"published": published, "draft": draft, "office": office, "quarter": quarter,
            "units": units}


def _download(client, login, bulletin, office):
    login(office)
    response = client.get(f"/scores/bulletins/{bulletin.id}/bulletin.docx")
    assert response.status_code == 200
    return response, Document(io.BytesIO(response.data))


def _by_style(document, name):
    return [p for p in document.paragraphs if p.style.name == name]


def _east_asia(style_or_run_element):
    fonts = style_or_run_element.find(qn("w:rFonts"))
    return None if fonts is None else fonts.get(qn("w:eastAsia"))


def _style_font(document, name):
    """(East-Asian font, Latin font, size in pt, bold) a paragraph style gives its text."""
    style = document.styles[name]
    rpr = style.element.rPr
    fonts = rpr.find(qn("w:rFonts"))
    return (fonts.get(qn("w:eastAsia")), fonts.get(qn("w:ascii")),
            style.font.size.pt if style.font.size else None, bool(style.font.bold))


def test_the_published_bulletin_is_an_a4_official_document(client, login, bulletins):
    published = bulletins["published"]
    response, document = _download(client, login, published, bulletins["office"])
    # The 文号 from the series, given at publication; the file is named by it.
    assert published.number == "綦双倍增办〔2024〕1号"
    assert published.number_year == 2024 and published.number_sequence == 1
    assert "%E7%B6%A6%E5%8F%8C%E5%80%8D%E5%A2%9E%E5%8A%9E%E3%80%942024%E3%80%951%E5%8F%B7" in \
        response.headers["Content-Disposition"]  # 綦双倍增办〔2024〕1号, URL-encoded

    section = document.sections[0]
    def mm(length):  # stored in twips: to 0.1 mm
        return round(length / Mm(1), 1)

    assert (mm(section.page_width), mm(section.page_height)) == (210, 297)
    assert mm(section.top_margin) == 37 and mm(section.bottom_margin) == 35
    assert mm(section.left_margin) == 28 and mm(section.right_margin) == 26
    text_width = section.page_width - section.left_margin - section.right_margin
    text_height = section.page_height - section.top_margin - section.bottom_margin
    assert round(text_width / Mm(1)) == 156 and round(text_height / Mm(1)) == 225
    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "linesAndChars"
    line_pitch = int(grid.get(qn("w:linePitch")))  # twips
    # 22 lines a page
    assert line_pitch * 22 <= round(text_height / Twips(1)) < (line_pitch + 1) * 22
    char_pitch = 16 + int(grid.get(qn("w:charSpace"))) / 4096  # pt, over the 3号 body size
    assert 27.9 < text_width / Pt(1) / char_pitch < 28.1  # 28 characters a line

    # A machine without an office font substitutes the one the font table names beside it.
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml import parse_xml

    font_table = parse_xml(document.part.part_related_by(RT.FONT_TABLE).blob)
    alternatives = {f.get(qn("w:name")): f.find(qn("w:altName")).get(qn("w:val"))
                    for f in font_table.findall(qn("w:font")) if f.find(qn("w:altName")) is not None}
    assert alternatives == {"方正小标宋简体": "宋体", "仿宋_GB2312": "仿宋", "黑体": "SimHei",
                            "楷体_GB2312": "楷体", "宋体": "SimSun"}

    # Fonts and sizes per paragraph kind.
    assert _style_font(document, "Normal") == ("仿宋_GB2312", "Times New Roman", 16, False)
    assert _style_font(document, "公文标题")[::2] == ("方正小标宋简体", 22)
    assert _style_font(document, "一级标题")[::2] == ("黑体", 16)
    assert _style_font(document, "二级标题")[::2] == ("楷体_GB2312", 16)
    assert _style_font(document, "三级标题") == ("仿宋_GB2312", "Times New Roman", 16, True)
    defaults = document.styles.element.find(qn("w:docDefaults"))
    default_fonts = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr")).find(qn("w:rFonts"))
    assert default_fonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert default_fonts.get(qn("w:eastAsiaTheme")) is None  # a theme font would win

    title = _by_style(document, "公文标题")
    assert title[0].text == published.title == "2024年第一季度“双倍增”行动工作通报"
    assert document.styles["公文标题"].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    headings = [p.text for p in _by_style(document, "一级标题")]
    assert headings[:2] == ["一、总体情况", "二、赛马比拼排名"] and len(headings) == 6
    assert [p.text for p in _by_style(document, "二级标题")] == ["（一）区级部门", "（二）街镇"]
    assert _by_style(document, "三级标题")[0].text.startswith("1.")
    body = [p for p in _by_style(document, "Normal") if p.text.strip()]
    # 主送机关 flush left, first after the title block.
    assert body[0].text == "各有关单位："
    assert body[0]._p.pPr.find(qn("w:ind")).get(qn("w:firstLineChars")) == "0"
    assert body and all(p.paragraph_format.first_line_indent is None for p in body[1:]), \
        "body paragraphs take the style's two-character indent"
    indent = document.styles["Normal"].element.pPr.find(qn("w:ind"))
    assert indent.get(qn("w:firstLineChars")) == "200"  # two characters of the grid
    assert 31 < int(indent.get(qn("w:firstLine"))) / 20 < 32

    # 版头: the organ in red 小标宋 on one line, the 文号 over a red rule.
    organ = _by_style(document, "发文机关标志")
    assert [p.text for p in organ] == [ORGAN]
    assert document.styles["发文机关标志"].font.color.rgb == bulletin_docx.RED
    assert _east_asia(document.styles["发文机关标志"].element.rPr) == "方正小标宋简体"
    number = _by_style(document, "发文字号")
    assert [p.text for p in number] == ["綦双倍增办〔2024〕1号"]
    assert _east_asia(document.styles["发文字号"].element.rPr) == "仿宋_GB2312"
    rule = number[0]._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert rule.get(qn("w:color")) == "FF0000" and rule.get(qn("w:val")) == "single"
    # 落款 and the date in Chinese numerals, right-aligned.
    signer, day = _by_style(document, "发文机关署名"), _by_style(document, "成文日期")
    assert [p.text for p in signer] == [ORGAN]
    assert [p.text for p in day] == ["二〇二四年四月十日"]
    for name in ("发文机关署名", "成文日期"):
        assert document.styles[name].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT
        assert _style_font(document, name)[::2] == ("仿宋_GB2312", 16)
    # The full list of overdue items is an attachment (附件) on its own page, named under the text.
    assert [p.text for p in _by_style(document, "附件标识")] == ["附件"]
    assert _by_style(document, "附件标识")[0].paragraph_format.page_break_before
    assert _style_font(document, "附件标识")[::2] == ("黑体", 16)
    assert "附件：逾期事项清单" in [p.text for p in body]
    assert [p.text for p in _by_style(document, "公文标题")][1:] == ["逾期事项清单"]
    attached = document.tables[-1]
    assert [c.text for c in attached.rows[0].cells] == ["序号", "任务", "单位", "事项", "截止日期",
                                                        "逾期工作日"]
    assert len(attached.rows) == 1 + len(published.data["red_items"]) > 1
    # 版记: 印发机关 and 印发日期 between rules.
    # 版记 at the foot of the last page (a frame at the bottom of the text block), between rules.
    record = _by_style(document, "版记")
    assert record[-1]._p is document.paragraphs[-1]._p  # the last thing in the file
    assert ORGAN in record[-1].text and "2024年4月10日印发" in record[-1].text
    frame = record[-1]._p.pPr.find(qn("w:framePr"))
    assert frame.get(qn("w:yAlign")) == "bottom" and frame.get(qn("w:vAnchor")) == "margin"
    rules = record[0]._p.pPr.find(qn("w:pBdr"))
    assert rules.find(qn("w:top")).get(qn("w:sz")) == "8"
    assert record[-1]._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom")).get(qn("w:sz")) == "8"
    assert _style_font(document, "版记")[::2] == ("仿宋_GB2312", 14)

    # No draft marker anywhere in a published bulletin.
    everything = "\n".join(p.text for p in document.paragraphs)
    assert "征求意见稿" not in everything and "草稿" not in everything
    assert not _by_style(document, "版头标注")

    # 名次变化 filled: ↑ / ↓ / — / 新, never empty.
    tables = [t for t in document.tables if t.rows[0].cells[-1].text == "名次变化"]
    assert len(tables) == 2
    changes = {row.cells[1].text: row.cells[-1].text for t in tables for row in t.rows[1:]}
    assert all(changes.values())
    cards = {c.unit.name: c for c in db.session.scalars(
        select(ScoreCard).where(ScoreCard.period_id == bulletins["quarter"].id))}
    for name, card in cards.items():
        expected = ("新" if card.previous_rank is None else
                    "—" if card.previous_rank == card.rank else
                    f"↑{card.previous_rank - card.rank}" if card.previous_rank > card.rank
                    else f"↓{card.rank - card.previous_rank}")
        assert changes[name] == expected
    assert changes["A镇"] != "新" and changes["C镇"] == "新"

    # Page numbers "— N —" in 4号宋体, odd pages at the right, even pages at the left.
    assert document.settings.odd_and_even_pages_header_footer
    odd, even = section.footer.paragraphs[0], section.even_page_footer.paragraphs[0]
    for paragraph, alignment in ((odd, WD_ALIGN_PARAGRAPH.RIGHT), (even, WD_ALIGN_PARAGRAPH.LEFT)):
        assert paragraph.alignment == alignment
        assert paragraph.text == "— 1 —"
        assert "PAGE" in "".join(t.text for t in paragraph._p.iter(qn("w:instrText")))
        assert _style_font(document, paragraph.style.name)[:3] == ("宋体", "宋体", 14)


def test_the_page_shows_the_number(client, login, bulletins):
    login(bulletins["office"])
    page = client.get(f"/scores/bulletins/{bulletins['published'].id}")
    assert '<strong id="bulletin-number">綦双倍增办〔2024〕1号</strong>' in page.text
    draft = client.get(f"/scores/bulletins/{bulletins['draft'].id}")
    assert 'id="bulletin-number"' not in draft.text


def test_a_draft_is_marked_and_has_no_number(client, login, bulletins):
    draft = bulletins["draft"]
    assert draft.number is None
    response, document = _download(client, login, draft, bulletins["office"])
    marks = [p.text for p in _by_style(document, "版头标注")]
    assert marks == ["征求意见稿"]
    assert _style_font(document, "版头标注")[::2] == ("黑体", 16)
    assert [p.text for p in _by_style(document, "发文字号")] == ["綦双倍增办〔2024〕　　号"]
    assert "%E8%8D%89%E7%A8%BF" in response.headers["Content-Disposition"]  # 草稿


def test_settings_name_the_organ_signer_and_series(app, client, login, bulletins):
    app.config.update(BULLETIN_ORGAN="重庆市綦江区科学技术局", BULLETIN_SIGNER="区科技局",
                      BULLETIN_NUMBER_PREFIX="綦科发", BULLETIN_COPY_TO="区委办公室，区政府办公室")
    with clock.frozen_at(NOW):
        draft = db.session.get(Bulletin, bulletins["draft"].id)
        operations.publish_bulletin(draft, bulletins["office"])
        db.session.commit()
    assert draft.number == "綦科发〔2024〕2号"  # one series per year, whatever the prefix
    _response, document = _download(client, login, draft, bulletins["office"])
    assert [p.text for p in _by_style(document, "发文机关标志")] == ["重庆市綦江区科学技术局"]
    assert [p.text for p in _by_style(document, "发文机关署名")] == ["区科技局"]
    assert [p.text for p in _by_style(document, "发文字号")] == ["綦科发〔2024〕2号"]
    record = _by_style(document, "版记")
    assert [p.text for p in record][0] == "抄送：区委办公室，区政府办公室"
    assert record[0]._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom")).get(qn("w:sz")) == "4"


def test_two_publications_never_share_a_number(app, bulletins):
    office, quarter = bulletins["office"], bulletins["quarter"]
    with clock.frozen_at(NOW):
        more = [operations.create_bulletin(quarter, office) for _ in range(3)]
        db.session.commit()
        for bulletin in more:
            operations.publish_bulletin(bulletin, office)
            db.session.commit()
    numbers = db.session.execute(select(Bulletin.number_year, Bulletin.number_sequence)
                                 .where(Bulletin.number.is_not(None))
                                 .order_by(Bulletin.number_sequence)).all()
    assert numbers == [(2024, 1), (2024, 2), (2024, 3), (2024, 4)]
    # A second number for the same (year, sequence) is refused by the database itself.
    clash = more[0]
    with pytest.raises(Exception):
        db.session.execute(update(Bulletin).where(Bulletin.id == more[1].id)
                           .values(number_sequence=clash.number_sequence))
        db.session.flush()
    db.session.rollback()
    # A stale view of the series (another writer published meanwhile) takes the next number.
    with clock.frozen_at(NOW):
        late = operations.create_bulletin(quarter, office)
        db.session.commit()
        db.session.execute(update(Bulletin).where(Bulletin.id == bulletins["draft"].id)
                           .values(number_year=2024, number_sequence=None))
        operations.publish_bulletin(late, office)
        db.session.commit()
    assert late.number_sequence == 5 and late.number == "綦双倍增办〔2024〕5号"


def test_the_publication_is_audited_with_its_number(bulletins):
    from taskflow.audit.models import AuditEvent

    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "scores.bulletin_publish")).all()[-1]
    assert event.after["number"] == "綦双倍增办〔2024〕1号"


def test_chinese_dates():
    assert bulletin_docx.chinese_date(date(2026, 10, 9)) == "二〇二六年十月九日"
    assert bulletin_docx.chinese_date(date(2026, 12, 31)) == "二〇二六年十二月三十一日"
    assert bulletin_docx.chinese_date(date(2030, 1, 20)) == "二〇三〇年一月二十日"
    assert bulletin_docx.chinese_date(date(2024, 11, 11)) == "二〇二四年十一月十一日"


# ---------------------------------------------------------------- LibreOffice


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture
def soffice():
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        message = ("LibreOffice (soffice) is not installed: apt-get install libreoffice-writer "
                   "libreoffice-calc poppler-utils")
        if _running_in_ci():
            pytest.fail(message)
        pytest.skip(message)
    if shutil.which("pdfinfo") is None:
        message = "pdfinfo is not installed: apt-get install poppler-utils"
        if _running_in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return found


def convert_to_pdf(soffice: str, source, out_dir) -> "os.PathLike":
    """soffice --headless --convert-to pdf, with its own profile so parallel runs do not meet."""
    profile = out_dir / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(out_dir), str(source)],
                   check=True, capture_output=True, timeout=180)
    return out_dir / (source.stem + ".pdf")


def pdf_pages(pdf) -> list[tuple[float, float]]:
    """(width, height) in pt of every page (pdfinfo)."""
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "9999", str(pdf)], check=True,
                          capture_output=True, text=True).stdout
    return [(float(w), float(h)) for w, h in
            re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)]


def test_libreoffice_prints_the_bulletin_on_a4_pages(client, login, bulletins, soffice, tmp_path):
    _response, _document = _download(client, login, bulletins["published"], bulletins["office"])
    source = tmp_path / "bulletin.docx"
    source.write_bytes(_response.data)
    pdf = convert_to_pdf(soffice, source, tmp_path)
    if os.environ.get("TASKFLOW_KEEP_PDF"):  # to look at the pages: a folder to copy them to
        shutil.copy(pdf, os.environ["TASKFLOW_KEEP_PDF"])
    pages = pdf_pages(pdf)
    # 版头 + title + two sections on page 1; the rankings with their charts, the red list,
    # progress and commendations and the 落款 on pages 2–4; the attached list of overdue items and
    # the 版记 on page 5: five pages as designed.
    assert len(pages) == 5, pages
    assert all(abs(w - 595.3) < 1 and abs(h - 841.9) < 1 for w, h in pages), pages
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout.replace(" ", "")  # pdftotext spaces Latin and CJK
    assert "綦双倍增办〔2024〕1号" in text and "—1—" in text and "—5—" in text
    assert "征求意见稿" not in text


def test_two_publications_at_the_same_moment_get_two_numbers(app, bulletins):
    """Two offices publish at once, each in its own session and transaction: the lock (a
    PostgreSQL advisory lock, SQLite's write lock) makes the second wait for the first's number."""
    import threading

    office_id, quarter = bulletins["office"].id, bulletins["quarter"]
    with clock.frozen_at(NOW):
        ids = [operations.create_bulletin(quarter, bulletins["office"]).id for _ in range(2)]
        db.session.commit()
    db.session.remove()
    barrier, errors = threading.Barrier(2), []

    def publish(bulletin_id):
        try:
            with app.app_context(), clock.frozen_at(NOW):
                from taskflow.accounts.models import User

                bulletin = db.session.get(Bulletin, bulletin_id)
                actor = db.session.get(User, office_id)
                barrier.wait(timeout=10)
                operations.publish_bulletin(bulletin, actor)
                db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=publish, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    numbers = sorted(db.session.scalars(select(Bulletin.number_sequence)
                                        .where(Bulletin.id.in_(ids))))
    assert numbers == [2, 3]  # the fixture's bulletin holds 1


def test_publishing_from_the_page_says_the_number(client, login, bulletins):
    draft = bulletins["draft"]
    login(bulletins["office"])
    url = f"/scores/bulletins/{draft.id}/publish"
    assert "编定文号" in client.get(url).text  # the confirmation page says a number is given
    with clock.frozen_at(NOW):
        page = client.post(url, data={"version": draft.version_id, "confirm": "yes"},
                           follow_redirects=True)
    assert "通报已发布，文号 綦双倍增办〔2024〕2号" in page.text
    db.session.rollback()
    assert draft.state == "published" and draft.number == "綦双倍增办〔2024〕2号"
