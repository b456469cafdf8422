"""Timing helpers shared by the in-process benchmarks (bench_cameras, bench_units)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence

import numpy as np

from contact.dispatch.geo import LatLon

ROUNDS = 5  # the machine is shared: report the quietest round, show the spread


def latencies_ms(
    points: Sequence[LatLon], query: Callable[[LatLon], object], rounds: int = ROUNDS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(wall, cpu) milliseconds of each query, one pair of arrays per round over all points.
    CPU time leaves out waiting for a core, which is most of the tail on a busy machine."""
    for p in points[:50]:  # warm caches and lazy paths
        query(p)
    wall_clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    out = []
    for _ in range(rounds):
        gc.collect()
        wall, cpu = np.empty(len(points)), np.empty(len(points))
        for i, p in enumerate(points):
            start, start_cpu = wall_clock(), cpu_clock()
            query(p)
            cpu[i] = (cpu_clock() - start_cpu) / 1e6
            wall[i] = (wall_clock() - start) / 1e6
        out.append((wall, cpu))
    return out


def line(
    name: str, rounds: list[tuple[np.ndarray, np.ndarray]], target_p99_ms: float | None = None
) -> bool:
    """One result line: the quietest round's wall p50/p99 (judged), its CPU p99, the spread."""
    walls = np.stack([wall for wall, _ in rounds])
    p50s, p99s = np.percentile(walls, [50, 99], axis=1)
    best = int(np.argmin(p99s))
    cpu_p99 = float(np.percentile(rounds[best][1], 99))
    verdict = ""
    ok = True
    if target_p99_ms is not None:
        ok = bool(p99s[best] <= target_p99_ms)
        verdict = f"  target p99 <= {target_p99_ms:g} ms {'PASS' if ok else 'MISS'}"
    print(
        f"  {name:<44} p50 {p50s[best]:7.3f} ms  p99 {p99s[best]:7.3f} ms  (cpu p99 "
        f"{cpu_p99:.3f}; wall p99 over {len(rounds)} round(s) {p99s.min():.3f}-{p99s.max():.3f})"
        f"{verdict}"
    )
    return ok
