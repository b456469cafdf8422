"""Unit positions over MQTT: `<prefix>/<unit id>/position` on a configurable broker.

A BackgroundService: it connects, subscribes and hands each position to the dispatch service;
a lost broker is retried with backoff (logged once per outage) while positions keep arriving
over HTTP. Payload: JSON `{"lat": 43.2, "lon": 76.9, "accuracy_m": 8, "at": "ISO-8601" | epoch}`.

Who may publish on a unit's topic is the broker's business: give each unit its own broker
login and an ACL such as Mosquitto's `pattern write contact/units/%u/position`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
from yarl import URL

log = logging.getLogger(__name__)

PositionHandler = Callable[[str, dict[str, Any]], Awaitable[None]]

MAX_PAYLOAD_BYTES = 4096


class MqttPositions:
    def __init__(
        self,
        url: str,
        *,
        topic_prefix: str,
        client_id: str,
        on_position: PositionHandler,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        parsed = URL(url)
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"MQTT URL must be mqtt:// or mqtts://, not {parsed.scheme}://")
        self._tls = parsed.scheme in ("mqtts", "ssl")
        self._host = parsed.host or "127.0.0.1"
        self._port = parsed.port or (8883 if self._tls else 1883)
        self._username = parsed.user
        self._password = parsed.password
        self._prefix = topic_prefix.strip("/")
        self._client_id = client_id
        self._on_position = on_position
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.connected = False
        self.received = 0
        self.rejected = 0

    @property
    def topic(self) -> str:
        return f"{self._prefix}/+/position"

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="dispatch.mqtt")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.connected = False

    async def wait_subscribed(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout_s)
        return self._subscribed.is_set()

    async def _run(self) -> None:
        backoff = self._backoff_s
        outage = False
        while True:
            try:
                async with aiomqtt.Client(
                    self._host,
                    self._port,
                    username=self._username,
                    password=self._password,
                    identifier=self._client_id,
                    tls_context=ssl.create_default_context() if self._tls else None,
                    keepalive=30,
                    timeout=5,
                ) as client:
                    await client.subscribe(self.topic, qos=0)
                    self.connected = True
                    self._subscribed.set()
                    if outage:
                        log.info("MQTT broker %s:%d is back", self._host, self._port)
                    outage, backoff = False, self._backoff_s
                    async for message in client.messages:
                        await self._handle(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                if not outage:
                    log.warning("MQTT broker %s:%d lost, retrying: %s", self._host, self._port, exc)
                outage = True
            finally:
                self.connected = False
                self._subscribed.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _handle(self, topic: str, payload: Any) -> None:
        self.received += 1
        parts = topic.split("/")
        unit_id = parts[-2] if len(parts) >= 2 else ""
        try:
            if not isinstance(payload, bytes | bytearray) or len(payload) > MAX_PAYLOAD_BYTES:
                raise ValueError("payload must be JSON of at most 4 KiB")
            data = json.loads(payload)
            if not isinstance(data, dict):
                raise ValueError("payload must be a JSON object")
            await self._on_position(unit_id, data)
        except Exception as exc:  # one bad message never stops the consumer
            self.rejected += 1
            log.debug("MQTT position on %s refused: %s", topic, exc)


__all__ = ["MqttPositions"]
