"""The traffic model: a scenario and a seed → the contacts of a run, each with its channel,
kind, language, place, handling time, patience and need of a unit.

Arrivals are a non-homogeneous Poisson process per channel, drawn by thinning (Lewis and
Shedler) against the hour-of-week rate; a scenario's burst adds its contacts uniformly over
its window. Handling times are lognormal with the scenario's mean (or exponential for the
textbook comparison), patience exponential."""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass

import numpy as np

from contact.simulate.scenario import CHANNELS, KINDS, Scenario

EARTH_KM_PER_DEG = 111.32


@dataclass(frozen=True, slots=True)
class Arrival:
    t_s: float  # seconds since the start of the run
    channel: str
    kind: str
    language: str
    district: str
    lat: float
    lon: float
    handle_s: float
    patience_s: float  # math.inf for channels whose citizen does not hang up
    needs_unit: bool
    burst: bool = False


def _hour_rates(scenario: Scenario, channel: str) -> list[float]:
    """Rate per second for each hour of the run (piecewise constant)."""
    hours = math.ceil(scenario.duration_h)
    first = scenario.start_hour_of_week
    return [scenario.rate_per_hour(channel, first + h) / 3600 for h in range(hours)]


def _thinned_times(rng: np.random.Generator, rates: list[float], end_s: float) -> list[float]:
    peak = max(rates, default=0.0)
    if peak <= 0:
        return []
    times: list[float] = []
    t = 0.0
    while True:
        t += rng.exponential(1 / peak)
        if t >= end_s:
            return times
        if rng.random() * peak < rates[int(t // 3600)]:
            times.append(t)


class _Choice:
    """A key drawn by weight: one uniform number and a bisection (numpy's choice is slow)."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.keys = list(weights)
        total = sum(weights.values())
        self.edges = list(itertools.accumulate(w / total for w in weights.values()))

    def __call__(self, rng: np.random.Generator) -> str:
        i = bisect.bisect_right(self.edges, rng.random())
        return self.keys[min(i, len(self.keys) - 1)]


def _place(
    rng: np.random.Generator, lat: float, lon: float, radius_km: float
) -> tuple[float, float]:
    """A point uniform in a disc around a centre."""
    r = radius_km * math.sqrt(rng.random())
    a = rng.random() * 2 * math.pi
    dlat = r * math.cos(a) / EARTH_KM_PER_DEG
    dlon = r * math.sin(a) / (EARTH_KM_PER_DEG * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def handling_time(rng: np.random.Generator, scenario: Scenario, channel: str, kind: str) -> float:
    mean = scenario.handling_s[channel][kind]
    if scenario.handling == "exponential" or scenario.handling_sigma == 0:
        return float(rng.exponential(mean)) if scenario.handling == "exponential" else mean
    s = scenario.handling_sigma
    return float(rng.lognormal(math.log(mean) - s * s / 2, s))  # E = mean


def generate(scenario: Scenario, seed: int) -> list[Arrival]:
    """Every contact of the run, sorted by time; the same seed gives the same run."""
    rng = np.random.default_rng(seed)
    end_s = scenario.duration_h * 3600
    district_of = _Choice({d.name: d.weight for d in scenario.districts})
    language_of, kind_of = _Choice(scenario.languages), _Choice(scenario.mix)
    by_name = {d.name: d for d in scenario.districts}
    out: list[Arrival] = []

    def make(t: float, channel: str, kind: str, lat: float | None, lon: float | None) -> Arrival:
        if lat is None or lon is None:
            district = district_of(rng)
            d = by_name[district]
            lat, lon = _place(rng, d.lat, d.lon, d.radius_km)
        else:  # a given place (the burst) is in the district whose centre is nearest
            district = min(
                by_name.values(), key=lambda d: (d.lat - lat) ** 2 + (d.lon - lon) ** 2
            ).name
        patient = channel in scenario.patient_channels
        return Arrival(
            t_s=t,
            channel=channel,
            kind=kind,
            language=language_of(rng),
            district=district,
            lat=lat,
            lon=lon,
            handle_s=handling_time(rng, scenario, channel, kind),
            patience_s=math.inf if patient else float(rng.exponential(scenario.patience_s[kind])),
            needs_unit=bool(rng.random() < scenario.needs_unit[kind]),
        )

    for channel in CHANNELS:
        for t in _thinned_times(rng, _hour_rates(scenario, channel), end_s):
            out.append(make(t, channel, kind_of(rng), None, None))
    burst = scenario.burst
    if burst is not None:
        channel_of = _Choice(burst.channels)
        start = burst.start_min * 60
        for _ in range(burst.contacts):
            t = start + rng.random() * burst.duration_min * 60
            lat, lon = _place(rng, burst.lat, burst.lon, burst.radius_km)
            a = make(t, channel_of(rng), burst.kind, lat, lon)
            out.append(Arrival(**{**{f: getattr(a, f) for f in Arrival.__slots__}, "burst": True}))
    out.sort(key=lambda a: a.t_s)
    return [a for a in out if a.t_s < end_s]  # a window cut short also cuts the burst


def expected_counts(scenario: Scenario) -> dict[str, float]:
    """Expected contacts per channel over the whole run (burst excluded)."""
    hours = math.ceil(scenario.duration_h)
    out: dict[str, float] = {}
    for channel in CHANNELS:
        rates = _hour_rates(scenario, channel)
        whole = sum(r * 3600 for r in rates[: int(scenario.duration_h)])
        if hours > int(scenario.duration_h):
            whole += rates[-1] * 3600 * (scenario.duration_h - int(scenario.duration_h))
        out[channel] = whole
    return out


__all__ = ["KINDS", "Arrival", "expected_counts", "generate", "handling_time"]
