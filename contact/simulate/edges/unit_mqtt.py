"""The units' MQTT feed of a run: one connection publishing the fixes of the units that report
over MQTT, as a fleet's telematics gateway does, on `<prefix>/<unit id>/position` (the topic the
center subscribes to, `contact/dispatch/mqtt.py`), QoS 1 so the broker says it took each fix.

When the broker goes, the gateway connects again every half second; a fix that cannot be
published meanwhile is lost and counted (the unit's next one repairs its place, as on the
road). The broker's acknowledgement is all a publisher ever gets: whether the center was
subscribed at that moment is known only from the center's own store (`unit_books.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import datetime

import aiomqtt
from yarl import URL

RECONNECT_S = 0.5
PUBLISH_TIMEOUT_S = 2.0


class MqttGateway:
    def __init__(self, url: str, prefix: str, client_id: str) -> None:
        parsed = URL(url)
        self._host, self._port = parsed.host or "127.0.0.1", parsed.port or 1883
        self._username, self._password = parsed.user, parsed.password
        self._prefix, self._client_id = prefix.strip("/"), client_id
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self.published = 0  # fixes the broker acknowledged
        self.lost = 0  # fixes it could not take (down, or no answer in time)
        self.outages = 0  # connections lost (the broker went away)
        self.longest_gap_s = 0.0  # wall seconds between two acknowledged fixes
        self._last_ok: float | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="simulate.units.mqtt")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    self._host,
                    self._port,
                    username=self._username,
                    password=self._password,
                    identifier=self._client_id,
                    keepalive=5,
                    timeout=PUBLISH_TIMEOUT_S,
                ) as client:
                    self._client = client
                    async for _ in client.messages:  # nothing subscribed: ends when it breaks
                        pass
            except aiomqtt.MqttError:
                self.outages += self._client is not None  # lost, not just refused again
            finally:
                self._client = None
            await asyncio.sleep(RECONNECT_S)

    async def publish(self, unit_id: str, lat: float, lon: float, at: datetime) -> bool:
        """One fix of a unit; True when the broker acknowledged it."""
        client = self._client
        payload = json.dumps({"lat": lat, "lon": lon, "at": at.isoformat()})
        if client is None:
            self.lost += 1
            return False
        try:
            await client.publish(
                f"{self._prefix}/{unit_id}/position", payload, qos=1, timeout=PUBLISH_TIMEOUT_S
            )
        except aiomqtt.MqttError:
            self.lost += 1
            return False
        now = time.monotonic()
        if self._last_ok is not None:
            self.longest_gap_s = max(self.longest_gap_s, now - self._last_ok)
        self._last_ok = now
        self.published += 1
        return True


__all__ = ["MqttGateway"]
