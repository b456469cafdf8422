"""Grouping: categories from Kazakh and Russian words, compatibility, and which incident a
contact joins (place, time window, category, accuracy)."""

import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from contact.dispatch.geo import LatLon, destination
from contact.dispatch.grouping import (
    CATEGORY_WORDS,
    Candidate,
    Match,
    categorize,
    choose_incident,
    compatible,
    incident_category,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
HERE = LatLon(43.238, 76.945)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Пожар в доме, горит второй этаж", "fire"),
        ("Үй өртеніп жатыр", "fire"),
        ("Из окна идёт дым", "fire"),
        ("Во дворе драка", "violence"),
        ("Көршілер төбелесіп жатыр", "violence"),
        ("ДТП на перекрёстке", "traffic"),
        ("Жол апаты болды, екі көлік соқтығысты", "traffic"),
        ("Украли велосипед", "theft"),
        ("Сөмкемді ұрлап кетті", "theft"),
        ("Человек без сознания на остановке", "medical"),
        ("Соседи громко кричат", "noise"),
        ("Помогите!", None),
        ("Как получить справку?", None),
        ("Отдел полиции не отвечает", None),  # "от" is not a fire
        ("Открыли ворота", None),  # nor are gates a thief
    ],
)
def test_categories_in_both_languages(text: str, category: str | None) -> None:
    assert categorize(text) == category


def _categorize_stem_by_stem(text: str) -> str | None:
    """The first implementation, one stem at a time: the reference categorize must equal."""
    lowered = text.lower().replace("ё", "е")
    words = re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", lowered)
    padded = f" {' '.join(words)} "
    for category, stems in CATEGORY_WORDS.items():
        for stem in stems:
            if " " in stem or "-" in stem:
                if f" {stem.strip()}" in padded:
                    return category
            elif any(word.startswith(stem) for word in words):
                return category
    return None


def test_categorize_equals_the_stem_by_stem_reading() -> None:
    stems = [stem for group in CATEGORY_WORDS.values() for stem in group]
    filler = ["в", "доме", "Ёлка", "от", "шу", "ес", "түссіз", "123", "-", "жол", "жедел"]
    rng = random.Random(9)
    texts = [*stems, *(s.upper() for s in stems), *(f"x{s}" for s in stems)]
    for _ in range(5_000):
        texts.append(" ".join(rng.choice(stems + filler * 3) for _ in range(rng.randint(0, 6))))
    for text in texts:
        assert categorize(text) == _categorize_stem_by_stem(text), text


def test_compatibility() -> None:
    assert compatible("fire", "fire")
    assert compatible(None, "fire") and compatible("theft", None)
    assert compatible("violence", "medical") and compatible("medical", "traffic")
    assert not compatible("fire", "theft")
    assert not compatible("traffic", "violence")


def at(point: LatLon, metres: float, bearing: float = 0.0) -> LatLon:
    return destination(point.lat, point.lon, bearing, metres)


def cand(incident: str, contact: str, where: LatLon, minutes: float = 0.0) -> Candidate:
    return Candidate(incident, contact, where.lat, where.lon, T0 + timedelta(minutes=minutes))


def choose(where: LatLon, candidates: list[Candidate], categories: Mapping[str, str | None],
           category: str | None = "fire", minutes: float = 0.0,
           accuracy_m: float | None = None) -> Match | None:  # fmt: skip
    return choose_incident(
        lat=where.lat,
        lon=where.lon,
        at=T0 + timedelta(minutes=minutes),
        category=category,
        candidates=candidates,
        incident_categories=categories,
        radius_m=300,
        window_s=1800,
        accuracy_m=accuracy_m,
    )


def test_the_nearest_compatible_incident_within_radius_and_window() -> None:
    fire = cand("fire", "c1", at(HERE, 250, 90))
    theft = cand("theft", "c2", at(HERE, 20, 0))
    other_fire = cand("fire2", "c3", at(HERE, 150, 180))
    categories = {"fire": "fire", "theft": "theft", "fire2": "fire"}
    match = choose(HERE, [fire, theft, other_fire], categories)
    assert match is not None and match.incident_id == "fire2"
    assert match.distance_m == pytest.approx(150, abs=0.5)
    # too far, too late, or incompatible: a new incident
    assert choose(at(HERE, 1_000), [fire], categories) is None
    assert choose(HERE, [fire], categories, minutes=31) is None
    assert choose(HERE, [theft], categories) is None
    # a contact without a category joins the nearest incident of any kind
    unknown = choose(HERE, [fire, theft], categories, category=None)
    assert unknown is not None and unknown.incident_id == "theft"
    # an incident without a category takes any contact
    assert choose(HERE, [cand("x", "c9", HERE)], {"x": None}, category="theft") is not None


def test_accuracy_widens_the_radius_up_to_double() -> None:
    c = cand("i", "c", at(HERE, 350))
    assert choose(HERE, [c], {"i": "fire"}) is None
    assert choose(HERE, [c], {"i": "fire"}, accuracy_m=60) is not None
    far = cand("i", "c", at(HERE, 700))
    assert choose(HERE, [far], {"i": "fire"}, accuracy_m=5_000) is None  # at most 600 m


def test_ties_go_to_the_most_recent() -> None:
    old = cand("old", "a", at(HERE, 100, 0), minutes=-20)
    new = cand("new", "b", at(HERE, 100, 180), minutes=-5)
    match = choose(HERE, [old, new], {"old": "fire", "new": "fire"})
    assert match is not None and match.incident_id == "new"


def test_incident_category_is_the_first_known() -> None:
    assert incident_category([None, "fire", "medical"]) == "fire"
    assert incident_category([None, None]) is None
