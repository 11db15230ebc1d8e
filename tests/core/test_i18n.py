"""Every user-facing string of every area has a Chinese translation."""

import pytest

from taskflow.core import i18n_tools


@pytest.mark.parametrize("area", i18n_tools.areas())
def test_every_string_has_a_chinese_translation(area):
    assert i18n_tools.missing(area) == []


def test_the_check_can_fail(tmp_path, monkeypatch):
    """A template string with no catalog entry is reported."""
    area_dir = tmp_path / "taskflow" / "scratch"
    area_dir.mkdir(parents=True)
    (area_dir / "views.py").write_text('from flask_babel import gettext as _\n_("Untranslated words")\n')
    monkeypatch.setattr(i18n_tools, "BASE_DIR", tmp_path)
    assert i18n_tools.missing("scratch") == ["Untranslated words"]


def test_no_english_string_is_translated_two_ways():
    """All areas share one merged catalog, so one English string must have one Chinese text."""
    assert i18n_tools.collisions() == {}
