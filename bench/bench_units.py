"""Ranking 5,000 patrol units by ETA to a point. Prints figures; exits 1 on a MISS.

python bench/bench_units.py [--units 5000] [--points 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from _timing import latencies_ms, line  # bench/ is on sys.path when run as a script

from contact.dispatch.demo_city import generate_city
from contact.dispatch.units import UnitStatus, UnitTable, rank_units

TARGET_RANK_P99_MS = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description="rank patrol units by ETA")
    parser.add_argument("--units", type=int, default=5_000)
    parser.add_argument("--points", type=int, default=2_000)
    args = parser.parse_args()

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    city = generate_city(seed=102, cameras=0, units=args.units)
    available = sum(u.status is UnitStatus.AVAILABLE for u in city.units)
    started = time.perf_counter()
    table = UnitTable(city.units)
    print(
        f"{len(table):,} units ({available:,} available), table built in "
        f"{(time.perf_counter() - started) * 1e3:.1f} ms; {args.points:,} random points"
    )
    points = city.random_points(args.points, seed=2026)
    ok = line(
        "UnitTable.rank(top_n=5)",
        latencies_ms(points, lambda p: table.rank(p, top_n=5)),
        TARGET_RANK_P99_MS,
    )
    line("UnitTable.rank(top_n=50)", latencies_ms(points, lambda p: table.rank(p, top_n=50)))
    line(
        "rank_units(list[Unit]), builds columns",
        latencies_ms(points[:300], lambda p: rank_units(city.units, p, top_n=5), rounds=1),
    )
    moved = city.units[: len(city.units) // 10]
    started = time.perf_counter()
    for unit in moved:
        table.upsert(unit)
    per_update_us = (time.perf_counter() - started) / max(1, len(moved)) * 1e6
    print(f"  (a position/status update costs {per_update_us:.1f} us)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
