"""Grouping: categories from Kazakh and Russian words, compatibility, and which incident a
contact joins (place, time window, category, accuracy)."""

import math
import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.dispatch.geo import LatLon, destination
from contact.dispatch.grouping import (
    CATEGORY_WORDS,
    GRID_MAX_CELLS,
    Candidate,
    Match,
    categorize,
    choose_incident,
    compatible,
    grid_cell,
    grid_cells,
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


# --- the grid grouping finds members through ----------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    radius_m=st.floats(0, 5000),
    bearing=st.floats(0, 360),
    share=st.floats(0, 1),
)
def test_every_point_of_a_box_is_in_one_of_its_cells(
    lat: float, lon: float, radius_m: float, bearing: float, share: float
) -> None:
    """What grouping asks for covers the whole box, in the cells' list or their range."""
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    box = (lat - dlat, lat + dlat, lon - dlon, lon + dlon)
    inside = (
        min(max(lat + share * dlat * math.cos(math.radians(bearing)), -90.0), 90.0),
        min(max(lon + share * dlon * math.sin(math.radians(bearing)), -180.0), 180.0),
    )
    cells = grid_cells(*box)
    cell = grid_cell(*inside)
    if isinstance(cells, tuple):
        assert cells[0] <= cell <= cells[1]
    else:
        assert cell in cells
        assert len(cells) <= GRID_MAX_CELLS


def test_a_city_radius_asks_for_a_few_cells_and_a_pole_for_a_range() -> None:
    dlat, dlon = 600 / 111_320.0, 600 / (111_320.0 * math.cos(math.radians(43.238)))
    assert len(grid_cells(43.238 - dlat, 43.238 + dlat, 76.945 - dlon, 76.945 + dlon)) <= 9
    first, last = grid_cells(89.99, 90.0, -180.0, 180.0)
    assert first < last
    assert grid_cells(math.nan, 1.0, 2.0, 3.0) == []


def test_neighbouring_points_across_a_cell_edge_have_neighbouring_cells() -> None:
    assert grid_cell(43.2399999, 76.95) + 36_000 == grid_cell(43.24, 76.95)
    assert grid_cell(43.24, 76.9499999) + 1 == grid_cell(43.24, 76.95)
