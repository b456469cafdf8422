"""The dispatch panel and its map on a real server (no MQTT: units report over HTTP).

- GET /api/v1/contacts/{id}/dispatch is what its OpenAPI schema says, with everything the map
  draws: the place with its accuracy, unit positions, camera cones (heading, fov, range);
- what reaches the operators' WebSockets: a unit's events and its moves reach the panels of
  every contact of its dispatch's incident, each move once; an operator working another
  incident gets none of them, and an available unit's moves go nowhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contact.config import DispatchSettings
from contact.dispatch.cameras import Camera
from contact.dispatch.openapi import DISPATCH_WITH_UNIT, PANEL
from contact.dispatch.registry import import_cameras_into
from contact.dispatch.units import UnitKind
from tests.integration.dispatch_support import SCENE, add_device, near, parts_of, until
from tests.support import Browser, Center, make_settings, start_center

ELSEWHERE = near(SCENE, 5_000, 0)  # another incident, far away


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    settings = make_settings(tmp_path)
    dispatch = DispatchSettings(position_push_s=0.2, reload_check_s=3600)
    running = await start_center(settings.model_copy(update={"dispatch": dispatch}))
    try:
        yield running
    finally:
        await running.client.close()


async def subscribe(browser: Browser, contact_id: str) -> None:
    """What the page does for the contact it works on; returns once the hub has it."""
    assert browser.ws is not None
    topic = f"contact:{contact_id}"
    await browser.ws.send_json({"op": "subscribe", "topic": topic})
    async with asyncio.timeout(5):
        while (msg := await browser.ws.receive_json()).get("subscribed") != topic:
            browser.received.append(msg)


async def working(
    center: Center, username: str, text: str, at: Any, device: str
) -> tuple[Browser, str]:
    """An operator who took a located report and has its panel open (subscribed)."""
    await center.add_operator(username)
    op = await center.browser(username)
    await op.connect()
    await op.ready()
    contact_id = await center.report(
        text, device_id=device, language="ru", location={"lat": at.lat, "lon": at.lon}
    )
    offer = await op.next_offer()
    assert offer["data"]["contact"]["id"] == contact_id
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await subscribe(op, contact_id)
    return op, contact_id


async def nothing(browser: Browser, type_: str, within_s: float = 0.4) -> None:
    with pytest.raises(TimeoutError):
        await browser.next_event(type_, within_s=within_s)


async def test_panel_json_matches_its_schema_with_all_the_map_needs(center: Center) -> None:
    car = await add_device(center, "ALM-01", UnitKind.CAR, near(SCENE, 800, 90))
    south = near(SCENE, 60, 180)
    camera = Camera("CAM-1", south.lat, south.lon, 0.0, 60.0, 150.0, "rtsp://cam.test/1")
    await import_cameras_into(parts_of(center).repo, [camera])
    await parts_of(center).service.reload_map(force=True)
    op, contact_id = await working(center, "aigerim", "Драка у подъезда", SCENE, "device-panel-01")
    try:
        panel = await op.get(f"/api/v1/contacts/{contact_id}/dispatch")
        Draft202012Validator(PANEL).validate(panel)
        assert (panel["location"]["lat"], panel["location"]["lon"]) == (SCENE.lat, SCENE.lon)
        (suggested,) = panel["suggestion"]
        assert suggested["unit_id"] == car.unit_id and suggested["kind"] == "car"
        at = near(SCENE, 800, 90)
        assert suggested["position"]["lat"] == pytest.approx(at.lat)
        assert suggested["position"]["lon"] == pytest.approx(at.lon)
        (seen,) = panel["cameras"]["seeing"]
        assert (seen["id"], seen["heading_deg"], seen["fov_deg"], seen["range_m"]) == (
            "CAM-1",
            0.0,
            60.0,
            150.0,
        )
        assert (seen["lat"], seen["lon"]) == (camera.lat, camera.lon)

        sent = await op.post(
            f"/api/v1/contacts/{contact_id}/dispatch", {"unit_id": car.unit_id}, status=201
        )
        Draft202012Validator(DISPATCH_WITH_UNIT).validate(sent)
        assert (sent["callsign"], sent["unit_kind"], sent["unit_status"]) == (
            "ALM-01",
            "car",
            "dispatched",
        )
        assert sent["unit_position"]["lat"] == pytest.approx(at.lat)
        panel = await op.get(f"/api/v1/contacts/{contact_id}/dispatch")
        Draft202012Validator(PANEL).validate(panel)
        assert panel["suggestion"] == []
        assert panel["dispatches"][0]["unit_position"]["lon"] == pytest.approx(at.lon)
    finally:
        await op.close()


async def test_moves_and_events_reach_every_panel_of_the_incident_and_no_other(
    center: Center,
) -> None:
    a, a_id = await working(center, "aigerim", "Драка во дворе", SCENE, "device-panel-a")
    b, b_id = await working(center, "bolat", "Дерутся двое", near(SCENE, 80, 90), "device-panel-b")
    c, c_id = await working(center, "chingiz", "Драка у магазина", ELSEWHERE, "device-panel-c")
    ids = [a_id, b_id, c_id]
    repo = parts_of(center).repo

    async def incident_ids() -> list[str | None]:
        return list(await asyncio.gather(*(repo.incident_of_contact(i) for i in ids)))

    found = await until(lambda: _all_placed(incident_ids()), within_s=5)
    assert found[0] == found[1] != found[2], "a and b are one incident, c another"
    car = await add_device(center, "ALM-01", UnitKind.CAR, near(SCENE, 900, 45))
    walker = await add_device(center, "ALM-02", UnitKind.FOOT, near(SCENE, 900, 200))
    try:
        # aigerim sends the car: bolat's panel lists it too (same incident), chingiz's not
        await a.post(f"/api/v1/contacts/{ids[0]}/dispatch", {"unit_id": car.unit_id}, 201)
        got = await b.next_event("unit.dispatched", f"contact:{ids[1]}")
        assert got["data"]["unit_id"] == car.unit_id and got["data"]["contact_id"] == ids[0]
        changed = await b.next_event("unit.status_changed", f"contact:{ids[1]}")
        assert changed["data"]["status"] == "dispatched"
        await a.next_event("unit.dispatched", f"contact:{ids[0]}")
        await a.next_event("unit.status_changed", f"contact:{ids[0]}")
        await nothing(c, "unit.dispatched")

        # the car moves: both panels get it, once; chingiz gets nothing
        moved = near(SCENE, 600, 45)
        await car.position(moved.lat, moved.lon)
        for op, contact_id in ((a, ids[0]), (b, ids[1])):
            push = (await op.next_event("unit.position", f"contact:{contact_id}"))["data"]
            assert push["unit_id"] == car.unit_id and push["status"] == "dispatched"
            assert (push["position"]["lat"], push["position"]["lon"]) == pytest.approx(
                (moved.lat, moved.lon)
            )
        await nothing(a, "unit.position")  # not again (the node's own broadcast echo)
        await nothing(c, "unit.position")

        # an available unit moving is nobody's business
        await walker.position(*near(SCENE, 850, 200))
        for op in (a, b, c):
            await nothing(op, "unit.position", within_s=0.3)

        # the car's own report: both panels again
        await car.post("/status", {"status": "en_route"})
        changed = await b.next_event("unit.status_changed", f"contact:{ids[1]}")
        assert changed["data"]["status"] == "en_route"
        await a.next_event("unit.status_changed", f"contact:{ids[0]}")
        await nothing(c, "unit.status_changed")
    finally:
        for op in (a, b, c):
            await op.close()


async def _all_placed(pending: Any) -> list[str | None] | None:
    found: list[str | None] = await pending
    return found if all(found) else None
