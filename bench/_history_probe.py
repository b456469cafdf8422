"""Worker of bench_history_growth.py: one checkout's incident grouping on a database with
`--history` past contacts, run in its own process so that `PYTHONPATH` picks the checkout
(this one or an older one) whose `contact` is measured.

    PYTHONPATH=<checkout> python bench/_history_probe.py group --backend sqlite --history N
    PYTHONPATH=<checkout> python bench/_history_probe.py prepare --backend sqlite --history N

`prepare` prints the URL of a fresh copy of the cached seeded database (tests/history.py, the
seeding of the growth tests, loaded by path so the checkout's own tests/ does not matter);
`group` places --calls located contacts one after another into incidents through that
checkout's SqlDispatchRepository.group and prints their latencies and the process's CPU per
call, as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
import shutil
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def history_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("history", HERE.parent / "tests/history.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def prepare(backend: str, n: int, admin_url: str) -> str:
    """A copy of the cached database that this run may write to."""
    history = history_module()
    if backend == "sqlite":
        cached = await history.sqlite_history(n)
        copy = Path(f"/tmp/contact-growth-{uuid.uuid4().hex[:8]}.db")
        shutil.copyfile(cached, copy)
        return f"sqlite+aiosqlite:///{copy}"
    import asyncpg

    cached_url = await history.postgres_history(admin_url, n)
    name = f"contact_growth_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{cached_url.rsplit("/", 1)[1]}"')
    finally:
        await admin.close()
    return f"{cached_url.rsplit('/', 1)[0]}/{name}"


async def discard(url: str, admin_url: str) -> None:
    if url.startswith("sqlite"):
        _unlink_sqlite(url.split("///", 1)[1])
        return
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


def _unlink_sqlite(path: str) -> None:
    for extra in ("", "-wal", "-shm"):
        Path(path + extra).unlink(missing_ok=True)


async def group(url: str, calls: int, seed: int) -> dict[str, Any]:
    from contact.config import DatabaseSettings, DispatchSettings
    from contact.dispatch.grouping import choose_incident
    from contact.dispatch.model import NewContact
    from contact.domain.model import new_id
    from contact.persistence.database import SqlDatabase

    history = history_module()
    settings = DispatchSettings()
    radius, window = settings.group_radius_m, settings.group_window_s
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    repo = history.dispatch_repository(db)
    rng = random.Random(seed)
    latencies, cpu = [], []
    try:
        for i in range(calls + 20):  # the first 20 warm the pool and caches, unmeasured
            at = history.NOW + timedelta(seconds=2 * i)
            # the bench's reports: around the centre of Almaty, as bench_report_to_screen
            lat = 43.238 + rng.uniform(-0.05, 0.05)
            lon = 76.889 + rng.uniform(-0.05, 0.05)

            def chooser(c: Any, cats: Any, lat: float = lat, lon: float = lon, at: Any = at) -> Any:
                return choose_incident(
                    lat=lat,
                    lon=lon,
                    at=at,
                    category=None,
                    candidates=c,
                    incident_categories=cats,
                    radius_m=radius,
                    window_s=window,
                )

            new = NewContact(new_id(), lat, lon, 20.0, at, None, None, None, False)
            c0, t0 = time.process_time(), time.perf_counter()
            await repo.group(new, at - timedelta(seconds=window), chooser, 2 * radius)
            t1, c1 = time.perf_counter(), time.process_time()
            if i >= 20:
                latencies.append((t1 - t0) * 1000)
                cpu.append((c1 - c0) * 1000)
    finally:
        await db.close()
    return {"latencies_ms": latencies, "cpu_ms": cpu}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["prepare", "group", "discard"])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--history", type=int, default=0)
    parser.add_argument("--url", help="group / discard: the database prepared")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    if args.what == "prepare":
        print(asyncio.run(prepare(args.backend, args.history, args.admin_url)))
    elif args.what == "discard":
        asyncio.run(discard(args.url, args.admin_url))
    else:
        print(json.dumps(asyncio.run(group(args.url, args.calls, args.seed))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
