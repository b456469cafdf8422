"""The kiosk side of the protocol: signs and sends heartbeats, events and button presses.
Used by kiosk gateways written in Python, the simulator and the tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from contact.channels.kiosk.parse import sign


class KioskClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        kiosk_id: str,
        key: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self.kiosk_id = kiosk_id
        self._key = key
        self._clock = clock

    def signed(self, path: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(self._clock()) if timestamp is None else timestamp)
        headers = {"X-Timestamp": ts, "X-Signature": sign(self._key, ts, "POST", path, body)}
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    async def post(self, action: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
        path = f"/api/v1/kiosks/{self.kiosk_id}/{action}"
        body = json.dumps(payload).encode() if payload is not None else b""
        async with self._session.post(
            self._base + path, data=body, headers=self.signed(path, body)
        ) as response:
            return response.status, await response.json()

    async def heartbeat(self, status: dict[str, Any] | None = None) -> tuple[int, Any]:
        return await self.post("heartbeat", status)

    async def event(self, kind: str, detail: str | None = None) -> tuple[int, Any]:
        payload: dict[str, Any] = {"kind": kind}
        if detail is not None:
            payload["detail"] = detail
        return await self.post("events", payload)

    async def sos(self, press_id: str | None = None) -> tuple[int, Any]:
        return await self.post("sos", {"press_id": press_id} if press_id else None)
