"""Kazakh and Russian are both first-class: every text has both, the staff's pages English too;
every label the pages ask for by a literal key (templates, scripts) exists; numbers, people,
spans and times take the form each language wants (ICU messages, CLDR plural rules)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import contact.plugins  # noqa: F401  (every plugin declares its texts: the whole catalogue)
from contact.config import HttpSettings
from contact.dispatch.units import UnitKind, UnitStatus
from contact.domain.model import Language, UiLanguage
from contact.i18n import (
    CATALOGUE,
    catalogue_problems,
    clock,
    duration,
    languages_of,
    message,
    message_arguments,
    plural_forms,
    zone_named,
)

WEB = Path(__file__).resolve().parents[2] / "web"
# t('ui.x') in templates, t("ui.x") in scripts; keys built at run time ("ui.unit_" + s) aside
LITERAL_KEY = re.compile(
    r"""\bt\(\s*["']((?:ui|priority|fmt|role|presence|event)\.[a-z0-9_.]+)["']\s*[,)]"""
)


def test_every_text_has_kazakh_and_russian() -> None:
    for key, texts in CATALOGUE.items():
        for lang in (Language.KK, Language.RU):
            assert texts.get(lang, "").strip(), f"{key} has no {lang.value} text"


def test_every_label_the_pages_ask_for_exists() -> None:
    files = [*WEB.glob("templates/**/*.html"), *WEB.glob("static/*.js")]
    asked = {key for f in files for key in LITERAL_KEY.findall(f.read_text())}
    assert "ui.map_no_tiles" in asked  # the pattern finds template and script keys
    assert not asked - set(CATALOGUE), sorted(asked - set(CATALOGUE))


def test_the_map_names_every_unit_kind_and_status() -> None:
    # dispatch-map.js builds these keys from the API's values
    for kind in UnitKind:
        assert f"ui.unit_kind_{kind.value}" in CATALOGUE
    for status in UnitStatus:
        assert f"ui.unit_{status.value}" in CATALOGUE


# --- completeness in three languages ----------------------------------------------------------
def test_the_catalogue_is_complete_in_every_language_it_owes() -> None:
    problems = catalogue_problems()
    assert not problems, "\n".join(problems)


def test_the_staffs_pages_owe_english_and_citizens_texts_do_not() -> None:
    assert languages_of("ui.queue") == ("kk", "ru", "en")
    assert languages_of("presence.away") == ("kk", "ru", "en")
    assert languages_of("chat.greeting") == ("kk", "ru")
    for key in CATALOGUE:  # every page text reaches the pages in English
        if key.startswith(("ui.", "priority.", "fmt.", "role.", "presence.", "event.")):
            assert CATALOGUE[key].get("en"), key


def test_a_missing_language_is_named_with_its_key() -> None:
    broken = {"ui.x": {"ru": "Очередь", "kk": "Кезек"}, "chat.y": {"ru": "Привет"}}
    assert catalogue_problems(broken) == ["ui.x [en]: missing", "chat.y [kk]: missing"]


def test_mismatched_placeholders_and_plural_forms_are_named() -> None:
    broken = {
        "ui.a": {"ru": "Наряд {unit}", "kk": "{callsign} жасағы", "en": "Unit {unit}"},
        "ui.b": {
            "ru": "{count, plural, one {# наряд} other {# наряда}}",  # no few, no many
            "kk": "{count, plural, one {# жасақ} other {# жасақ}}",
            "en": "{count, plural, one {# unit} few {# units} other {# units}}",  # en has no few
        },
        "ui.c": {"ru": "{gender, select, female {Отошла}}", "kk": "Жоқ", "en": "Away"},
        "ui.d": {"ru": "{count, plural, one {#", "kk": "x", "en": "it's"},
    }
    problems = catalogue_problems(broken)
    assert "ui.a [kk]: placeholders ['callsign'] ≠ ru ['unit']" in problems
    assert "ui.b [ru]: plural {count} lacks ['few', 'many']" in problems
    assert "ui.b [en]: plural {count} has forms ['few'] en lacks" in problems
    assert any(p.startswith("ui.c [ru]: does not parse") for p in problems)  # no `other`
    assert any(p.startswith("ui.d [ru]: does not parse") for p in problems)
    assert "ui.d [en]: ASCII apostrophe (write ’)" in problems
    assert not [p for p in problems if p.startswith(("ui.a [ru]", "ui.a [en]", "ui.b [kk]"))]


def test_every_language_has_its_cldr_plural_forms() -> None:
    assert plural_forms("ru") == {"one", "few", "many", "other"}
    assert plural_forms("kk") == {"one", "other"}
    assert plural_forms("en") == {"one", "other"}


# --- forms: plurals, gender, spans, times --------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ru", ["1 наряд", "2 наряда", "5 нарядов", "21 наряд", "68 000 нарядов"]),
        ("kk", ["1 жасақ", "2 жасақ", "5 жасақ", "21 жасақ", "68 000 жасақ"]),
        ("en", ["1 unit", "2 units", "5 units", "21 units", "68,000 units"]),
    ],
)
def test_counts_take_the_plural_form_of_their_language(lang: str, expected: list[str]) -> None:
    shown = [message("ui.units_count", lang, count=n) for n in (1, 2, 5, 21, 68000)]
    assert [x.replace("\xa0", " ") for x in shown] == expected


def test_one_unit_sent_is_singular_and_many_are_plural() -> None:
    sent = [message("ui.dispatch_sent_count", "ru", count=n) for n in (1, 2, 5, 21)]
    assert sent == ["Направлен 1 наряд", "Направлены 2 наряда", "Направлено 5 нарядов",
                    "Направлен 21 наряд"]  # fmt: skip
    assert message("ui.dispatch_sent_count", "en", count=1) == "1 unit sent"
    assert message("ui.cameras_count", "ru", count=2) == "2 камеры"
    assert message("ui.cameras_count", "en", count=1) == "1 camera"


def test_a_persons_state_takes_her_or_his_form_and_is_neutral_when_unknown() -> None:
    assert message("presence.away", "ru", gender="female") == "Отошла"
    assert message("presence.away", "ru", gender="male") == "Отошёл"
    assert message("presence.away", "ru", gender="other") == "Нет на месте"
    assert message("presence.busy", "ru", gender="female") == "Занята"
    assert message("presence.ready", "ru", gender="female") == "Готова"
    # Kazakh and English have no gender here: one text for everyone
    assert message("presence.away", "kk", gender="female") == "Орнында жоқ"
    assert message("presence.away", "en", gender="male") == "Away"
    # the buttons say what she does, in no one's form
    assert "Отошёл" not in CATALOGUE["ui.away"].values()


@pytest.mark.parametrize(
    ("seconds", "ru", "kk", "en"),
    [
        (7, "7 с", "7 с", "7 s"),
        (103, "1 мин 43 с", "1 мин 43 с", "1 min 43 s"),
        (420, "7 мин", "7 мин", "7 min"),
        (3600 + 6 * 60 + 5, "1 ч 6 мин", "1 сағ 6 мин", "1 h 6 min"),
    ],
)
def test_spans_are_in_the_pages_language(seconds: int, ru: str, kk: str, en: str) -> None:
    assert (duration(seconds, "ru"), duration(seconds, "kk"), duration(seconds, "en")) == (
        ru,
        kk,
        en,
    )
    assert duration(seconds, UiLanguage.RU) == ru and duration(seconds, Language.KK) == kk


def test_times_are_24_hour_on_the_centres_clock() -> None:
    assert HttpSettings().time_zone == "Asia/Almaty"
    almaty = zone_named(HttpSettings().time_zone)
    at = datetime(2026, 12, 7, 23, 48, 24, tzinfo=UTC)  # 04:48:24 (UTC+5) the next morning
    assert clock(at, almaty) == "04:48:24"
    assert clock(at, almaty, seconds=False) == "04:48"
    assert clock(datetime(2026, 12, 7, 11, 5, tzinfo=UTC), almaty) == "16:05:00"
    assert clock(at, zone_named("Europe/Moscow")) == "02:48:24"


def test_a_wrong_time_zone_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="CONTACT_HTTP_TIME_ZONE"):
        HttpSettings(time_zone="Mars/Olympus")


def test_every_event_the_supervisor_lists_has_a_name() -> None:
    # supervisor.js lists these; it shows I18n.event(type), never the raw type
    listed = ("contact.sla_breached", "contact.offer_expired", "operator.presence_changed")
    for kind in (*listed, "keyword.alert"):
        assert f"event.{kind}" in CATALOGUE
    for role in ("operator", "supervisor", "admin"):
        assert f"role.{role}" in CATALOGUE


# t("key", { name: … }) in the pages' scripts: the values a call gives are the message's own
CALL = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']\s*,\s*\{([^}]*)\}""")
GIVEN = re.compile(r"(?:^|,)\s*([A-Za-z_]\w*)\s*(?=:|,|$)")


def test_the_scripts_give_each_message_the_values_it_names() -> None:
    calls = [
        (f.name, key, set(GIVEN.findall(inner.strip())))
        for f in WEB.glob("static/*.js")
        for key, inner in CALL.findall(f.read_text())
    ]
    assert any(key == "ui.dispatch_sent_one" for _, key, _ in calls)  # the pattern finds calls
    for name, key, given in calls:
        assert key in CATALOGUE, (name, key)
        for lang, pattern in CATALOGUE[key].items():
            wanted = message_arguments(pattern) - {"gender"}  # gender has a default
            assert given == wanted or (given >= wanted and given - wanted <= {"gender"}), (
                f"{name}: t({key!r}) gives {sorted(given)}, [{lang}] names {sorted(wanted)}"
            )
