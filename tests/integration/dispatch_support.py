"""Helpers for the dispatch tests: a center with dispatch on a real Mosquitto, a small demo
city loaded, units with tokens, and a unit's device (REST + WebSocket)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contact.config import DispatchSettings, Settings
from contact.dispatch import DISPATCH_PART
from contact.dispatch.demo_city import DemoCity, generate_city
from contact.dispatch.geo import LatLon, destination
from contact.dispatch.registry import NewUnit, add_unit, import_cameras_into, import_districts_into
from contact.dispatch.routes import DispatchParts
from contact.dispatch.units import UnitKind
from tests.support import Center, make_settings

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
# inside the demo city's Almaly district (x 0, y -4 km: below the hole, above Bostandyq)
SCENE = LatLon(43.20203, 76.945)

_CITY: DemoCity | None = None


def small_city() -> DemoCity:
    global _CITY
    if _CITY is None:
        _CITY = generate_city(seed=7, cameras=4_000, units=0)
    return _CITY


def need_mosquitto() -> None:
    """The tests need the real broker: FAIL (never skip) when it is not there."""
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            pass
    except OSError as exc:
        pytest.fail(
            f"Mosquitto is required at {MQTT_HOST}:{MQTT_PORT} and not reachable ({exc!r}). "
            "Install and start it: apt-get install mosquitto && mosquitto -d",
            pytrace=False,
        )


def dispatch_settings(tmp_path: Path, **overrides: Any) -> tuple[Settings, str]:
    """Settings with MQTT on the real broker and a topic prefix of this test's own."""
    prefix = f"contact-test/{uuid.uuid4().hex[:10]}/units"
    values: dict[str, Any] = {
        "mqtt_url": f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
        "mqtt_topic_prefix": prefix,
        "position_flush_s": 0.2,
        "reload_check_s": 3600,
        **overrides,
    }
    settings = make_settings(tmp_path)
    return settings.model_copy(update={"dispatch": DispatchSettings(**values)}), prefix


def parts_of(center: Center) -> DispatchParts:
    found: DispatchParts = center.container.get(DISPATCH_PART)
    return found


async def load_city(center: Center, city: DemoCity | None = None) -> DemoCity:
    city = city or small_city()
    p = parts_of(center)
    await import_districts_into(p.repo, city.districts_geojson)
    await import_cameras_into(p.repo, city.cameras)
    await p.service.reload_map()
    return city


@dataclass
class UnitDevice:
    """A patrol unit's device: its token, REST calls and its WebSocket."""

    center: Center
    unit_id: str
    callsign: str
    token: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(
        self, path: str, body: Mapping[str, Any] | None = None, status: int = 200
    ) -> Any:
        async with self.center.client.post(
            f"/api/v1/units/{self.unit_id}{path}", json=dict(body or {}), headers=self.headers
        ) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def position(self, lat: float, lon: float, accuracy_m: float = 5.0) -> None:
        await self.post("/position", {"lat": lat, "lon": lon, "accuracy_m": accuracy_m}, 202)

    async def connect(self) -> None:
        self.ws = await self.center.client.ws_connect(
            f"/api/v1/units/{self.unit_id}/ws", headers=self.headers
        )

    async def send(self, data: Mapping[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_json(dict(data))

    async def next(self, match: Any, within_s: float = 5.0) -> dict[str, Any]:
        """The next WebSocket message for which `match(msg)` is true (others are kept)."""
        for i, msg in enumerate(self.received):
            if match(msg):
                return self.received.pop(i)
        assert self.ws is not None
        async with asyncio.timeout(within_s):
            while True:
                msg = await self.ws.receive_json()
                if match(msg):
                    return dict(msg)
                self.received.append(msg)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def add_device(
    center: Center, callsign: str, kind: UnitKind = UnitKind.CAR, at: LatLon | None = None
) -> UnitDevice:
    unit, token = await add_unit(parts_of(center).repo, NewUnit(callsign, kind))
    await parts_of(center).service.reload_units()
    device = UnitDevice(center, unit.id, unit.callsign, token)
    if at is not None:
        await device.position(at.lat, at.lon)
    return device


def near(point: LatLon, metres: float, bearing: float = 0.0) -> LatLon:
    return destination(point.lat, point.lon, bearing, metres)


class TopicRecorder:
    """Every broadcast topic message of the center (what any WebSocket could get)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._event = asyncio.Event()

    async def __call__(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.messages.append((topic, dict(payload)))
        self._event.set()

    async def wait_for(
        self, type_: str, topic: str | None = None, within_s: float = 5.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(within_s):
            while True:
                for t, payload in self.messages:
                    if payload.get("type") == type_ and (topic is None or t == topic):
                        return payload
                self._event.clear()
                await self._event.wait()

    def of_type(self, type_: str) -> list[tuple[str, dict[str, Any]]]:
        return [(t, p) for t, p in self.messages if p.get("type") == type_]


async def until(check: Any, within_s: float = 5.0, every_s: float = 0.02) -> Any:
    """Poll `check()` (sync or async) until it returns something truthy; fail after within_s."""
    for _ in range(max(1, int(within_s / every_s))):
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(every_s)
    raise AssertionError(f"not true within {within_s} s: {check}")
