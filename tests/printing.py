"""Printing a spreadsheet as LibreOffice does: converted to PDF (headless), pages counted with
pdfinfo and read with pdftotext. `needs_office` skips where soffice is missing, except in CI
(CI=true), where the test set-up installs it (make libreoffice)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = ("soffice", "pdfinfo", "pdftotext")
needs_office = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS) and os.environ.get("CI") != "true",
    reason="LibreOffice or poppler-utils not installed (make libreoffice)")


def to_pdf(tmp_path: Path, name: str, content: bytes) -> Path:
    """The file converted to PDF by headless LibreOffice, next to it in tmp_path."""
    source = tmp_path / name
    source.write_bytes(content)
    profile = tmp_path / "lo-profile"  # a private profile: parallel conversions do not collide
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    pdf = source.with_suffix(".pdf")
    assert pdf.is_file()
    return pdf


def pdf_info(pdf: Path) -> dict:
    """Page count and the first page's size in points (pdfinfo)."""
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                         text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    width, height = map(float, re.search(r"^Page size:\s+([\d.]+) x ([\d.]+)", out, re.M).groups())
    return {"pages": pages, "width": width, "height": height}


def page_texts(pdf: Path) -> list[str]:
    """The text of each non-empty page, laid out (pdftotext -layout)."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    return [page for page in out.split("\f") if page.strip()]
