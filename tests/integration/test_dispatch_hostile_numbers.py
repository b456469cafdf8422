"""Unit positions with numbers beyond the physical, over HTTP and the unit's WebSocket: a
radius of 1e308 m (it drew as NaN on the operator's map), NaN and Infinity literals, times
outside any event's: refused with a clear error, the socket stays up, the unit keeps its
last good position."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact.dispatch.units import UnitKind
from tests.integration.dispatch_support import (
    add_device,
    dispatch_settings,
    load_city,
    need_mosquitto,
    parts_of,
)
from tests.support import Center, start_center


@pytest.fixture
async def dcenter(tmp_path: Path) -> AsyncIterator[Center]:
    need_mosquitto()
    settings, _ = dispatch_settings(tmp_path)
    center = await start_center(settings)
    await load_city(center)
    yield center
    await center.client.close()


async def test_unit_positions_beyond_the_physical_are_refused(dcenter: Center) -> None:
    center = dcenter
    unit = await add_device(center, "AUE-NUM", UnitKind.CAR)
    await unit.position(43.2389, 76.8897, accuracy_m=8.0)
    path = f"/api/v1/units/{unit.unit_id}/position"
    headers = {**unit.headers, "Content-Type": "application/json"}
    cases: list[tuple[bytes, int, str]] = [
        (b'{"lat": 43.2, "lon": 76.9, "accuracy_m": 1e308}', 422, "invalid_position"),
        (b'{"lat": 43.2, "lon": 76.9, "accuracy_m": 100001}', 422, "invalid_position"),
        (b'{"lat": 43.2, "lon": 76.9, "accuracy_m": -1}', 422, "invalid_position"),
        (b'{"lat": NaN, "lon": 76.9}', 400, "bad_number"),
        (b'{"lat": 43.2, "lon": Infinity}', 400, "bad_number"),
        (b'{"lat": 43.2, "lon": 76.9, "accuracy_m": 1e999}', 400, "bad_number"),
    ]
    for body, status, eid in cases:
        async with center.client.post(path, data=body, headers=headers) as r:
            answer = await r.json()
            assert (r.status, answer["error"]["id"]) == (status, eid), (body, answer)

    await unit.connect()
    try:
        assert unit.ws is not None
        await unit.ws.send_str('{"op": "position", "lat": NaN, "lon": 76.9}')
        error = await unit.next(lambda m: "error" in m)
        assert error["error"]["id"] == "bad_number"
        await unit.send({"op": "position", "lat": 43.2, "lon": 76.9, "accuracy_m": 1e308})
        error = await unit.next(lambda m: "error" in m)
        assert (error["op"], error["error"]["id"]) == ("position", "invalid_position")
        await unit.send({"op": "status", "status": "flying"})  # the socket is still up
        error = await unit.next(lambda m: "error" in m)
        assert error["op"] == "status"
    finally:
        await unit.close()

    # a fix dated outside any event's time counts as "now", never as year 1 or 9999
    await unit.post("/position", {"lat": 43.24, "lon": 76.89, "at": -62135596800}, 202)
    record = parts_of(center).service.unit(unit.unit_id)
    assert record is not None and record.position is not None
    assert record.position.lat == pytest.approx(43.24)
    assert record.position.accuracy_m is None
    assert record.position.at is not None and record.position.at.year >= 2026
