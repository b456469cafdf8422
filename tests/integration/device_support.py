"""Helpers for the device channels' tests: a center with kiosks, alarm sites and camera alerts
configured, kiosks and sites in its registries, registered app devices."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from contact.channels.kiosk.client import KioskClient
from contact.config import AlarmSettings, CameraSettings, KioskSettings, Settings
from contact.ports import AlarmSite, Kiosk
from tests.support import APP_KEY, Center, make_settings

ROOT = Path(__file__).resolve().parents[2]
# `contact` subprocesses run this checkout's code, whatever the venv's editable install
# points at
CHECKOUT_ENV = {"PYTHONPATH": str(ROOT)}
CAMERA_KEY = "test-camera-key-0123456789"
KIOSK_KEY = "kiosk-key-" + "0" * 54
SITE_KEY = "site-key-" + "1" * 55


def device_settings(
    tmp_path: Path,
    *,
    kiosk: dict[str, Any] | None = None,
    camera: dict[str, Any] | None = None,
    alarm: dict[str, Any] | None = None,
    **routing: Any,
) -> Settings:
    settings = make_settings(tmp_path, **routing)
    return settings.model_copy(
        update={
            "kiosk": KioskSettings(**(kiosk or {})),
            "camera": CameraSettings(api_keys=CAMERA_KEY, **(camera or {})),
            "alarm": AlarmSettings(**(alarm or {})),
        }
    )


async def add_kiosk(
    center: Center, kiosk_id: str = "park-01", key: str = KIOSK_KEY, **fields: Any
) -> KioskClient:
    values: dict[str, Any] = {
        "id": kiosk_id,
        "name": f"Киоск {kiosk_id}",
        "lat": 43.2567,
        "lon": 76.9286,
        "partner": "Parks of Almaty",
        "camera_id": f"cam-{kiosk_id}",
    }
    values.update(fields)
    await center.container.db.registries.kiosks.upsert(
        [Kiosk(**values)], {kiosk_id: key}, at=datetime.now(UTC)
    )
    session = aiohttp.ClientSession()
    # one second later on every request: each one is signed anew (the same signature twice is
    # a replay), while staying well inside the signature window
    seconds = itertools.count(int(time.time()))
    return KioskClient(session, center.url, kiosk_id, key, clock=lambda: float(next(seconds)))


async def add_site(
    center: Center,
    site_id: str = "school-12",
    key: str = SITE_KEY,
    camera_ids: tuple[str, ...] = ("cam-s12-gate", "cam-s12-hall"),
    **fields: Any,
) -> AlarmSite:
    values: dict[str, Any] = {
        "id": site_id,
        "name": "Школа-гимназия №12",
        "lat": 43.2389,
        "lon": 76.8897,
        "address": "мкр. Самал-2, 5",
        "camera_ids": camera_ids,
    }
    values.update(fields)
    site = AlarmSite(**values)
    await center.container.db.registries.sites.upsert(
        [site], {site_id: hashlib.sha256(key.encode()).hexdigest()}, at=datetime.now(UTC)
    )
    return site


async def call(center: Center, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with center.client.request(method, path, **kwargs) as r:
        raw = await r.text()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw


def error_id(body: Any) -> str:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["message"]
    return str(body["error"]["id"])


async def register_device(center: Center, device_id: str = "device-sos-0001") -> str:
    status, body = await call(
        center,
        "POST",
        "/api/v1/app/devices",
        json={"device_id": device_id, "platform": "android", "language": "ru"},
        headers={"X-Api-Key": APP_KEY},
    )
    assert status == 201, body
    return str(body["device_token"])


def device_headers(token: str) -> dict[str, str]:
    return {"X-Api-Key": APP_KEY, "X-Device-Token": token}


async def alarm(center: Center, body: dict[str, Any], key: str = SITE_KEY) -> tuple[int, Any]:
    return await call(
        center, "POST", "/api/v1/alarms", json=body, headers={"Authorization": f"Bearer {key}"}
    )


async def camera_event(center: Center, body: dict[str, Any]) -> tuple[int, Any]:
    return await call(
        center, "POST", "/api/v1/camera-events", json=body, headers={"X-Api-Key": CAMERA_KEY}
    )
