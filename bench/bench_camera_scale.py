"""Cameras at a country's scale: a node's memory and start time for 68,000 (Almaty), 300,000
and 1.3 million cameras, and the cameras-that-see-a-point search with 0.1 % long-range
cameras (1-3 km: masts and towers) mixed in. Before (an older checkout, e.g. `git worktree
add --detach /tmp/h8-base main`) and after, back to back, each in a fresh process loading the
same SQLite database (bench/_camera_node.py). Prints figures; exits 1 on a MISS or when the
two disagree on an answer.

    python bench/bench_camera_scale.py --base /tmp/h8-base [--cameras 68000,300000,1300000]

The machine is shared: every pair (before, after) runs back to back, and the quietest of
`--rounds` timing rounds is judged (CPU-only percentiles are printed beside the wall clock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from contact.dispatch.demo_city import ALMATY, BOUNDS_M, STREET_SPACING_M
from contact.dispatch.geo import LocalProjection
from contact.persistence.migrate import upgrade

TARGET_SEEING_P99_MS = 1.0
LONG_RANGE_M = (1_000.0, 3_000.0)
DISTRICTS = ("alatau", "zhetysu", "turksib", "auezov", "almaly", "medeu", "bostandyq")
HERE = Path(__file__).resolve().parent

Row = tuple[str, float, float, float, float, float, str, str, str, str]


def camera_rows(n: int, long_share: float, seed: int, chunk: int = 50_000) -> Iterator[list[Row]]:
    """The demo city's street cameras (contact/dispatch/demo_city.py: on streets every 250 m,
    looking along them, 10 % domes, 40-200 m), `long_share` of them long-range anywhere."""
    rng = np.random.default_rng(seed)
    projection = LocalProjection(ALMATY.lat, ALMATY.lon)
    x0, y0, x1, y1 = BOUNDS_M
    xs = np.arange(x0 + STREET_SPACING_M / 2, x1, STREET_SPACING_M)
    ys = np.arange(y0 + STREET_SPACING_M / 2, y1, STREET_SPACING_M)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        along_x = rng.random(m) < 0.5
        x = np.where(along_x, rng.uniform(x0, x1, m), rng.choice(xs, m))
        y = np.where(along_x, rng.choice(ys, m), rng.uniform(y0, y1, m))
        street = np.where(along_x, 90.0, 0.0)
        heading = (street + rng.choice([0.0, 180.0], m) + rng.uniform(-20.0, 20.0, m)) % 360.0
        dome = rng.random(m) < 0.1
        fov = np.where(dome, 360.0, rng.choice([50.0, 60.0, 75.0, 90.0, 110.0], m))
        range_m = np.where(
            dome,
            rng.choice([40.0, 60.0, 80.0], m),
            rng.choice([60.0, 80.0, 100.0, 150.0, 200.0], m),
        )
        far = rng.random(m) < long_share
        range_m = np.where(far, np.round(rng.uniform(*LONG_RANGE_M, m)), range_m)
        x = np.where(far, rng.uniform(x0, x1, m), x)
        y = np.where(far, rng.uniform(y0, y1, m), y)
        heading = np.where(far, rng.uniform(0.0, 360.0, m), heading)
        lat, lon = projection.to_latlon_array(x, y)
        lat, lon, heading = np.round(lat, 7), np.round(lon, 7), np.round(heading, 1)
        district = rng.integers(0, len(DISTRICTS), m)
        rows = []
        for i, (a, o, h, f, r, d) in enumerate(
            zip(lat.tolist(), lon.tolist(), heading.tolist(), fov.tolist(), range_m.tolist(),
                district.tolist(), strict=True)
        ):  # fmt: skip
            camera_id = f"KZ-{start + i + 1:07d}"
            rows.append(
                (
                    camera_id,
                    a,
                    o,
                    h,
                    f,
                    r,
                    f"rtsp://video.demo.invalid/{camera_id}",
                    f"https://video.demo.invalid/snapshots/{camera_id}.jpg",
                    DISTRICTS[d],
                    "2026-12-07 00:00:00.000000",
                )
            )
        yield rows


def seed_database(path: Path, n: int, long_share: float) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(upgrade(url))
    with sqlite3.connect(path) as db:
        for rows in camera_rows(n, long_share, seed=n):
            db.executemany(
                "INSERT INTO cameras (id, lat, lon, heading_deg, fov_deg, range_m, stream_url,"
                " snapshot_url, district_id, imported_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
    return url


def node(url: str, code: Path, points: int, rounds: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(code))
    out = subprocess.run(
        [sys.executable, str(HERE / "_camera_node.py"), "--db", url, "--points", str(points),
         "--rounds", str(rounds)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(result["code"]).resolve() != code.resolve():
        raise SystemExit(f"the node ran {result['code']}, not {code}")
    return result


def show(label: str, r: dict[str, Any]) -> None:
    s, a = r["seeing"]["quietest"], r["around"]["quietest"]
    p99s = [x["p99"] for x in r["seeing"]["rounds"]]
    print(
        f"  {label:<6} load {r['load_s']:5.1f} s (cpu {r['load_cpu_s']:4.1f})  "
        f"RSS {r['rss_after_mb']:6.0f} MB "
        f"(+{r['rss_after_mb'] - r['rss_before_mb']:.0f} for cameras, peak {r['peak_mb']:.0f})  "
        f"seeing p50 {s['p50']:.3f} p99 {s['p99']:.3f} ms (cpu p99 {s['cpu_p99']:.3f}; "
        f"rounds {min(p99s):.3f}-{max(p99s):.3f})  around p50 {a['p50']:.3f} p99 {a['p99']:.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", type=Path, help="an older checkout: the 'before' code")
    parser.add_argument("--cameras", default="68000,300000,1300000")
    parser.add_argument("--long-share", type=float, default=0.001)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    this = HERE.parent
    ok = True
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for n in (int(c) for c in args.cameras.split(",")):
        with tempfile.TemporaryDirectory(prefix="contact-bench-") as tmp:
            url = seed_database(Path(tmp) / "cameras.db", n, args.long_share)
            print(
                f"\n{n:,} cameras, {args.long_share:.1%} long-range (load {os.getloadavg()[0]:.1f})"
            )
            before = node(url, args.base, args.points, args.rounds) if args.base else None
            after = node(url, this, args.points, args.rounds)
        if before is not None:
            show("before", before)
        show("after", after)
        print(
            f"         max range {after['max_range_m']:g} m; "
            f"cameras seeing a point: mean {after['seen_mean']:.1f}"
        )
        judged = after["seeing"]["quietest"]["p99"]
        verdict = judged <= TARGET_SEEING_P99_MS
        print(f"         target seeing p99 <= {TARGET_SEEING_P99_MS:g} ms: "
              f"{'PASS' if verdict else 'MISS'}")  # fmt: skip
        ok = ok and verdict
        if before is not None:
            same = before["answers"] == after["answers"]
            same_others = before["others"] == after["others"]
            print(f"         same answers as before on {len(after['answers'])} points: "
                  f"seeing {same}, others {same_others}")  # fmt: skip
            ok = ok and same and same_others
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
