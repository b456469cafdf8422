"""The figures the out-of-process benchmarks compute and print (bench_report_to_screen,
bench_webhooks, bench_voice_screen_pop): percentiles and table cells."""

from __future__ import annotations

import math
from collections import Counter


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile p (0-100) of values, in any order (nan when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(v: float) -> str:
    """A milliseconds table cell, 6 wide: "     -" for nan (no value)."""
    return "     -" if math.isnan(v) else f"{v:6.1f}"


def tally(counts: Counter[str]) -> str:
    """ "404: 2, ClientOSError: 1": each kind and how often, by kind."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
