"""Kazakh and Russian are both first-class: every text has both, and every label the pages ask
for by a literal key (templates, scripts) exists."""

from __future__ import annotations

import re
from pathlib import Path

from contact.dispatch.units import UnitKind, UnitStatus
from contact.domain.model import Language
from contact.i18n import CATALOGUE

WEB = Path(__file__).resolve().parents[2] / "web"
# t('ui.x') in templates, t("ui.x") in scripts; keys built at run time ("ui.unit_" + s) aside
LITERAL_KEY = re.compile(r"""\bt\(\s*["']((?:ui|priority)\.[a-z0-9_]+)["']\s*\)""")


def test_every_text_has_kazakh_and_russian() -> None:
    for key, texts in CATALOGUE.items():
        for lang in (Language.KK, Language.RU):
            assert texts.get(lang, "").strip(), f"{key} has no {lang.value} text"


def test_every_label_the_pages_ask_for_exists() -> None:
    files = [*WEB.glob("templates/*.html"), *WEB.glob("static/*.js")]
    asked = {key for f in files for key in LITERAL_KEY.findall(f.read_text())}
    assert "ui.map_no_tiles" in asked  # the pattern finds template and script keys
    assert not asked - set(CATALOGUE), sorted(asked - set(CATALOGUE))


def test_the_map_names_every_unit_kind_and_status() -> None:
    # dispatch-map.js builds these keys from the API's values
    for kind in UnitKind:
        assert f"ui.unit_kind_{kind.value}" in CATALOGUE
    for status in UnitStatus:
        assert f"ui.unit_{status.value}" in CATALOGUE
