"""The patrols of a run, as their own devices speak to the center.

`contact units import FILE` registers the scenario's units (`[units]`: so many per district)
as an administrator does, and prints each unit's token once; each unit then reports its place
(`POST /api/v1/units/{id}/position`, `Authorization: Bearer <token>`) somewhere in its
district, so the center suggests it. When a bot dispatches one, the unit plays its part at
the run's speed: on scene after the ETA the center estimated (`POST …/status on_scene`), free
again `on_scene_min` later (`available`), so the next contacts find it. At the end of the run
every unit reports itself out of service, so a run's patrols are never suggested after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from contact.simulate.response import fleet
from contact.simulate.scenario import Scenario


class Units:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Sequence[str],
        tokens: dict[str, str],
        speed: float,
        on_scene_s: float,
    ) -> None:
        self._session, self._bases = session, list(bases)
        self.tokens = tokens  # unit id → token
        self._speed, self._on_scene_s = speed, on_scene_s
        self._tasks: set[asyncio.Task[None]] = set()
        self.arrived = 0
        self.placed: set[str] = set()  # units the center knows where they are

    async def _post(self, unit_id: str, what: str, body: dict[str, object]) -> int:
        headers = {"Authorization": f"Bearer {self.tokens[unit_id]}"}
        for base in self._bases:
            try:
                async with self._session.post(
                    f"{base}/api/v1/units/{unit_id}/{what}", json=body, headers=headers
                ) as r:
                    await r.read()
                    if r.status < 500:
                        return r.status
            except (aiohttp.ClientError, OSError, TimeoutError):
                continue
        return 0

    async def place(self, where: dict[str, tuple[float, float]]) -> int:
        """Every unit not yet placed reports its position once; how many the center took.
        A running center learns of units imported by another process at its next reload
        (`CONTACT_DISPATCH_RELOAD_CHECK_S`), so until then it answers 404."""
        sem = asyncio.Semaphore(10)

        async def one(unit_id: str, lat: float, lon: float) -> None:
            async with sem:
                if await self._post(unit_id, "position", {"lat": lat, "lon": lon}) == 202:
                    self.placed.add(unit_id)

        waiting = {u: p for u, p in where.items() if u not in self.placed}
        await asyncio.gather(*(one(u, *p) for u, p in waiting.items()))
        return len(self.placed)

    def report_positions(self, where: dict[str, tuple[float, float]], every_s: float) -> None:
        """As the units' devices do: positions again every `every_s` until each was taken."""

        async def loop() -> None:
            for _ in itertools.count():
                if await self.place(where) == len(where):
                    return
                await asyncio.sleep(every_s)

        task = asyncio.create_task(loop())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def dispatched(self, unit_id: str, eta_s: float | None) -> None:
        """A bot sent this unit: it drives there and comes back free, at the run's speed."""
        if unit_id not in self.tokens:
            return
        task = asyncio.create_task(self._call_out(unit_id, eta_s or 300.0))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call_out(self, unit_id: str, eta_s: float) -> None:
        await asyncio.sleep(eta_s / self._speed)
        if await self._post(unit_id, "status", {"status": "on_scene"}) == 200:
            self.arrived += 1
        await asyncio.sleep(self._on_scene_s / self._speed)
        await self._post(unit_id, "status", {"status": "available"})

    async def close(self) -> None:
        """The call-outs end, and every unit goes out of service: a run's patrols are never
        suggested for a contact after it."""
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        sem = asyncio.Semaphore(10)

        async def retire(unit_id: str) -> None:
            async with sem:
                await self._post(unit_id, "status", {"status": "out_of_service"})

        with contextlib.suppress(Exception):
            await asyncio.gather(*(retire(u) for u in self.placed))


async def register_units(
    session: aiohttp.ClientSession,
    bases: Sequence[str],
    scenario: Scenario,
    run: str,
    speed: float,
    seed: int,
) -> Units | None:
    """The scenario's units registered with `contact units import` and placed; None when the
    scenario has no `[units]`."""
    if scenario.units is None:
        return None
    patrols = fleet(scenario, scenario.units, random.Random(seed * 7919 + 1))
    if not patrols:
        return None
    rows = io.StringIO()
    w = csv.writer(rows)
    w.writerow(["callsign", "kind"])
    callsigns = [f"{run}-u{i}" for i in range(len(patrols))]
    w.writerows([c, "car"] for c in callsigns)
    fd, path = tempfile.mkstemp(prefix=f"{run}-units-", suffix=".csv")
    exe = str(Path(sys.executable).with_name("contact"))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(rows.getvalue())
        proc = await asyncio.create_subprocess_exec(
            exe,
            *("units", "import", path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ,
        )
        out, err = await proc.communicate()
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise RuntimeError(f"contact units import failed: {err.decode()[-800:]}")
    tokens: dict[str, str] = {}
    where: dict[str, tuple[float, float]] = {}
    by_callsign = dict(zip(callsigns, patrols, strict=True))
    for row in csv.DictReader(io.StringIO(out.decode())):
        patrol = by_callsign.get(row.get("callsign", ""))
        if patrol is not None:
            tokens[row["unit_id"]] = row["token"]
            where[row["unit_id"]] = (round(patrol.lat, 6), round(patrol.lon, 6))
    units = Units(session, bases, tokens, speed, scenario.units.on_scene_min * 60)
    units.report_positions(where, every_s=1.0)
    return units
