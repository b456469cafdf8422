"""The fewest operators per hour that meet a target, found with the simulator.

Erlang A on each hour's whole load gives a start (conservative: emergencies jump the queue);
then the simulator, over a few seeded replications of the scenario, adds an operator to every
hour that misses the target and removes operators one at a time wherever every hour still
meets it. Hours are coupled (a queue spills into the next hour), so each step checks them all."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from contact.simulate.des import EVERYONE, Outcome, Pool, service_level, simulate
from contact.simulate.erlang import agents_for
from contact.simulate.scenario import CHANNELS, KINDS, Scenario
from contact.simulate.traffic import Arrival, generate


@dataclass(frozen=True)
class Recommendation:
    rota: list[int]  # operators per hour, all skills together
    outcomes: list[Outcome]  # one per replication, with this rota
    by_pool: dict[str, list[int]]  # per skill group ({"all": rota} without skills)


def pools_of(scenario: Scenario) -> list[Pool]:
    return [
        Pool(g.name, frozenset(g.languages), frozenset(g.channels)) for g in scenario.skills
    ] or [EVERYONE]


def _owner(pools: Sequence[Pool], channel: str, language: str) -> Pool:
    """The narrowest pool that takes this class of contacts: the one that should."""
    probe = Arrival(0.0, channel, "ordinary", language, "", 0.0, 0.0, 0.0, 0.0, False)
    return min((p for p in pools if p.serves(probe)), key=lambda p: (p.breadth, p.name))


def hour_load(
    scenario: Scenario, hour: int, pool: Pool | None = None, pools: Sequence[Pool] = ()
) -> tuple[float, float, float]:
    """(arrivals per second, mean busy seconds per contact, mean patience) for one hour: of
    everything, or of what `pool` is the narrowest taker of among `pools`."""
    how = scenario.start_hour_of_week + hour
    rate = busy = patience = 0.0
    for channel in CHANNELS:
        r = scenario.rate_per_hour(channel, how) / 3600
        for language, weight in scenario.languages.items():
            if pool is not None and _owner(pools, channel, language) != pool:
                continue
            for kind in KINDS:
                share = r * weight * scenario.mix[kind]
                if share <= 0:
                    continue
                rate += share
                busy += share * (scenario.handling_s[channel][kind] + scenario.wrap_up_s)
                if channel not in scenario.patient_channels:  # abandonment rates add up
                    patience += share / scenario.patience_s[kind]
    if rate <= 0:
        return 0.0, 1.0, math.inf
    return rate, busy / rate, rate / patience if patience else math.inf


def erlang_rota(
    scenario: Scenario, pool: Pool | None = None, pools: Sequence[Pool] = ()
) -> list[int]:
    """Erlang A per hour on the whole load (or on the load `pool` should take): at least one
    operator where there is any load."""
    t = scenario.target
    rota = []
    for h in range(math.ceil(scenario.duration_h)):
        rate, aht, patience = hour_load(scenario, h, pool, pools)
        needed = agents_for(rate, aht, patience, t.answer_s, t.service_level) if rate else 0
        rota.append(max(needed, 1 if rate or pool is None else 0))
    return rota


def failing_hours(scenario: Scenario, outcomes: Sequence[Outcome]) -> list[int]:
    t = scenario.target
    kind = None if t.kind == "all" else t.kind
    bad = []
    for h in range(math.ceil(scenario.duration_h)):
        target = [o.cell(hour=h, kind=kind) for o in outcomes]
        whole = [o.cell(hour=h) for o in outcomes]
        offered = sum(c.offered for c in target)
        within = sum(c.within for c in target)
        all_offered = sum(c.offered for c in whole)
        abandoned = sum(c.abandoned for c in whole)
        missed = bool(offered) and within / offered < t.service_level
        lost = bool(all_offered) and abandoned / all_offered > t.max_abandoned
        if missed or lost:
            bad.append(h)
    return bad


Rotas = dict[str, list[int]]


def _run(
    scenario: Scenario, runs: Sequence[Sequence[Arrival]], rotas: Rotas, pools: Sequence[Pool]
) -> list[Outcome]:
    t = scenario.target
    return [simulate(a, rotas, t.answer_s, scenario.wrap_up_s, pools) for a in runs]


def _worst_class(scenario: Scenario, outcomes: Sequence[Outcome], hour: int) -> tuple[str, str]:
    """The (channel, language) that does worst in an hour: the lowest share answered in time
    of the target's kind, else the most abandoned."""
    t = scenario.target
    kind = None if t.kind == "all" else t.kind
    scores: dict[tuple[str, str], float] = {}
    for channel in CHANNELS:
        for language in scenario.languages:
            cells = [
                o.cell(hour=hour, channel=channel, kind=kind, language=language) for o in outcomes
            ]
            whole = [o.cell(hour=hour, channel=channel, language=language) for o in outcomes]
            offered, offered_all = sum(c.offered for c in cells), sum(c.offered for c in whole)
            if not offered_all:
                continue
            level = sum(c.within for c in cells) / offered if offered else 1.0
            lost = sum(c.abandoned for c in whole) / offered_all
            scores[(channel, language)] = min(level - t.service_level, t.max_abandoned - lost)
    return min(scores, key=lambda k: scores[k])


def recommend(scenario: Scenario, seed: int = 1, replications: int = 3) -> Recommendation:
    """The fewest operators per hour, per skill group when the scenario has them, that meet
    the target in every hour."""
    runs = [generate(scenario, seed + r) for r in range(replications)]
    pools = pools_of(scenario)
    rotas = {p.name: erlang_rota(scenario, p if scenario.skills else None, pools) for p in pools}
    outcomes = _run(scenario, runs, rotas, pools)
    for _ in range(300):  # up until every hour meets the target
        bad = failing_hours(scenario, outcomes)
        if not bad:
            break
        for h in bad:
            channel, language = _worst_class(scenario, outcomes, h)
            rotas[_owner(pools, channel, language).name][h] += 1
        outcomes = _run(scenario, runs, rotas, pools)
    # then down, an hour and a group at a time (the most versatile first), while all still
    # meet it
    for h in range(len(next(iter(rotas.values())))):
        for pool in sorted(pools, key=lambda p: (-p.breadth, p.name)):
            # a desk with work in that hour is never left empty: its patient contacts
            # (chats) would wait for the next hour, whatever the hour's figures say
            floor = 1 if len(pools) == 1 or hour_load(scenario, h, pool, pools)[0] else 0
            while rotas[pool.name][h] > floor:
                trial = {name: list(r) for name, r in rotas.items()}
                trial[pool.name][h] -= 1
                if len(pools) > 1 and not sum(r[h] for r in trial.values()):
                    break
                tried = _run(scenario, runs, trial, pools)
                if failing_hours(scenario, tried):
                    break
                rotas, outcomes = trial, tried
    total = [sum(r[h] for r in rotas.values()) for h in range(len(next(iter(rotas.values()))))]
    return Recommendation(total, outcomes, rotas)


def pooled_service_level(outcomes: Sequence[Outcome], kind: str | None) -> float:
    cells = [o.cell(kind=kind) for o in outcomes]
    offered = sum(c.offered for c in cells)
    return sum(c.within for c in cells) / offered if offered else math.nan


__all__ = ["Recommendation", "erlang_rota", "pooled_service_level", "recommend", "service_level"]
