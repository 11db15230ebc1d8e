"""Message catalogs per area: extract, update, and check that every string has a Chinese text.

    python -m taskflow.core.i18n_tools update   # refresh every area's zh_CN and en .po files
    python -m taskflow.core.i18n_tools check    # list strings with no zh_CN translation
    python -m taskflow.core.i18n_tools fill AREA < pairs.tsv   # "English<TAB>中文" per line
"""

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from config import BASE_DIR

LOCALES = ("zh_CN", "en")
METHODS = [("**.py", "python"), ("**.html", "jinja2")]
OPTIONS = {"**.html": {"extensions": "jinja2.ext.do"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "lazy_ngettext": (1, 2)}


def area_sources(area: str) -> list[Path]:
    """Where an area's strings live: its package and its template folder (core: the shared ones)."""
    if area == "core":
        templates = BASE_DIR / "templates"
        return [BASE_DIR / "taskflow" / "core", templates / "macros", templates / "errors",
                templates / "base.html"]
    return [BASE_DIR / "taskflow" / area, BASE_DIR / "templates" / area]


def extract(area: str) -> Catalog:
    """All translatable strings of one area."""
    catalog = Catalog(project="TaskFlow", domain="messages")
    for source in area_sources(area):
        if source.is_file():
            from babel.messages.extract import extract_from_file

            for lineno, message, comments, context in extract_from_file(
                "jinja2", source, keywords=KEYWORDS, options={"extensions": "jinja2.ext.do"}
            ):
                catalog.add(message, None, [(str(source.relative_to(BASE_DIR)), lineno)])
            continue
        if not source.is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            source, METHODS, options_map=OPTIONS, keywords=KEYWORDS
        ):
            if "translations" in filename:
                continue
            path = (source / filename).relative_to(BASE_DIR)
            catalog.add(message, None, [(str(path), lineno)], context=context)
    return catalog


def po_path(area: str, locale: str) -> Path:
    """The .po file of an area and locale."""
    return BASE_DIR / "taskflow" / area / "translations" / locale / "LC_MESSAGES" / "messages.po"


def areas() -> list[str]:
    """Every area package."""
    from taskflow import AREAS

    return [a for a in AREAS if (BASE_DIR / "taskflow" / a).is_dir()]


def update(area: str) -> None:
    """Merge newly extracted strings into the area's catalogs, keeping existing translations."""
    template = extract(area)
    for locale in LOCALES:
        path = po_path(area, locale)
        if path.exists():
            with path.open("rb") as f:
                catalog = read_po(f, locale=locale)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
        else:
            catalog = Catalog(locale=locale, project="TaskFlow")
            catalog.update(template, no_fuzzy_matching=True)
        if locale == "en":
            # English msgids are the English text; only plural forms need filling.
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = BytesIO()
        write_po(buffer, catalog, width=100, omit_header=False, sort_output=True)
        path.write_bytes(buffer.getvalue())


def missing(area: str) -> list[str]:
    """Extracted strings of an area with no zh_CN translation."""
    path = po_path(area, "zh_CN")
    translated: dict = {}
    if path.exists():
        with path.open("rb") as f:
            for message in read_po(f):
                translated[message.id] = message.string
    gaps = []
    for message in extract(area):
        if not message.id:
            continue
        string = translated.get(message.id)
        if isinstance(string, tuple):
            string = all(string) and string
        if not string:
            gaps.append(message.id if isinstance(message.id, str) else message.id[0])
    return gaps


def collisions() -> dict[str, dict[str, str]]:
    """English strings that two areas translate differently (the merged catalog keeps only one)."""
    seen: dict[str, dict[str, str]] = {}
    for area in areas():
        path = po_path(area, "zh_CN")
        if not path.exists():
            continue
        with path.open("rb") as f:
            for message in read_po(f):
                if isinstance(message.id, str) and message.id and message.string:
                    seen.setdefault(message.id, {})[area] = message.string
    return {msgid: by_area for msgid, by_area in seen.items() if len(set(by_area.values())) > 1}


def fill(area: str, lines: list[str]) -> int:
    """Set zh_CN translations from "English<TAB>中文" lines; returns how many were set."""
    path = po_path(area, "zh_CN")
    with path.open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    count = 0
    for line in lines:
        if "\t" not in line:
            continue
        english, chinese = line.rstrip("\n").split("\t", 1)
        message = catalog.get(english)
        if message is not None and chinese:
            message.string = chinese
            count += 1
    buffer = BytesIO()
    write_po(buffer, catalog, width=100, sort_output=True)
    path.write_bytes(buffer.getvalue())
    return count


def main(argv: list[str]) -> int:
    """Command-line entry point: update [AREA…] | check [AREA…] | fill AREA < tsv."""
    command = argv[1] if len(argv) > 1 else "check"
    selected = argv[2:] or areas()
    if command == "fill":
        print(f"{fill(argv[2], sys.stdin.readlines())} translations set")
        return 0
    if command == "update":
        for area in selected:
            update(area)
        return 0
    total = 0
    for msgid, by_area in collisions().items():
        print(f"collision: {msgid!r} {by_area}")
        total += 1
    for area in selected:
        for message in missing(area):
            print(f"{area}: {message}")
            total += 1
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
