"""Flask-Babel set-up: zh_CN by default, English on request, one catalog per area."""

import os
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request, session
from flask_login import current_user

from config import BASE_DIR

LOCALE_SESSION_KEY = "locale"


def catalog_dirs() -> list[Path]:
    """Every area's translations directory (taskflow/<area>/translations)."""
    return sorted(p for p in (BASE_DIR / "taskflow").glob("*/translations") if p.is_dir())


def compile_catalogs(target_root: Path) -> list[Path]:
    """Compile each area's .po files into target_root/<area>/ and return those directories."""
    compiled = []
    for source in catalog_dirs():
        area_target = target_root / source.parent.name
        for po_path in source.glob("*/LC_MESSAGES/*.po"):
            # Flask-Babel asks for the parsed locale's name (zh_CN parses as zh_Hans_CN).
            locale_name = str(_parsed(po_path.parents[1].name))
            mo_path = area_target / locale_name / "LC_MESSAGES" / "messages.mo"
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            tmp = mo_path.with_name(f"messages.mo.{os.getpid()}.tmp")
            with tmp.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            tmp.replace(mo_path)
        compiled.append(area_target)
    return compiled


def _parsed(name: str) -> Locale:
    """The Locale for `name`, parsed once per process.

    Flask-Babel parses whatever the selector returns on every request unless it already is a
    Locale, and Babel's parse scans every known identifier: about 0.3 ms a page."""
    found = _PARSED_LOCALES.get(name)
    if found is None:
        found = _PARSED_LOCALES[name] = Locale.parse(name)
    return found


_PARSED_LOCALES: dict[str, Locale] = {}


def select_locale() -> Locale:
    """The session's choice, then the user's saved choice, then the default (zh_CN)."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and scheduled jobs speak the default language
        return _parsed(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = session.get(LOCALE_SESSION_KEY)
    if chosen in languages:
        return _parsed(chosen)
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return _parsed(current_user.locale)
    if request.args.get("lang") in languages:
        return _parsed(request.args["lang"])
    return _parsed(current_app.config["BABEL_DEFAULT_LOCALE"])


def init_app(app: Flask, babel) -> None:
    """Compile the catalogs into CATALOG_BUILD_DIR and initialise Flask-Babel."""
    target = Path(app.config["CATALOG_BUILD_DIR"])
    dirs = compile_catalogs(target)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=";".join(str(d) for d in dirs) or "translations",
    )
