"""Evidence preview in a real browser: a reporter sends a two-page PDF and a photo; the office
opens the PDF in the pdf.js viewer (pages drawn on a canvas, next page and zoom, also at a
phone's width) and the photo full size, with no console error and no request leaving the site."""

from urllib.parse import urlsplit

import pytest

from taskflow.core import clock
from tests.helpers import TEST_PASSWORD, pdf_document, png_bytes

pytestmark = pytest.mark.browser

PDF_NAME = "古南街道季度工作总结.pdf"
PHOTO_NAME = "现场照片.png"
PHOTO_SIZE = (480, 360)


def two_page_pdf() -> bytes:
    """Page 1 a blue square, page 2 a red one (no fonts: what is drawn is plain to check)."""
    blue, red = b"0 0 1 rg 20 20 160 160 re f", b"1 0 0 rg 20 20 160 160 re f"
    return pdf_document([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(blue) + blue + b"\nendstream",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 6 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(red) + red + b"\nendstream",
    ])



@pytest.fixture
def reported(page, live_server, sign_in, make_unit, make_task, make_assignment, make_milestone,
             make_user):
    """A town's reporter has sent a report with the PDF and the photo; its update id."""
    from datetime import timedelta

    from sqlalchemy import select

    from taskflow.assignments.models import StatusUpdate
    from taskflow.extensions import db

    town = make_unit(name="古南街道")
    assignment = make_assignment(task=make_task(title="培育科技型企业"), unit=town,
                                 role="responsible")
    milestone = make_milestone(assignment=assignment, title="2024年第1季度进展",
                               due=clock.local_today() + timedelta(days=10))
    make_user("reporter", unit=town, username="gunan")
    make_user("office", username="office")
    sign_in(page, live_server, "gunan", TEST_PASSWORD)
    page.goto(f"/milestones/{milestone.id}")
    page.fill("input[name=progress]", "50")
    page.fill("textarea[name=narrative]", "走访企业 35 家。")
    page.set_input_files("input[type=file][name=files]", files=[
        {"name": PDF_NAME, "mimeType": "application/pdf", "buffer": two_page_pdf()},
        {"name": PHOTO_NAME, "mimeType": "image/png", "buffer": png_bytes(*PHOTO_SIZE, rgb=(16, 160, 64))}])
    with page.expect_navigation():
        page.get_by_role("button", name="提交报送").click()
    assert page.locator(".alert-danger").count() == 0, page.inner_text("main")
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")
    with live_server.app.app_context():
        return db.session.scalar(select(StatusUpdate.id))


def painted(page, colour: str) -> int:
    """How many canvas pixels are mostly `colour` ("blue" or "red")."""
    return page.evaluate("""(colour) => {
        const canvas = document.querySelector('[data-pdf-canvas]');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
            const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
            const blue = b > 200 && r < 60 && g < 60, red = r > 200 && g < 60 && b < 60;
            if (colour === 'blue' ? blue : red) n++;
        }
        return n;
    }""", colour)


def open_viewer(page, update_id):
    page.goto(f"/updates/{update_id}")
    with page.expect_navigation():
        page.locator("[data-evidence-view]").first.click()
    assert urlsplit(page.url).path.endswith("/view")
    page.wait_for_selector("#pdf-viewer[data-state=ready]")


def test_the_office_reads_the_pdf_in_the_viewer_and_the_photo_full_size(
        page, live_server, sign_in, network, reported):
    sign_in(page, live_server, "office", TEST_PASSWORD)
    page.goto(f"/updates/{reported}")
    main = page.inner_text("main")
    assert PDF_NAME in main and PHOTO_NAME in main

    # The photo: a thumbnail, and a tap shows it full size over the page.
    thumbnail = page.locator("[data-evidence-full] img")
    thumbnail.wait_for()
    page.wait_for_function("document.querySelector('[data-evidence-full] img').naturalWidth > 0")
    box = thumbnail.bounding_box()
    assert box["width"] < 200  # a thumbnail, not the photo
    page.locator("[data-evidence-full]").click()
    lightbox = page.locator("[data-evidence-lightbox]")
    assert lightbox.is_visible()
    page.wait_for_function(
        "document.querySelector('[data-evidence-lightbox] img').naturalWidth > 0")
    natural = page.evaluate("(() => { const i = document.querySelector("
                            "'[data-evidence-lightbox] img'); return [i.naturalWidth, "
                            "i.naturalHeight, i.getBoundingClientRect().width]; })()")
    assert natural[:2] == list(PHOTO_SIZE)
    assert natural[2] >= PHOTO_SIZE[0] * 0.99  # 1280 px wide: shown at its full size
    assert PHOTO_NAME in lightbox.inner_text()
    page.keyboard.press("Escape")
    assert not lightbox.is_visible()

    # The PDF: pdf.js draws page 1 (blue) on a canvas; next page draws page 2 (red).
    open_viewer(page, reported)
    assert painted(page, "blue") > 1000 and painted(page, "red") == 0
    assert "1" in page.inner_text("[data-pdf-page-label]")
    page.locator("[data-pdf-next]").click()
    page.wait_for_selector("#pdf-viewer[data-page='2'][data-state=ready]")
    page.wait_for_function("document.querySelector('[data-pdf-next]').disabled")
    assert painted(page, "red") > 1000 and painted(page, "blue") == 0

    pdfjs = [url for url, status in network.responses if "/assets/pdfjs/" in url]
    assert any(url.split("?")[0].endswith("pdf.worker.min.js") for url in pdfjs)
    assert all(status == 200 for url, status in network.responses if "/assets/" in url)
    assert network.external == []
    assert network.console_errors == []


def test_the_viewer_fits_a_phone_and_zooms(page, live_server, sign_in, network, reported):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "office", TEST_PASSWORD)
    open_viewer(page, reported)
    width = page.evaluate("document.querySelector('[data-pdf-canvas]').getBoundingClientRect()"
                          ".width")
    assert 250 < width <= 390  # fitted to the screen's width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("[data-pdf-zoom-in]").click()
    page.wait_for_function(f"document.querySelector('[data-pdf-canvas]')"
                           f".getBoundingClientRect().width > {width * 1.2}")
    page.wait_for_selector("#pdf-viewer[data-state=ready]")
    assert painted(page, "blue") > 1000
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the stage scrolls
    page.locator("[data-pdf-fit]").click()
    page.wait_for_function(f"Math.abs(document.querySelector('[data-pdf-canvas]')"
                           f".getBoundingClientRect().width - {width}) < 2")
    page.wait_for_selector("#pdf-viewer[data-state=ready]")
    assert painted(page, "blue") > 1000
    assert network.external == [] and network.console_errors == []
