"""The patrols of a run, as their own devices speak to the center.

`contact units import FILE` registers the scenario's units (`[units]`: so many per district)
as an administrator does, and prints each unit's token once. Each unit then reports its place
somewhere in its district, again every `FEED_S` wall seconds for the whole run, as a patrol's
device does (a fix older than CONTACT_DISPATCH_MAX_POSITION_AGE_S is no longer ranked, and a
day at ×60 lasts longer than that). When a bot dispatches one, the unit plays its part at the
run's speed: on scene after the ETA the center estimated (`POST …/status on_scene`), free
again `on_scene_min` later (`available`), so the next contacts find it. At the end of the run
every unit sends a last fix and reports itself out of service, so a run's patrols are never
suggested after it.

Positions over MQTT or HTTP: where the center subscribes to an MQTT broker for positions
(`mqtt_url`, as the chaos stack's nodes do), every other unit publishes its fixes there
(`unit_mqtt.py`) and the rest POST them (`/api/v1/units/{id}/position`). A position is the one
report that needs no answer (the newest fix wins, a lost one is repaired by the next), which is
what a fleet's MQTT feed carries in production; so dropping the broker (the chaos fault "drop
the units' MQTT feed") really cuts those units' feed while the others' keeps flowing, and one
run exercises both paths. A unit's first fix goes over HTTP all the same: its 202 says the
center knows the unit (nodes learn of imported units at their next reload). Status reports
need an answer and a durable write, so every unit sends them over HTTP, as in the product.

Failing over like the other edges: a report moves to the next node on a refused connection
or a 5xx and is tried again until a node answers or the run's deadline passes; a unit's
status reports go one at a time, in order (a retried status is the same status: the center
changes nothing the second time). A report a node answered is acknowledged; what was
acknowledged (each unit's last status, its last fix) is kept for the end-of-run accounting
(`contact/simulate/unit_books.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from contact.simulate.edges.unit_mqtt import MqttGateway
from contact.simulate.response import fleet
from contact.simulate.scenario import Scenario

FEED_S = 5.0  # wall seconds between two fixes of a placed unit
PLACE_S = 1.0  # and between two tries to place those the center does not know yet
RETIRE_WAIT_S = 60.0  # for the last fixes and out-of-service reports to be answered
AT_ONCE = 10  # a unit's device each, but not a thousand sockets at once


@dataclass(frozen=True)
class Reported:
    """A status report of a unit the center acknowledged."""

    status: str
    sent_at: datetime  # first sent (UTC): a dispatch older than it is cleared by it


def home(unit_id: str, nodes: int) -> int:
    """The node a unit's device talks to first (devices spread over the nodes)."""
    return zlib.crc32(unit_id.encode()) % nodes


def now_utc() -> datetime:
    """Now to the millisecond, as a device stamps its fix (`at`) and the center stores it."""
    at = datetime.now(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


class Units:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Sequence[str],
        tokens: dict[str, str],
        speed: float,
        on_scene_s: float,
        where: Mapping[str, tuple[float, float]],
        mqtt: MqttGateway | None = None,
    ) -> None:
        self._session, self._bases = session, list(bases)
        self.tokens = tokens  # unit id → token
        self._speed, self._on_scene_s = speed, on_scene_s
        self.where = dict(where)  # unit id → its post
        self._mqtt = mqtt
        # every other unit's fixes over MQTT, when the center takes them there
        self.over_mqtt = set(sorted(tokens)[1::2]) if mqtt is not None else set()
        self.stop_at = math.inf  # reports are tried again until then (monotonic)
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks = {u: asyncio.Lock() for u in tokens}
        self._closing = asyncio.Event()
        self._retired = False
        self.placed: set[str] = set()  # units the center knows where they are
        self.arrived = 0
        self.reported: dict[str, Reported] = {}  # unit → its last acknowledged status
        self.fixes: dict[str, datetime] = {}  # unit → its last fix acknowledged (`at`)
        self.status_reports = 0
        self.status_retried = 0  # answered only after another try (a node gone, a 5xx)
        self.slowest_ack_s = 0.0  # wall seconds from a report's first try to its answer
        self.status_refused: dict[str, int] = {}  # an answer that was not 200, or none
        self.fixes_over_http = 0
        self.fixes_unanswered = 0  # a fix no node answered (the next one repairs it)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pause(self, seconds: float) -> bool:
        """Wait, unless the run ends first: True when it does."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), max(0.0, seconds))
        return self._closing.is_set()

    async def _post(
        self, unit_id: str, what: str, body: dict[str, object], until: float
    ) -> tuple[int, int]:
        """POST until a node answers below 500, every node tried at least once: (the answer,
        0 when none came by `until`; the tries). Each unit starts on a node of its own, as
        devices spread."""
        headers = {"Authorization": f"Bearer {self.tokens[unit_id]}"}
        at = home(unit_id, len(self._bases))
        tried = 0
        while True:
            tried += 1
            try:
                async with self._session.post(
                    f"{self._bases[at]}/api/v1/units/{unit_id}/{what}", json=body, headers=headers
                ) as r:
                    await r.read()
                    if r.status < 500:
                        return r.status, tried
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            at = (at + 1) % len(self._bases)
            if tried >= len(self._bases):
                if time.monotonic() >= until:
                    return 0, tried
                await asyncio.sleep(0.5)

    async def report(self, unit_id: str, status: str, until: float) -> bool:
        """A status report, tried until a node answers; True when acknowledged (200)."""
        async with self._locks[unit_id]:
            sent, began = datetime.now(UTC), time.monotonic()
            self.status_reports += 1
            answer, tries = await self._post(unit_id, "status", {"status": status}, until)
            if answer == 200:
                took = round(time.monotonic() - began, 2)
                self.reported[unit_id] = Reported(status, sent)
                self.status_retried += tries > 1
                self.slowest_ack_s = max(self.slowest_ack_s, took)
                return True
            why = f"HTTP {answer}" if answer else "no answer"
            self.status_refused[why] = self.status_refused.get(why, 0) + 1
            return False

    async def _fix(self, unit_id: str, until: float, *, http: bool = False) -> bool:
        """One fix of a unit at its post, over MQTT or HTTP; True when acknowledged."""
        lat, lon = self.where[unit_id]
        at = now_utc()
        if self._mqtt is not None and unit_id in self.over_mqtt and not http:
            ok = await self._mqtt.publish(unit_id, lat, lon, at)
        else:
            body: dict[str, object] = {"lat": lat, "lon": lon, "at": at.isoformat()}
            answer, _ = await self._post(unit_id, "position", body, until)
            ok = answer == 202
            self.fixes_over_http += ok
            self.fixes_unanswered += not answer
        if ok:
            self.fixes[unit_id] = at
        return ok

    async def place(self) -> int:
        """Every unit not yet placed reports its position once, over HTTP; how many the
        center took. A running center learns of units imported by another process at its
        next reload (`CONTACT_DISPATCH_RELOAD_CHECK_S`), so until then it answers 404."""
        gate = asyncio.Semaphore(AT_ONCE)

        async def one(unit_id: str) -> None:
            async with gate:
                if await self._fix(unit_id, time.monotonic(), http=True):
                    self.placed.add(unit_id)

        await asyncio.gather(*(one(u) for u in self.where if u not in self.placed))
        return len(self.placed)

    def report_positions(self) -> None:
        """As the units' devices do: placed first, then a fix every FEED_S until the end."""

        async def feed() -> None:
            gate = asyncio.Semaphore(AT_ONCE)

            async def one(unit_id: str) -> None:
                async with gate:
                    await self._fix(unit_id, time.monotonic())

            while not self._closing.is_set():
                placed_all = await self.place() == len(self.where)
                await asyncio.gather(*(one(u) for u in sorted(self.placed)))
                if await self._pause(FEED_S if placed_all else PLACE_S):
                    return

        self._spawn(feed())

    def dispatched(self, unit_id: str, eta_s: float | None) -> None:
        """A bot sent this unit: it drives there and comes back free, at the run's speed."""
        if unit_id in self.tokens and not self._closing.is_set():
            self._spawn(self._call_out(unit_id, eta_s or 300.0))

    async def _call_out(self, unit_id: str, eta_s: float) -> None:
        if await self._pause(eta_s / self._speed):
            return
        if await self.report(unit_id, "on_scene", self.stop_at):
            self.arrived += 1
        if await self._pause(self._on_scene_s / self._speed):
            return
        await self.report(unit_id, "available", self.stop_at)

    async def close(self) -> None:
        """The call-outs end (a report under way is answered first, so none lands after the
        last one); every unit sends its last fix and goes out of service: a run's patrols are
        never suggested for a contact after it. Once."""
        if self._retired:
            return
        self._retired = True
        self._closing.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        until = time.monotonic() + RETIRE_WAIT_S
        gate = asyncio.Semaphore(AT_ONCE)

        async def retire(unit_id: str) -> None:
            async with gate:
                if unit_id in self.placed:
                    for _ in range(5):  # over MQTT: while the broker may still be coming back
                        if await self._fix(unit_id, until) or time.monotonic() >= until:
                            break
                        await asyncio.sleep(1.0)
                await self.report(unit_id, "out_of_service", until)

        try:
            await asyncio.gather(*(retire(u) for u in sorted(self.tokens)))
        finally:
            if self._mqtt is not None:
                await self._mqtt.stop()

    def figures(self) -> dict[str, Any]:
        """What the run's units did, for the report."""
        mqtt = self._mqtt
        return {
            "registered": len(self.tokens),
            "placed": len(self.placed),
            "on_scene": self.arrived,
            "status_reports": self.status_reports,
            "status_retried": self.status_retried,
            "status_refused": self.status_refused,
            "slowest_status_ack_s": self.slowest_ack_s,
            "fixes_over_http": self.fixes_over_http,
            "fixes_unanswered": self.fixes_unanswered,
            "over_mqtt": len(self.over_mqtt),
            "mqtt": None
            if mqtt is None
            else {
                "published": mqtt.published,
                "lost": mqtt.lost,
                "outages": mqtt.outages,
                "longest_gap_s": round(mqtt.longest_gap_s, 1),
            },
        }


async def register_units(
    session: aiohttp.ClientSession,
    bases: Sequence[str],
    scenario: Scenario,
    run: str,
    speed: float,
    seed: int,
    env: Mapping[str, str] | None = None,
    mqtt: tuple[str, str] | None = None,
) -> Units | None:
    """The scenario's units registered with `contact units import` and placed; None when the
    scenario has no `[units]`. `env`: the CLI's CONTACT_* environment (default: this
    command's); `mqtt`: (broker URL, topic prefix) the center takes positions on, if any."""
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
            env=dict(env) if env is not None else os.environ,
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
    gateway = None
    if mqtt is not None:
        gateway = MqttGateway(mqtt[0], mqtt[1], f"{run}-units")
        await gateway.start()
    units = Units(session, bases, tokens, speed, scenario.units.on_scene_min * 60, where, gateway)
    units.report_positions()
    return units
