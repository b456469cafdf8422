"""Triage of citizens' words in Kazakh and Russian: the labelled corpus holds the floor, the
Kazakh suffix rules and the decision rules are tested one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact.domain.model import ChannelKind, Priority
from contact.domain.triage import (
    SOS_CATEGORIES,
    Category,
    Hit,
    Intent,
    Verdict,
    decide,
    priority_for,
    raised_priority,
)
from contact.triage import default_triage
from contact.triage.corpus import read, score, table
from contact.triage.kazakh import candidates, fold, stem_for
from contact.triage.text import latin_to_cyrillic, words

DATA = Path(__file__).resolve().parents[1] / "data"


def triage(text: str) -> Verdict:
    return default_triage().analyse(text)


# --- the corpus ---------------------------------------------------------------------------


def test_the_corpus_is_large_bilingual_and_labelled() -> None:
    samples = read(DATA / "triage_corpus.tsv")
    assert len(samples) >= 300
    langs = {s.lang for s in samples}
    assert langs == {"ru", "kk", "kk-lat", "mix"}
    known = {c.value for c in Category} | {"none"}
    assert all(set(s.labels) <= known for s in samples)
    assert {s.labels[0] for s in samples} == known


def test_sos_precision_and_recall_hold_the_floor_on_the_corpus() -> None:
    report = score(read(DATA / "triage_corpus.tsv"), triage)
    print(table(report))  # shown with -s; the bench prints the same table
    assert report.sos.recall >= 0.95, report.misses
    assert report.sos.precision >= 0.9, report.misses
    for category in SOS_CATEGORIES:
        alarmed = report.sos_alarm[category.value]
        exact = report.categories[category.value]
        assert alarmed.recall >= 0.95, (category, report.misses)
        assert exact.precision >= 0.9, (category, report.misses)


# --- the issue's own examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Сауда орталығының тұрағынан велосипедім ұрланды", Category.THEFT),
        ("С парковки торгового центра украли мой велосипед", Category.THEFT),
    ],
)
def test_a_bicycle_theft_is_an_ordinary_report_in_both_languages(
    text: str, category: Category
) -> None:
    verdict = triage(text)
    assert verdict.intent is Intent.ORDINARY and verdict.category is category
    assert priority_for(ChannelKind.APP, verdict) is Priority.CHAT


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("ДТП на перекрёстке, есть пострадавшие", Category.ROAD_ACCIDENT),
        ("Жол апаты, зардап шеккендер бар", Category.ROAD_ACCIDENT),
        ("Человек лежит без сознания", Category.INJURED),
        ("Адам есінен танып жатыр", Category.INJURED),
        ("Во дворе драка", Category.VIOLENCE),
        ("Аулада төбелес", Category.VIOLENCE),
        ("Угрожал пистолетом", Category.WEAPON),
        ("Нет ножа? Есть: у него нож", Category.WEAPON),
        ("Взяли заложников", Category.HOSTAGE),
        ("Ол мылтықпен жүр", Category.WEAPON),
        ("Ол пышақтады", Category.WEAPON),
        ("Үй өртеніп жатыр", Category.FIRE),
    ],
)
def test_danger_in_either_language_is_sos(text: str, category: Category) -> None:
    verdict = triage(text)
    assert verdict.alarming and verdict.category is category
    assert priority_for(ChannelKind.TELEGRAM, verdict) is Priority.SOS


@pytest.mark.parametrize(
    "text",
    [
        "Уже не горит",
        "Пожара нет",
        "Ножа не было",
        "Өрт жоқ",
        "Мылтық емес, ойыншық",
        "Ол ұрмады",  # a Kazakh verb with its negation: "did not hit"
        "ДТП без пострадавших",
    ],
)
def test_negated_danger_is_no_alarm(text: str) -> None:
    assert not triage(text).alarming


def test_the_matched_words_are_the_citizens_own() -> None:
    verdict = triage("Помогите! Мужчина угрожает ножом, во дворе")
    assert verdict.category is Category.WEAPON
    assert "ножом" in verdict.words


def test_a_transcript_segment_is_triaged_like_text() -> None:
    # what a recogniser returns: lower case, no punctuation
    assert triage("алло у него пистолет он стреляет").category is Category.WEAPON
    assert triage("көмектесіңдер мұнда мылтық бар").category is Category.WEAPON


# --- Kazakh suffixes ------------------------------------------------------------------------

STEMS = frozenset(
    fold(w) for w in ("мылтық", "пышақ", "пышақта", "өртен", "өрте", "ұрла", "ұр", "бала", "ес")
)


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("мылтықпен", "мылтық"),  # instrumental
        ("мылтығын", "мылтық"),  # possessive + accusative, қ voiced to ғ
        ("мылтықтан", "мылтық"),  # ablative
        ("мылтықтар", "мылтық"),  # plural
        ("пышағымен", "пышақ"),  # possessive + instrumental
        ("пышақтады", "пышақта"),  # a verb of its own: "stabbed"
        ("өртеніп", "өртен"),  # converb
        ("өртеп", "өрте"),
        ("ұрланды", "ұрла"),  # passive past: "was stolen", never ұр "hit"
        ("ұрлап", "ұрла"),
        ("ұрлады", "ұрла"),
        ("ұрып", "ұр"),
        ("ұрдым", "ұр"),  # past + 1st person
        ("балаларды", "бала"),  # plural + accusative
        ("балаларымыз", "бала"),  # plural + possessive 1pl
        ("баламның", "бала"),  # possessive + genitive
        ("есінен", "ес"),  # possessive + ablative
        ("пышак", "пышақ"),  # typed without the Kazakh letters
    ],
)
def test_kazakh_endings_are_stripped_to_a_known_stem(word: str, stem: str) -> None:
    assert stem_for(word, STEMS) == (fold(stem), False)


def test_a_negated_kazakh_verb_is_marked() -> None:
    assert stem_for("ұрмады", STEMS) == ("ур", True)
    assert stem_for("ұрмаған", STEMS) == ("ур", True)


@pytest.mark.parametrize(
    "word", ["мылтық", "Батыс", "үлкен", "қар", "орталығының", "велосипедім", "Төрткүл"]
)
def test_a_word_with_no_known_stem_stays_itself(word: str) -> None:
    stem, negated = stem_for(word, STEMS)
    assert stem in (fold(word), fold("мылтық")) and not negated


def test_candidates_follow_the_grammatical_order() -> None:
    found = candidates("пышағымен")
    assert fold("пышақ") in found and fold("пышағы") in found
    assert "пы" not in found  # a stem keeps two letters and a vowel


# --- Latin-script Kazakh --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("myltyqpen", "мылтықпен"),
        ("pyshaq", "пышақ"),
        ("zharylys", "жарылыс"),
        ("shyqty", "шықты"),
        ("qai", "қай"),
        ("komektesinder", "көмектесіңдер"),
    ],
)
def test_latin_script_kazakh_is_read_in_cyrillic(latin: str, cyrillic: str) -> None:
    assert latin_to_cyrillic(latin) == fold(cyrillic)
    assert words(latin.upper()) == [fold(cyrillic)]


# --- the pure decision ----------------------------------------------------------------------


def _hit(category: Category, weight: float = 1.0, term: str = "x", **kw: object) -> Hit:
    return Hit(term, category, weight, term, **kw)  # type: ignore[arg-type]


def test_weights_add_up_per_category() -> None:
    half = _hit(Category.CHILD, 0.5, "ребенок", span=(0, 0))
    assert decide([half]).intent is None
    alone = _hit(Category.CHILD, 0.5, "один дома", span=(1, 2))
    assert decide([half, alone]).category is Category.CHILD
    assert decide([half, half]).intent is None  # one term counts once


def test_negated_hits_count_for_nothing() -> None:
    assert decide([_hit(Category.FIRE, negated=True)]).intent is None


def test_a_road_accident_with_injured_is_a_road_accident() -> None:
    verdict = decide([_hit(Category.ROAD_ACCIDENT, 0.5, "дтп"), _hit(Category.INJURED, 1.0, "y")])
    assert verdict.category is Category.ROAD_ACCIDENT and verdict.alarming


def test_a_question_about_a_weapon_permit_is_information() -> None:
    verdict = decide([_hit(Category.WEAPON, 1.0, "ружье"), _hit(Category.PROCEDURE, 1.0, "как")])
    assert verdict.intent is Intent.INFORMATION
    assert priority_for(ChannelKind.TELEGRAM, verdict) is Priority.INFO
    assert priority_for(ChannelKind.VOICE, verdict) is Priority.VOICE  # a call stays a call


def test_sos_wins_over_a_question_and_an_ordinary_report() -> None:
    verdict = decide(
        [
            _hit(Category.WEAPON, 2.0, "a"),
            _hit(Category.PROCEDURE, 1.0, "b"),
            _hit(Category.THEFT, 1.0, "c"),
        ]
    )
    assert verdict.category is Category.WEAPON


def test_a_phrase_covers_its_own_words() -> None:
    inner = _hit(Category.FIRE, 0.6, "түтін", span=(2, 2))
    phrase = _hit(Category.FIRE, 1.0, "түтін шық", span=(2, 3))
    explosion = _hit(Category.EXPLOSION, 1.0, "жарылыс", span=(0, 0))
    assert decide([explosion, inner, phrase]).category is Category.EXPLOSION


def test_only_a_waiting_contact_below_sos_is_raised() -> None:
    sos = decide([_hit(Category.FIRE)])
    assert raised_priority(Priority.CHAT, sos) is Priority.SOS
    assert raised_priority(Priority.VOICE, sos) is Priority.SOS
    assert raised_priority(Priority.SOS, sos) is None
    assert raised_priority(Priority.ALARM, sos) is None
    assert raised_priority(Priority.CHAT, decide([_hit(Category.THEFT)])) is None
