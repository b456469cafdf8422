"""kill -9 of `contact serve` in the middle of a burst of app reports (SQLite, group commit:
many reports share one commit): every report answered 202 before the kill is stored with its
message after it, whatever was in flight."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import APP_KEY, ServeProcess

pytestmark = pytest.mark.slow

BURST = 300


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ServeProcess]:
    env = {
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/contact.db",
        "CONTACT_APP_REPORTS_PER_MINUTE_PER_DEVICE": "1000000",
    }
    running = ServeProcess(env, tmp_path / "serve.log")
    yield running
    running.stop()


async def test_kill_9_during_a_burst_keeps_every_acknowledged_report(
    node: ServeProcess, tmp_path: Path
) -> None:
    await node.start()
    acknowledged: list[str] = []
    enough = asyncio.Event()  # a tenth of the burst answered: time to kill

    async def report(session: aiohttp.ClientSession, i: int) -> None:
        body = {
            "text": f"сообщение {i}",
            "device_id": f"device-{i:04d}",
            "location": {"lat": 43.238 + i * 1e-4, "lon": 76.889, "accuracy_m": 15},
        }
        try:
            async with session.post(
                f"{node.url}/api/v1/app/reports", json=body, headers={"X-Api-Key": APP_KEY}
            ) as r:
                if r.status == 202:
                    acknowledged.append(str((await r.json())["id"]))
                    if len(acknowledged) >= BURST // 10:
                        enough.set()
        except aiohttp.ClientError:
            pass  # in flight at the kill: not acknowledged, may or may not be stored

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(report(session, i)) for i in range(BURST)]
        await asyncio.wait_for(enough.wait(), 60)
        node.kill9()  # while the rest are in flight
        answered_before_the_kill = len(acknowledged)
        await asyncio.gather(*tasks)
    assert acknowledged, "nothing was acknowledged before the kill"
    assert answered_before_the_kill < BURST, "nothing was in flight at the kill"

    with sqlite3.connect(tmp_path / "contact.db") as db:  # WAL recovery on open
        stored = {row[0] for row in db.execute("SELECT id FROM contacts")}
        with_message = {row[0] for row in db.execute("SELECT contact_id FROM messages")}
    assert set(acknowledged) <= stored
    assert set(acknowledged) <= with_message
    await node.start()  # and the node comes back on that file
