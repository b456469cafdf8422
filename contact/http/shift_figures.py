"""The figures of a period for the supervisor's charts and the shift report, computed from
facts without personal data (persistence/stats.py) and the first arrivals on scene.

Answer time is queued -> answered (what the 10 s target is about); response time is contact
received -> first unit on scene (the 7 minute target). Hours are the local hours of `zone`."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, tzinfo
from typing import Any

from contact.domain.model import ContactState, Priority
from contact.persistence.stats import ContactFacts

# upper bounds of the distributions' bins (the last bin is "more")
ANSWER_BINS_S = (5, 10, 20, 30, 60, 120)
RESPONSE_BINS_S = (180, 300, 420, 600, 900)
HOUR = timedelta(hours=1)

# (kk, ru) names of a district, or None when unknown
DistrictNames = Callable[[str], tuple[str | None, str | None, str | None] | None]


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _bins(values: Iterable[float], edges: tuple[int, ...]) -> list[dict[str, Any]]:
    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[next((i for i, edge in enumerate(edges) if v <= edge), len(edges))] += 1
    return [{"le_s": edge, "n": n} for edge, n in zip((*edges, None), counts, strict=True)]


def _summary(values: list[float], target_s: float) -> dict[str, Any]:
    ordered = sorted(values)
    within = sum(1 for v in ordered if v <= target_s)
    return {
        "n": len(ordered),
        "median_s": round(statistics.median(ordered), 1) if ordered else None,
        "p90_s": round(p, 1) if (p := _percentile(ordered, 0.9)) is not None else None,
        "within_target": within,
        "within_target_ratio": round(within / len(ordered), 3) if ordered else None,
    }


def answer_time_s(fact: ContactFacts) -> float | None:
    if fact.answered_at is None:
        return None
    start = fact.queued_at or fact.created_at
    return max(0.0, (fact.answered_at - start).total_seconds())


def _local_hour(at: datetime, zone: tzinfo) -> datetime:
    return at.astimezone(zone).replace(minute=0, second=0, microsecond=0)


def per_hour(
    contacts: list[ContactFacts], since: datetime, until: datetime, zone: tzinfo
) -> list[dict[str, Any]]:
    """Every local hour of the period (empty ones too), with its contacts by channel."""
    hours: dict[datetime, dict[str, int]] = {}
    at = _local_hour(since, zone)
    while at < until:
        hours[at] = {}
        at = (at.astimezone(until.tzinfo) + HOUR).astimezone(zone)
    for fact in contacts:
        bucket = hours.setdefault(_local_hour(fact.created_at, zone), {})
        bucket[fact.channel] = bucket.get(fact.channel, 0) + 1
    return [{"hour": h.isoformat(), "channels": hours[h]} for h in sorted(hours)]


def figures(
    contacts: list[ContactFacts],
    arrivals: list[tuple[str | None, float, datetime]],
    *,
    since: datetime,
    until: datetime,
    zone: tzinfo,
    answer_target_s: float,
    response_target_s: float,
    district_names: DistrictNames,
) -> dict[str, Any]:
    answered = [t for f in contacts if (t := answer_time_s(f)) is not None]
    abandoned = sum(1 for f in contacts if f.state == ContactState.ABANDONED)
    by_channel: dict[str, int] = {}
    by_priority = {p.name.lower(): 0 for p in Priority}
    for f in contacts:
        by_channel[f.channel] = by_channel.get(f.channel, 0) + 1
        if f.priority in Priority._value2member_map_:
            by_priority[Priority(f.priority).name.lower()] += 1
    answer = _summary(answered, answer_target_s)
    by_district: dict[str | None, list[float]] = {}
    for district_id, response_s, _ in arrivals:
        by_district.setdefault(district_id, []).append(response_s)
    districts = []
    for district_id in sorted(by_district, key=lambda d: (d is None, d or "")):
        names = district_names(district_id) if district_id else None
        districts.append(
            {
                "district_id": district_id,
                "name_kk": names[0] if names else None,
                "name_ru": names[1] if names else None,
                "name_en": (names[2] or names[1]) if names else None,
                **_summary(by_district[district_id], response_target_s),
            }
        )
    responses = [r for _, r, _ in arrivals]
    return {
        "from": since.isoformat(),
        "to": until.isoformat(),
        "zone": str(zone),
        "contacts": len(contacts),
        "by_channel": dict(sorted(by_channel.items())),
        "by_priority": by_priority,
        "answered": answer["n"],
        "answered_within_target": answer["within_target"],
        "answered_within_target_ratio": answer["within_target_ratio"],
        "abandoned": abandoned,
        "abandoned_ratio": round(abandoned / len(contacts), 3) if contacts else None,
        "per_hour": per_hour(contacts, since, until, zone),
        "answer_times": {
            "target_s": answer_target_s,
            "median_s": answer["median_s"],
            "p90_s": answer["p90_s"],
            "bins": _bins(answered, ANSWER_BINS_S),
        },
        "response_times": {
            "target_s": response_target_s,
            **_summary(responses, response_target_s),
            "bins": _bins(responses, RESPONSE_BINS_S),
            "districts": districts,
        },
    }
