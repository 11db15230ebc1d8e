"""Settings are read one way: every key the code reads is declared on config.Config (or is one
of Flask's own), documented in docs/deploy.md, and read without an inline default."""

import os
import re
import subprocess
import sys
from pathlib import Path

from flask import Flask

from config import Config

ROOT = Path(__file__).resolve().parents[2]
# config["X"], config.get("X"), and the helpers that take a setting's name.
READ = re.compile(r'\bconfig(?:\[|\.get\()\s*"([A-Z][A-Z0-9_]*)"')
HELPER_READ = re.compile(r'\b(?:_setting|_config|ttl_setting)\(\s*"([A-Z][A-Z0-9_]*)"')
# config.get(<anything>, <default>) and config.get("X") or <default>.
INLINE_DEFAULT = re.compile(r'\bconfig\.get\((?:[^()]|\([^()]*\))*,|\bconfig\.get\([^()]*\)\s+or\b')
# Class attributes of config.py and the TASKFLOW_* variable each one is read from.
DECLARED_FROM_ENV = re.compile(
    r'^    ([A-Z][A-Z0-9_]*)(?:: [^=]+)? = .*?_env(?:_int|_bool)?\("([A-Z][A-Z0-9_]*)"', re.M)


def _sources() -> dict[Path, str]:
    return {p: p.read_text("utf-8") for p in sorted((ROOT / "taskflow").rglob("*.py"))}


def keys_read(sources: dict[Path, str]) -> dict[str, list[str]]:
    """{setting: [file:line, …]} for every setting named in the code."""
    found: dict[str, list[str]] = {}
    for path, text in sources.items():
        for number, line in enumerate(text.splitlines(), 1):
            for match in (*READ.finditer(line), *HELPER_READ.finditer(line)):
                found.setdefault(match.group(1), []).append(
                    f"{path.relative_to(ROOT)}:{number}")
    return found


def env_names() -> dict[str, str]:
    """{Config attribute: TASKFLOW_* variable it is read from}."""
    return dict(DECLARED_FROM_ENV.findall((ROOT / "config.py").read_text("utf-8")))


def test_the_scanner_sees_every_way_of_reading():
    sample = {ROOT / "x.py": 'a = app.config["A_B"]\nb = current_app.config.get("C")\n'
                             'c = _setting("D_E")\nd = ttl_setting("F")\n'}
    assert set(keys_read(sample)) == {"A_B", "C", "D_E", "F"}
    assert INLINE_DEFAULT.search('config.get("X", 5)')
    assert INLINE_DEFAULT.search('int(config.get(name, default))')
    assert INLINE_DEFAULT.search('config.get("X", int("5"))')
    assert INLINE_DEFAULT.search('str(app.config.get("X") or "y")')
    assert not INLINE_DEFAULT.search('config["X"] or ""')
    assert env_names()["BABEL_DEFAULT_LOCALE"] == "DEFAULT_LOCALE"


def test_every_setting_the_code_reads_is_declared():
    flask_own = set(Flask.default_config)
    read = keys_read(_sources())
    assert len(read) > 60
    undeclared = {k: v for k, v in read.items() if not hasattr(Config, k) and k not in flask_own}
    assert undeclared == {}


def test_every_setting_the_code_reads_is_in_the_deploy_doc():
    """An environment-backed setting has a row for its TASKFLOW_* variable; a fixed one (set in
    config.py only) a row of its own name."""
    doc = (ROOT / "docs" / "deploy.md").read_text("utf-8")
    env = env_names()
    missing = []
    for key in keys_read(_sources()):
        if not hasattr(Config, key):
            continue  # Flask's own setting, documented by Flask
        row = f"| `TASKFLOW_{env[key]}`" if key in env else f"| `{key}`"
        if row not in doc:
            missing.append((key, row))
    assert missing == []


def test_no_setting_is_read_with_an_inline_default():
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path, text in _sources().items()
             for number, line in enumerate(text.splitlines(), 1)
             if INLINE_DEFAULT.search(line)]
    assert found == []


def test_the_notices_settings_are_declared_with_their_values():
    """The notices area's private table of defaults is gone; config.py holds the same values."""
    import taskflow.notices as notices

    assert not hasattr(notices, "DEFAULTS")
    assert (Config.UPDATE_REREQUEST_WORKING_DAYS, Config.URGE_RESPONSE_WORKING_DAYS,
            Config.OUTBOX_MAX_ATTEMPTS, Config.OUTBOX_BACKOFF_SECONDS,
            Config.OUTBOX_STALE_MINUTES, Config.DIGEST_MAX_AGE_DAYS,
            Config.NOTICE_NUMBER_PREFIX) == (5, 3, 6, 60, 15, 14, "綦科")
    assert (Config.ENTERPRISE_IMPORT_KEEP_DAYS, Config.ENTERPRISE_IMPORT_MAX_MB) == (
        7, Config.MAX_UPLOAD_MB)


def test_a_notices_setting_is_read_from_the_environment():
    """Like every other setting, from TASKFLOW_<NAME> (a fresh interpreter reads config.py)."""
    env = {**os.environ, "TASKFLOW_OUTBOX_MAX_ATTEMPTS": "9",
           "TASKFLOW_NOTICE_NUMBER_PREFIX": "綦督"}
    out = subprocess.run(
        [sys.executable, "-c", "from config import Config; "
         "print(Config.OUTBOX_MAX_ATTEMPTS, Config.NOTICE_NUMBER_PREFIX)"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, encoding="utf-8")
    assert out.stdout.split() == ["9", "綦督"]
