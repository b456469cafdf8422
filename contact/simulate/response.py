"""Response to the scene in the model: from a citizen's first contact to a patrol at the
place. A contact that needs a unit is sent one `dispatch_s` after an operator answered it;
the unit that can be there first goes (a free one near, or a busy one about to be free), at
`speed_kmh` over streets `road_factor` longer than the straight line; it stays `on_scene_min`
and is free again where it was. Units start the day spread over their districts."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from contact.domain.geo import haversine_m as distance_m
from contact.simulate.des import Outcome, percentile
from contact.simulate.scenario import Scenario, Units
from contact.simulate.traffic import Arrival


@dataclass
class Patrol:
    district: str
    lat: float
    lon: float
    free_at: float = 0.0


@dataclass
class Responses:
    """Response times (seconds from the first contact to the unit at the scene) by district,
    and the contacts that needed a unit but were never answered (no unit was sent)."""

    target_s: float
    by_district: dict[str, list[float]] = field(default_factory=dict)
    unanswered: int = 0

    def figures(self, district: str | None = None) -> dict[str, float | int | None]:
        times = (
            [t for ts in self.by_district.values() for t in ts]
            if district is None
            else self.by_district.get(district, [])
        )
        if not times:
            return {"sent": 0, "mean_min": None, "p90_min": None, "within_target": None}
        return {
            "sent": len(times),
            "mean_min": round(sum(times) / len(times) / 60, 2),
            "p90_min": round(percentile(times, 0.9) / 60, 2),
            "within_target": round(sum(t <= self.target_s for t in times) / len(times), 4),
        }


def fleet(scenario: Scenario, units: Units, rng: random.Random) -> list[Patrol]:
    patrols = []
    for d in scenario.districts:
        for _ in range(units.counts.get(d.name, units.per_district)):
            r = d.radius_km * 1000 * math.sqrt(rng.random())
            bearing = rng.random() * 2 * math.pi
            lat = d.lat + (r * math.cos(bearing)) / 111_320
            lon = d.lon + (r * math.sin(bearing)) / (111_320 * math.cos(math.radians(d.lat)))
            patrols.append(Patrol(d.name, lat, lon))
    return patrols


def respond(
    scenario: Scenario, arrivals: Sequence[Arrival], outcome: Outcome, seed: int
) -> Responses | None:
    """The response to every answered contact that needs a unit, or None without units."""
    units = scenario.units
    if units is None:
        return None
    result = Responses(units.target_min * 60)
    patrols = fleet(scenario, units, random.Random(seed * 7919 + 1))
    speed = units.speed_kmh / 3.6
    wanted = sorted(
        (outcome.answered_at[i] + units.dispatch_s, i)
        for i, a in enumerate(arrivals)
        if a.needs_unit and i in outcome.answered_at
    )
    result.unanswered = sum(
        1 for i, a in enumerate(arrivals) if a.needs_unit and i not in outcome.answered_at
    )
    if not patrols:
        return result
    for sent_at, i in wanted:
        a = arrivals[i]
        at_scene, n = min(
            (
                max(p.free_at, sent_at)
                + distance_m(p.lat, p.lon, a.lat, a.lon) * units.road_factor / speed,
                n,
            )
            for n, p in enumerate(patrols)
        )
        best = patrols[n]
        best.lat, best.lon, best.free_at = a.lat, a.lon, at_scene + units.on_scene_min * 60
        result.by_district.setdefault(a.district, []).append(at_scene - a.t_s)
    return result
