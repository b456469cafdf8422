"""The traffic model draws what the scenario says (seeded chi-square and tolerance tests), and
a bad scenario is refused with a message that names the field."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from scipy.stats import chisquare  # type: ignore[import-untyped]

from contact.simulate.scenario import (
    BUILT_IN,
    ScenarioError,
    load_scenario,
    parse_scenario,
)
from contact.simulate.traffic import expected_counts, generate


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_scenarios_load(name: str) -> None:
    assert load_scenario(name).name == name


def test_almaty_weekday_is_calibrated_with_the_centres_figures() -> None:
    s = load_scenario("almaty-weekday")
    expected = expected_counts(s)
    assert 2500 <= expected["voice"] <= 3000  # calls a day
    assert 120 <= expected["app"] <= 180  # ~150 app messages
    # Friday and Saturday evenings are the peaks of the week
    evening = {d: s.rate_per_hour("voice", d * 24 + 21) for d in range(7)}
    assert max(evening, key=lambda d: evening[d]) in (4, 5)
    assert evening[4] > 1.2 * evening[1]


def test_arrivals_per_channel_and_hour_match_the_rates() -> None:
    s = load_scenario("almaty-weekday")
    arrivals = generate(s, seed=7)
    for channel in ("voice", "app"):
        observed = [0] * 24
        for a in arrivals:
            if a.channel == channel:
                observed[int(a.t_s // 3600)] += 1
        rates = [s.rate_per_hour(channel, s.start_hour_of_week + h) for h in range(24)]
        scale = sum(observed) / sum(rates)  # chi-square of the shape, the total is below
        result = chisquare(observed, [r * scale for r in rates])
        assert result.pvalue > 0.001, (channel, observed)
        # the total is Poisson: within 4 standard deviations of its mean
        mean = sum(rates)
        assert abs(sum(observed) - mean) < 4 * math.sqrt(mean)


def test_mix_languages_districts_and_units_match_the_scenario() -> None:
    s = load_scenario("almaty-weekday")
    arrivals = generate(s, seed=11)
    n = len(arrivals)
    kinds = Counter(a.kind for a in arrivals)
    assert chisquare([kinds[k] for k in s.mix], [s.mix[k] * n for k in s.mix]).pvalue > 0.001
    langs = Counter(a.language for a in arrivals)
    assert (
        chisquare([langs[k] for k in s.languages], [s.languages[k] * n for k in s.languages]).pvalue
        > 0.001
    )
    weights = {d.name: d.weight for d in s.districts}
    total = sum(weights.values())
    places = Counter(a.district for a in arrivals)
    assert (
        chisquare([places[d] for d in weights], [weights[d] / total * n for d in weights]).pvalue
        > 0.001
    )
    emergencies = [a for a in arrivals if a.kind == "emergency"]
    share = sum(a.needs_unit for a in emergencies) / len(emergencies)
    sd = math.sqrt(s.needs_unit["emergency"] * (1 - s.needs_unit["emergency"]) / len(emergencies))
    assert abs(share - s.needs_unit["emergency"]) < 4 * sd


def test_handling_times_have_the_scenarios_mean_and_patience_is_exponential() -> None:
    s = load_scenario("almaty-weekday")
    arrivals = generate(s, seed=3)
    calls = [a for a in arrivals if a.channel == "voice" and a.kind == "ordinary"]
    mean = sum(a.handle_s for a in calls) / len(calls)
    assert mean == pytest.approx(s.handling_s["voice"]["ordinary"], rel=0.08)
    patience = [a.patience_s for a in calls]
    m = sum(patience) / len(patience)
    assert m == pytest.approx(s.patience_s["ordinary"], rel=0.1)
    # exponential: the median is mean·ln 2
    assert sorted(patience)[len(patience) // 2] == pytest.approx(m * math.log(2), rel=0.12)
    assert all(math.isinf(a.patience_s) for a in arrivals if a.channel == "app")


def test_the_same_seed_gives_the_same_run() -> None:
    s = load_scenario("mass-incident")
    assert generate(s, seed=5) == generate(s, seed=5)
    assert generate(s, seed=5) != generate(s, seed=6)


def test_mass_incident_puts_300_contacts_about_one_fire_in_10_minutes() -> None:
    s = load_scenario("mass-incident")
    burst = [a for a in generate(s, seed=1) if a.burst]
    assert len(burst) == 300
    assert all(15 * 60 <= a.t_s <= 25 * 60 and a.kind == "emergency" for a in burst)
    assert all(abs(a.lat - 43.2385) < 0.01 and abs(a.lon - 76.889) < 0.01 for a in burst)
    assert {a.district for a in burst} == {"Алмалинский"}  # the district nearest the fire


def test_a_bad_scenario_is_refused_with_the_field_named() -> None:
    with pytest.raises(ScenarioError, match="not valid TOML"):
        parse_scenario("name = ")
    with pytest.raises(ScenarioError, match=r"hourly"):
        parse_scenario('name = "x"\nhourly = [1, 2]\n')
    with pytest.raises(ScenarioError, match="unknown channel: fax"):
        parse_scenario("name = 'x'\n[per_day]\nfax = 3\n")
    with pytest.raises(ScenarioError, match="no scenario 'nowhere'"):
        load_scenario("nowhere")
