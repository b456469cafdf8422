"""kill -9 of `contact serve` right after each device intake was answered (app SOS, kiosk SOS
button, camera alert, school alarm): after every restart the answered intake is in the queue,
and the school alarm is first."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contact.channels.kiosk.client import KioskClient
from tests.integration.device_support import CAMERA_KEY, CHECKOUT_ENV
from tests.support import APP_KEY, ServeProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ServeProcess]:
    env = {
        **CHECKOUT_ENV,
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/contact.db",
        "CONTACT_ROUTING_WRAP_UP_S": "0",
        "CONTACT_CAMERA_API_KEYS": CAMERA_KEY,
    }
    running = ServeProcess(env, tmp_path / "serve.log")
    yield running
    running.stop()


def imported_key(node: ServeProcess, tmp_path: Path, what: str, rows: str) -> str:
    source = tmp_path / f"{what}.csv"
    source.write_text(rows)
    keys = tmp_path / f"{what}-keys.csv"
    node.cli(what, "import", str(source), "--keys-out", str(keys))
    (row,) = list(csv.DictReader(keys.open()))
    return row["key"]


async def post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    async with session.post(url, json=body, headers=headers) as r:
        answer = await r.json()
        assert r.status == 202, answer
        return dict(answer)


async def test_kill_9_after_each_device_intake_keeps_it_queued(
    node: ServeProcess, tmp_path: Path
) -> None:
    kiosk_key = imported_key(
        node, tmp_path, "kiosks", "id,name,lat,lon,camera_id\npark-01,Парк,43.25,76.92,cam-p1\n"
    )
    site_key = imported_key(
        node,
        tmp_path,
        "sites",
        "id,name,lat,lon,camera_ids\nschool-12,Школа №12,43.23,76.88,cam-s12-gate\n",
    )
    node.add_operator("op")
    await node.start()
    answered: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{node.url}/api/v1/app/devices",
            json={"device_id": "device-kill-0001"},
            headers={"X-Api-Key": APP_KEY},
        ) as r:
            assert r.status == 201
            token = (await r.json())["device_token"]

        answer = await post(
            session,
            f"{node.url}/api/v1/app/sos",
            {"location": {"lat": 43.24, "lon": 76.95}},
            {"X-Api-Key": APP_KEY, "X-Device-Token": token},
        )
        answered["app_sos"] = answer["id"]
        node.kill9()
        await node.start()

        status, answer = await KioskClient(session, node.url, "park-01", kiosk_key).sos("p-1")
        assert status == 202, answer
        answered["kiosk"] = answer["id"]
        node.kill9()
        await node.start()

        answer = await post(
            session,
            f"{node.url}/api/v1/camera-events",
            {"camera_id": "cam-p1", "kind": "aggression", "confidence": 0.95},
            {"X-Api-Key": CAMERA_KEY},
        )
        answered["camera"] = answer["id"]
        node.kill9()
        await node.start()

        answer = await post(
            session,
            f"{node.url}/api/v1/alarms",
            {"site_id": "school-12", "zone": "вход", "kind": "panic"},
            {"Authorization": f"Bearer {site_key}"},
        )
        answered["school_alarm"] = answer["id"]
        node.kill9()
        await node.start()

    op = await node.browser("op")
    try:
        queue = await op.get("/api/v1/queue")
        by_id = {c["id"]: c for c in queue["contacts"]}
        assert set(by_id) == set(answered.values())
        for channel, contact_id in answered.items():
            assert by_id[contact_id]["channel"] == channel
            assert by_id[contact_id]["state"] == "queued"
        assert [c["id"] for c in queue["contacts"]] == [
            answered["school_alarm"],
            answered["app_sos"],
            answered["kiosk"],
            answered["camera"],
        ]
        await op.connect()
        await op.ready()
        offer = await op.next_offer(within_s=10)
        assert offer["data"]["contact"]["id"] == answered["school_alarm"]
    finally:
        await op.close()
