"""One node's camera load, on its own: read every camera from the database as a server does
at start, build the index, then time the cameras-that-see-a-point search. Prints one JSON
line. Run by bench_camera_scale.py, once with this worktree's code and once with an older
checkout first on PYTHONPATH (the "before"), so both load the same database in a fresh
process and RSS means the same thing.

    python bench/_camera_node.py --db sqlite+aiosqlite:///…/cameras.db [--points 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time
from typing import Any

import numpy as np
from _timing import latencies_ms  # bench/ is on sys.path when run as a script

import contact
from contact.config import DatabaseSettings
from contact.dispatch.cameras import CameraIndex
from contact.dispatch.demo_city import ALMATY, BOUNDS_M
from contact.dispatch.geo import LatLon, LocalProjection
from contact.persistence.database import SqlDatabase

ANSWERS_CHECKED = 200  # points whose answers the parent compares between before and after


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def cpu_s() -> float:
    """CPU of the whole process (every thread): on a shared machine the wall clock mostly
    measures the neighbours."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux


async def load(url: str) -> tuple[CameraIndex, float, float]:
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    try:
        started, started_cpu = time.perf_counter(), cpu_s()
        repo: Any = getattr(db, "dispatch", None)  # older checkouts: on the database
        if repo is None:
            from contact.dispatch.sql import SqlDispatchRepository

            repo = SqlDispatchRepository(db.store)
        if hasattr(repo, "camera_table"):  # this code: columns read in chunks
            table = await repo.camera_table()
            index = await asyncio.get_running_loop().run_in_executor(None, CameraIndex, table)
            del table
            from contact.dispatch.camera_table import return_freed_memory  # as the service does

            return_freed_memory()
        else:  # the code before: one Camera per row, then the index
            cameras = await repo.cameras()
            index = await asyncio.get_running_loop().run_in_executor(None, CameraIndex, cameras)
            del cameras
        return index, time.perf_counter() - started, cpu_s() - started_cpu
    finally:
        await db.close()


def points(n: int, seed: int) -> list[LatLon]:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = BOUNDS_M
    projection = LocalProjection(ALMATY.lat, ALMATY.lon)
    lat, lon = projection.to_latlon_array(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n))
    return [LatLon(float(a), float(o)) for a, o in zip(lat, lon, strict=True)]


def summary(rounds: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    stats = [
        {
            "p50": float(np.percentile(wall, 50)),
            "p99": float(np.percentile(wall, 99)),
            "cpu_p50": float(np.percentile(cpu, 50)),
            "cpu_p99": float(np.percentile(cpu, 99)),
        }
        for wall, cpu in rounds
    ]
    return {"quietest": min(stats, key=lambda s: s["p99"]), "rounds": stats}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", required=True)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    gc.collect()
    rss_before = rss_mb()
    index, load_s, load_cpu_s = asyncio.run(load(args.db))
    gc.collect()
    rss_after = rss_mb()
    where = points(args.points, seed=2026)
    answers = [[s.camera.id for s in index.cameras_seeing(p, k=8)] for p in where]
    others = [[s.camera.id for s in index.nearest_others(p, n=5)] for p in where]
    seeing = latencies_ms(where, lambda p: index.cameras_seeing(p, k=8), rounds=args.rounds)
    around = latencies_ms(where, lambda p: index.around(p), rounds=args.rounds)
    result = {
        "code": str(contact.__file__).rsplit("/contact/", 1)[0],
        "cameras": len(index),
        "max_range_m": index.max_range_m,
        "load_s": load_s,
        "load_cpu_s": load_cpu_s,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "peak_mb": peak_mb(),
        "seeing": summary(seeing),
        "around": summary(around),
        "answers": answers[:ANSWERS_CHECKED],
        "others": others[:ANSWERS_CHECKED],
        "seen_mean": float(np.mean([len(a) for a in answers])),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
