"""The response report: contact received -> first unit on scene, per district and overall,
against the target (7 minutes), from what the store measured."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from datetime import datetime
from typing import Any

from contact.dispatch.model import DistrictRecord

Arrival = tuple[str | None, float, datetime]  # district, response seconds, arrived at


def response_report(
    arrivals: list[Arrival],
    counts: dict[str | None, int],
    *,
    since: datetime,
    until: datetime,
    target_s: float,
    district: Callable[[str | None], DistrictRecord | None],
) -> dict[str, Any]:
    """Per district (by id, the unknown district last) and overall; `district` names them."""
    by_district: dict[str | None, list[float]] = {}
    for district_id, response_s, _ in arrivals:
        by_district.setdefault(district_id, []).append(response_s)
    keys = sorted(set(by_district) | set(counts), key=lambda k: (k is None, k or ""))
    rows = [_row(k, district(k), by_district.get(k, []), counts.get(k, 0), target_s) for k in keys]
    overall = _row("all", None, [r for _, r, _ in arrivals], sum(counts.values()), target_s)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "target_s": target_s,
        "districts": rows,
        "overall": overall,
    }


def _row(
    district_id: str | None,
    record: DistrictRecord | None,
    times: list[float],
    dispatches: int,
    target: float,
) -> dict[str, Any]:
    times = sorted(times)
    within = sum(1 for t in times if t <= target)
    return {
        "district_id": district_id,
        "name_kk": record.name_kk if record else None,
        "name_ru": record.name_ru if record else None,
        "name_en": (record.name_en or record.name_ru) if record else None,
        "department": record.department if record else None,
        "dispatches": dispatches,
        "arrivals": len(times),
        "median_s": round(statistics.median(times), 1) if times else None,
        "p90_s": round(_percentile(times, 0.9), 1) if times else None,
        "mean_s": round(statistics.fmean(times), 1) if times else None,
        "max_s": round(times[-1], 1) if times else None,
        "within_target": within,
        "within_target_ratio": round(within / len(times), 3) if times else None,
    }


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


__all__ = ["response_report"]
