"""Erlang C against published figures, Erlang A against exact special cases, and the
simulator against the theory on a stationary hour."""

from __future__ import annotations

import math

import pytest
from scipy.stats import poisson  # type: ignore[import-untyped]

from contact.simulate.des import simulate
from contact.simulate.erlang import agents_for, erlang_a, erlang_b, erlang_c
from contact.simulate.scenario import parse_scenario
from contact.simulate.traffic import generate


def test_erlang_c_matches_the_published_example() -> None:
    # 10 Erlang (200 calls/hour... 10 Erlang), 12 agents, AHT 180 s, service level at 20 s:
    # P(wait) 0.4494, ASA 40.4 s, service level 64.0 % (the textbook/Wikipedia figures)
    p = erlang_c(10 / 180, 180, 12, 20)
    assert p.p_wait == pytest.approx(0.4494, abs=1e-4)
    assert p.asa_s == pytest.approx(40.44, abs=0.01)
    assert p.service_level == pytest.approx(0.6402, abs=1e-4)
    assert p.occupancy == pytest.approx(10 / 12)


def test_erlang_b_known_value() -> None:
    assert erlang_b(10, 12) == pytest.approx(0.1197, abs=1e-4)


def test_erlang_c_unstable_load_is_reported_not_divided_by_zero() -> None:
    p = erlang_c(12 / 180, 180, 12, 20)
    assert p.service_level == 0.0 and math.isinf(p.asa_s)


def test_erlang_a_without_abandonment_is_erlang_c() -> None:
    c = erlang_c(10 / 180, 180, 12, 20)
    a = erlang_a(10 / 180, 180, 12, 1e12, 20)
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-6)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=0.01)
    assert a.p90_answer_s == pytest.approx(c.p90_answer_s, rel=0.01)


def test_erlang_a_with_patience_equal_to_service_time_is_poisson() -> None:
    # θ = μ: the number in system is Poisson(a), whatever n (an exact special case)
    a = erlang_a(10 / 180, 180, 12, 180, 20)
    assert a.p_wait == pytest.approx(float(poisson.sf(11, 10)), abs=1e-9)
    # abandonment = θ E[queue] / λ = E[(N - n)+] / a
    mean_queue = sum((k - 12) * poisson.pmf(k, 10) for k in range(13, 80))
    assert a.abandoned == pytest.approx(mean_queue / 10, abs=1e-9)
    assert 0.64 < a.service_level < 1


def test_erlang_a_is_stable_for_a_large_overloaded_centre() -> None:
    # 300 Erlang on 250 agents: Erlang C has no answer; Erlang A must, without overflow
    p = erlang_a(300 / 180, 180, 250, 60, 10)
    assert 0 < p.service_level < 1
    assert p.abandoned == pytest.approx(50 / 300, abs=0.03)  # the excess load leaves
    assert p.occupancy > 0.99


def test_agents_for_reaches_the_target_with_the_fewest() -> None:
    n = agents_for(10 / 180, 180, 1e12, 20, 0.8)
    assert erlang_c(10 / 180, 180, n, 20).service_level >= 0.8
    assert erlang_c(10 / 180, 180, n - 1, 20).service_level < 0.8


STATIONARY = """
name = "stationary"
duration_h = 200
handling = "exponential"
hourly = [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]
operators = [12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12,12]
patient_channels = []
[per_day]
voice = 4800
[mix]
emergency = 1
ordinary = 0
informational = 0
[handling_s.voice]
emergency = 180
ordinary = 180
informational = 180
[patience_s]
emergency = 300
ordinary = 300
informational = 300
[needs_unit]
emergency = 0.5
ordinary = 0
informational = 0
[[districts]]
name = "one"
weight = 1
lat = 43.25
lon = 76.9
"""


def test_simulated_and_predicted_service_level_agree_on_a_stationary_hour() -> None:
    # 200 h/hour → λ = 200/h, AHT 180 s: 10 Erlang on 12 operators, patience 300 s
    scenario = parse_scenario(STATIONARY)
    arrivals = generate(scenario, seed=13)
    out = simulate(arrivals, [12], answer_s=10)
    cell = out.cell()
    simulated = cell.within / cell.offered
    predicted = erlang_a(200 / 3600, 180, 12, 300, 10)
    assert abs(simulated - predicted.service_level) < 0.05, (simulated, predicted)
    assert abs(cell.abandoned / cell.offered - predicted.abandoned) < 0.02
    busy = sum(out.busy_s) / sum(out.staffed_s)
    assert abs(busy - predicted.occupancy) < 0.03
