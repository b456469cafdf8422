"""The demo's fleet (contact/dispatch/demo.py): all 150 units of the demo city hold their
WebSocket at once against a real center, and nothing logs an error or a traceback.

Each unit's device keeps its WebSocket open for good, so the fleet's HTTP client pool must hold
one connection per unit (aiohttp's default pool of 100 left 50 units waiting forever, and each
timed out with a traceback after 5 minutes)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from contact.dispatch.demo import DEMO_UNITS, DemoFleet, seed_city
from contact.dispatch.ports import DISPATCH_STORE
from tests.support import make_settings, start_center


@pytest.mark.timeout(300)  # ~11 s when quiet; a full run on a loaded machine took over 120 s
async def test_the_whole_demo_fleet_connects_without_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="contact")
    center = await start_center(make_settings(tmp_path))
    fleet: DemoFleet | None = None
    try:
        city, units = await seed_city(center.container.get(DISPATCH_STORE), cameras=200)
        assert len(units) == DEMO_UNITS == 150
        fleet = DemoFleet(center.url, city, units, tick_s=3.0)  # the demo's own tick
        await fleet.start()
        assert await fleet.wait_connected(30), f"{len(fleet.connected)} of 150 units connected"
        await asyncio.sleep(6)  # two ticks of positions from every unit
        assert len(fleet.connected) == 150, f"{len(fleet.connected)} of 150 still connected"
        running = list(caplog.records)  # what the demo logs while it runs
    finally:
        if fleet is not None:
            await fleet.stop()
        await center.client.close()
    bad = [r for r in running if r.levelno >= logging.WARNING or r.exc_info]
    assert not bad, "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in bad[:10])
    reconnects = [r for r in running if "reconnecting" in r.getMessage()]
    assert not reconnects, reconnects[0].getMessage()
