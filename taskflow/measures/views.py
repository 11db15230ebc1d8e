"""The measures page (/measures): docs/measures.md, the definitions every "how is this computed"
link opens."""

from functools import lru_cache
from pathlib import Path

import markdown
from flask import render_template
from flask_login import login_required
from markupsafe import Markup

from config import BASE_DIR
from taskflow.measures import bp

MEASURES_DOC = BASE_DIR / "docs" / "measures.md"


@lru_cache(maxsize=4)
def _rendered(path: Path, mtime: float) -> Markup:
    # The document is the project's own text (no user input), so its HTML is trusted; the mtime
    # in the key re-renders it when a deployment updates the file.
    html = markdown.markdown(path.read_text(encoding="utf-8"),
                             extensions=["attr_list", "tables", "fenced_code", "sane_lists"])
    return Markup(html)


def measures_html() -> Markup:
    """docs/measures.md as HTML."""
    return _rendered(MEASURES_DOC, MEASURES_DOC.stat().st_mtime)


@bp.route("/")
@login_required
def page():
    """Every measure's definition, formula, as-of rule and example."""
    return render_template("measures/page.html", body=measures_html())
