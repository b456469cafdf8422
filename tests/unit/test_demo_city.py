"""`contact demo` plays the default city's day (issue 13, item 6): scaled to the demo's pace,
with the city's hours, kinds, languages and districts, as the citizen app sends it."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from contact.demo import CITY, REPORTS, city_day, report_of
from contact.domain.model import Language
from contact.simulate.scenario import load_scenario

ALMATY = ZoneInfo("Asia/Almaty")


def test_a_day_at_the_demos_pace_keeps_the_citys_shape() -> None:
    start = datetime(2026, 12, 8, 0, 20, tzinfo=ALMATY)  # a Tuesday, 00:20
    day = city_day(start, interval=30.0, seed=4)
    assert [a.t_s for a in day] == sorted(a.t_s for a in day)
    assert all(0 <= a.t_s < 86_400 for a in day)
    assert abs(len(day) - 2880) < 5 * 2880**0.5  # one every 30 s on average
    by_hour = Counter(int((a.t_s + 20 * 60) // 3600) % 24 for a in day)
    assert by_hour[19] > 2 * by_hour[4]  # the evening is busier than before dawn
    mix = load_scenario(CITY).mix
    kinds = Counter(a.kind for a in day)
    for kind, share in mix.items():
        assert abs(kinds[kind] / len(day) - share) < 0.05, kind
    assert {a.language for a in day} == {"kk", "ru"}
    assert len({a.district for a in day}) == len(load_scenario(CITY).districts)


def test_the_day_starts_now_not_at_the_top_of_the_hour() -> None:
    late = city_day(datetime(2026, 12, 8, 19, 59, tzinfo=ALMATY), interval=5.0, seed=1)
    assert late and late[0].t_s < 60  # the busy evening goes on at once


def test_a_report_is_in_the_arrivals_language_and_kind() -> None:
    rng = random.Random(3)
    for a in city_day(datetime(2026, 12, 8, 12, 0, tzinfo=ALMATY), 60.0, seed=2)[:200]:
        body = report_of(a, rng)
        assert body["text"] in REPORTS[(a.kind, Language(a.language))]
        assert body["language"] == a.language
        assert body["kind"] == ("info" if a.kind == "informational" else "report")
        location = body["location"]
        assert isinstance(location, dict)
        assert (location["lat"], location["lon"]) == (round(a.lat, 6), round(a.lon, 6))
