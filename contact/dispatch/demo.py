"""The demo city for `contact demo`: Almaly-like districts, 68,000 street cameras and 150
patrol units that really move, through the same endpoints a unit's device uses.

Each simulated unit holds its own token and WebSocket (`/api/v1/units/{id}/ws`): it patrols
(position every few seconds), and when an operator dispatches it, it acknowledges, reports
en route, drives to the scene (the geofence reports it on scene), stays a while, and reports
available again. So suggestions, dispatch, arrival and response times work in the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import struct
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from contact.dispatch.demo_city import BOUNDS_M, DemoCity, generate_city
from contact.dispatch.geo import LocalProjection
from contact.dispatch.ports import DispatchRepository
from contact.dispatch.registry import (
    NewUnit,
    add_unit,
    district_records,
    import_cameras_into,
    rotate_token,
)
from contact.dispatch.units import UnitKind, UnitStatus

log = logging.getLogger(__name__)

DEMO_CAMERAS = 68_000
DEMO_UNITS = 150
SPEED_KMH = {UnitKind.CAR: 40.0, UnitKind.BIKE: 15.0, UnitKind.FOOT: 5.0}
PATROL_SHARE = 0.5  # patrolling units move at half their response speed


@dataclass
class DemoUnit:
    unit_id: str
    callsign: str
    kind: UnitKind
    token: str
    x: float
    y: float


async def seed_city(
    repo: DispatchRepository,
    *,
    snapshot_base: str | None = None,
    cameras: int = DEMO_CAMERAS,
    units: int = DEMO_UNITS,
    seed: int = 102,
) -> tuple[DemoCity, list[DemoUnit]]:
    """Load the demo city into the database (districts and cameras only when they differ)
    and register its units with fresh tokens. Idempotent."""
    loop = asyncio.get_running_loop()
    city = await loop.run_in_executor(None, lambda: generate_city(seed, cameras, units))
    if len(await repo.districts()) != len(city.districts):
        await repo.replace_districts(district_records(city.districts_geojson), datetime.now(UTC))
    if snapshot_base is not None:  # the demo serves its own camera stills (demo_routes)
        city.cameras = [
            replace(c, snapshot_url=f"{snapshot_base}/demo/snapshots/{c.id}.png")
            for c in city.cameras
        ]
    stored = await repo.cameras()
    if len(stored) != len(city.cameras) or (
        stored and stored[0].snapshot_url != city.cameras[0].snapshot_url
    ):
        # the demo serves its stills itself, usually on loopback (run with
        # CONTACT_DISPATCH_CAMERA_ALLOW_LOOPBACK, as `contact demo` does)
        await import_cameras_into(repo, city.cameras, replace_all=True, allow_loopback=True)
    fleet: list[DemoUnit] = []
    rng = random.Random(seed)
    for unit in city.units:
        existing = await repo.unit_by_callsign(unit.callsign or unit.id)
        if existing is None:
            record, token = await add_unit(
                repo,
                NewUnit(unit.callsign or unit.id, unit.kind, department=unit.department),
                unit_id=unit.id,
            )
        else:
            record, token = existing, await rotate_token(repo, existing.id)
        assert unit.position is not None
        x, y = city.projection.to_xy(unit.position.lat, unit.position.lon)
        if record.status is not UnitStatus.AVAILABLE and rng.random() < 0.9:
            # a restarted demo: whatever the units were doing is over
            await repo.set_status(
                record.id, UnitStatus.AVAILABLE, datetime.now(UTC), "system", "demo"
            )
        fleet.append(DemoUnit(record.id, record.callsign, record.kind, token, x, y))
    return city, fleet


class DemoFleet:
    """The simulated devices of the demo's units (one task and WebSocket each)."""

    def __init__(
        self,
        base_url: str,
        city: DemoCity,
        units: list[DemoUnit],
        *,
        tick_s: float = 3.0,
        seed: int = 1,
    ) -> None:
        self._base = base_url
        self._projection: LocalProjection = city.projection
        self._units = units
        self._tick_s = tick_s
        self._rng = random.Random(seed)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.connected: set[str] = set()  # units whose WebSocket is open now
        self._all_connected = asyncio.Event()

    async def start(self) -> None:
        # each unit holds its WebSocket for good, and each WebSocket holds one connection of
        # the session's pool: aiohttp's default pool (100) would leave the rest of the fleet
        # waiting for a connection that is never given back
        connector = aiohttp.TCPConnector(limit=len(self._units) + 10)
        self._session = aiohttp.ClientSession(base_url=self._base, connector=connector)
        for i, unit in enumerate(self._units):
            self._tasks.append(
                asyncio.create_task(self._drive(unit, i * self._tick_s / len(self._units)))
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()

    async def _drive(self, unit: DemoUnit, delay: float) -> None:
        await asyncio.sleep(delay)  # spread the units over the tick
        while True:
            try:
                await self._run(unit)
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                log.debug("demo unit %s reconnecting: %s", unit.callsign, exc)
            except Exception:
                log.exception("demo unit %s failed", unit.callsign)
            await asyncio.sleep(5)

    async def _run(self, unit: DemoUnit) -> None:
        assert self._session is not None
        headers = {"Authorization": f"Bearer {unit.token}"}
        async with self._session.ws_connect(
            f"/api/v1/units/{unit.unit_id}/ws", headers=headers, heartbeat=30
        ) as ws:
            self.connected.add(unit.unit_id)
            if len(self.connected) == len(self._units):
                log.info("demo fleet: all %d units connected", len(self._units))
                self._all_connected.set()
            try:
                await self._patrol(unit, ws)
            finally:
                self.connected.discard(unit.unit_id)

    async def wait_connected(self, timeout_s: float) -> bool:
        """True once every unit has had its WebSocket open at the same time."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_connected.wait(), timeout_s)
        return self._all_connected.is_set()

    async def _patrol(self, unit: DemoUnit, ws: aiohttp.ClientWebSocketResponse) -> None:
        target = self._waypoint()
        speed = SPEED_KMH[unit.kind] / 3.6 * PATROL_SHARE
        on_scene_until: float | None = None
        responding = False
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                msg = await asyncio.wait_for(ws.receive(), self._tick_s)
                if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return
                data = msg.json().get("data", {}) if msg.type == aiohttp.WSMsgType.TEXT else {}
                if data.get("type") == "unit.dispatched":
                    order = data["dispatch"]
                    await asyncio.sleep(self._rng.uniform(1, 4))  # the crew reads it
                    await ws.send_json({"op": "ack", "dispatch_id": order["dispatch_id"]})
                    await ws.send_json({"op": "status", "status": "en_route"})
                    target = self._projection.to_xy(order["scene"]["lat"], order["scene"]["lon"])
                    speed, responding, on_scene_until = SPEED_KMH[unit.kind] / 3.6, True, None
                elif data.get("type") == "unit.status_changed":
                    if data.get("status") == UnitStatus.ON_SCENE.value and responding:
                        on_scene_until = loop.time() + self._rng.uniform(60, 180)
                    elif data.get("status") == UnitStatus.AVAILABLE.value:
                        responding, on_scene_until = False, None
                        speed = SPEED_KMH[unit.kind] / 3.6 * PATROL_SHARE
                continue
            if on_scene_until is not None:
                if loop.time() >= on_scene_until:
                    await ws.send_json({"op": "status", "status": "available"})
                    responding, on_scene_until = False, None
                    speed = SPEED_KMH[unit.kind] / 3.6 * PATROL_SHARE
                    target = self._waypoint()
                continue
            arrived = self._step(unit, target, speed * self._tick_s)
            if arrived and not responding:
                target = self._waypoint()
            lat, lon = self._projection.to_latlon(unit.x, unit.y)
            await ws.send_json(
                {"op": "position", "lat": round(lat, 7), "lon": round(lon, 7), "accuracy_m": 8}
            )

    def _waypoint(self) -> tuple[float, float]:
        x0, y0, x1, y1 = BOUNDS_M
        return self._rng.uniform(x0, x1), self._rng.uniform(y0, y1)

    @staticmethod
    def _step(unit: DemoUnit, target: tuple[float, float], metres: float) -> bool:
        """Along the street grid: first east-west, then north-south. True when there."""
        tx, ty = target
        dx, dy = tx - unit.x, ty - unit.y
        if abs(dx) > 1:
            move = math.copysign(min(abs(dx), metres), dx)
            unit.x += move
            metres -= abs(move)
        if metres > 0 and abs(dy) > 1:
            unit.y += math.copysign(min(abs(dy), metres), dy)
        return abs(tx - unit.x) <= 1 and abs(ty - unit.y) <= 1


def demo_png(camera_id: str, t: float, width: int = 160, height: int = 90) -> bytes:
    """A still for a demo camera: its own colour and a bar that moves with the time."""
    seed = zlib.crc32(camera_id.encode())
    base = bytes(((seed >> s) & 0x7F) + 40 for s in (0, 8, 16))
    bar = int(t * 20) % width
    rows = b"".join(
        b"\x00" + b"".join(b"\xff\xff\xff" if abs(x - bar) < 3 else base for x in range(width))
        for _ in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND", b"")
    )


async def demo_snapshot(request: web.Request) -> web.Response:
    camera_id = request.match_info["camera_id"][:64]
    loop = asyncio.get_running_loop()
    return web.Response(body=demo_png(camera_id, loop.time()), content_type="image/png")


def demo_routes(app: web.Application) -> None:
    """Only in `contact demo`: the demo cameras' stills (fetched by the snapshot proxy)."""
    app.router.add_get("/demo/snapshots/{camera_id}.png", demo_snapshot)


__all__ = [
    "DEMO_CAMERAS",
    "DEMO_UNITS",
    "DemoFleet",
    "DemoUnit",
    "demo_png",
    "demo_routes",
    "seed_city",
]
