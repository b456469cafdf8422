"""A dispatch end to end on a real server and a real Mosquitto: a citizen's report with a
location → suggestion → the operator dispatches → the unit's WebSocket gets the order → it
acknowledges → en route → arrives (geofence) → the response time is in the district report."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from contact.dispatch.units import UnitKind, UnitStatus
from contact.domain.model import Role
from tests.integration.dispatch_support import (
    MQTT_HOST,
    MQTT_PORT,
    SCENE,
    TopicRecorder,
    add_device,
    dispatch_settings,
    load_city,
    near,
    need_mosquitto,
    parts_of,
    until,
)
from tests.support import Center, start_center


@pytest.fixture
async def dcenter(tmp_path: Path) -> AsyncIterator[tuple[Center, str]]:
    need_mosquitto()
    settings, prefix = dispatch_settings(tmp_path)
    center = await start_center(settings)
    mqtt = parts_of(center).mqtt
    assert mqtt is not None
    assert await mqtt.wait_subscribed(10), "the MQTT consumer did not subscribe"
    await load_city(center)
    yield center, prefix
    await center.client.close()


async def test_report_to_arrival_with_response_time(dcenter: tuple[Center, str]) -> None:
    center, _ = dcenter
    recorder = TopicRecorder()
    center.container.broadcast.listen(recorder)
    near_car = await add_device(center, "ALM-01", UnitKind.CAR, near(SCENE, 800, 90))
    far_car = await add_device(center, "ALM-02", UnitKind.CAR, near(SCENE, 6000, 270))
    walker = await add_device(center, "ALM-03", UnitKind.FOOT, near(SCENE, 600, 180))
    busy = await add_device(center, "ALM-04", UnitKind.CAR, near(SCENE, 100, 0))
    await busy.post("/status", {"status": "out_of_service"})

    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    await op.connect()
    await op.ready()
    await near_car.connect()

    report_id = await center.report(
        "Во дворе драка, двое бьют одного",
        language="ru",
        location={"lat": SCENE.lat, "lon": SCENE.lon, "accuracy_m": 10},
    )
    suggested = await recorder.wait_for("dispatch.suggested", f"contact:{report_id}")
    ranked = [u["callsign"] for u in suggested["units"]]
    # the car 800 m away beats the walker 600 m away; out of service is never suggested
    assert ranked[:3] == ["ALM-01", "ALM-03", "ALM-02"]
    assert "ALM-04" not in ranked
    assert suggested["district_id"] == "almaly"
    assert suggested["incident_id"]
    assert all(u["eta_source"] == "estimate" for u in suggested["units"])

    offer = await op.next_offer()
    assert offer["data"]["contact"]["id"] == report_id
    await op.post(f"/api/v1/contacts/{report_id}/accept")
    # the page subscribes to the contact it works on
    assert op.ws is not None
    await op.ws.send_json({"op": "subscribe", "topic": f"contact:{report_id}"})

    panel = await op.get(f"/api/v1/contacts/{report_id}/dispatch")
    assert panel["district"]["id"] == "almaly"
    assert panel["district"]["department"] == "УП Алмалинского района"
    assert panel["suggestion"][0]["callsign"] == "ALM-01"
    eta = panel["suggestion"][0]["eta_s"]
    assert 60 < eta < 180  # 800 m x 1.35 at 40 km/h ≈ 97 s
    assert panel["incident_id"] == suggested["incident_id"]
    assert panel["cameras"]["seeing"] or panel["cameras"]["others"]
    for camera in panel["cameras"]["seeing"] + panel["cameras"]["others"]:
        assert "url" not in json.dumps(camera).replace("snapshot", "")  # no camera URLs
        assert camera["snapshot"] == f"/api/v1/cameras/{camera['id']}/snapshot"

    # one action: dispatch; the unit's WebSocket gets the order with the scene
    dispatch = await op.post(
        f"/api/v1/contacts/{report_id}/dispatch", {"unit_id": near_car.unit_id}, status=201
    )
    assert dispatch["state"] == "active" and dispatch["callsign"] == "ALM-01"
    order = await near_car.next(lambda m: m["data"].get("type") == "unit.dispatched")
    assert order["topic"] == f"unit:{near_car.unit_id}"
    assert order["data"]["dispatch"]["dispatch_id"] == dispatch["id"]
    assert order["data"]["dispatch"]["scene"]["lat"] == pytest.approx(SCENE.lat)
    assert order["data"]["dispatch"]["category"] == "violence"
    seen = await op.next_event("unit.dispatched", f"contact:{report_id}")
    assert seen["data"]["unit_id"] == near_car.unit_id

    # sent again (a retry whose answer was lost, a double click): the same dispatch, no other
    again = await op.post(
        f"/api/v1/contacts/{report_id}/dispatch", {"unit_id": near_car.unit_id}, status=201
    )
    assert (again["id"], again["state"]) == (dispatch["id"], "active")

    await near_car.send({"op": "ack", "dispatch_id": dispatch["id"]})
    assert (await near_car.next(lambda m: m.get("ok") == "ack"))["dispatch_id"] == dispatch["id"]
    await op.next_event("unit.acknowledged", f"contact:{report_id}")

    await near_car.send({"op": "status", "status": "en_route"})
    await near_car.next(lambda m: m.get("ok") == "status")
    en_route = await op.next_event("unit.status_changed", f"contact:{report_id}")
    while en_route["data"]["status"] != "en_route":
        en_route = await op.next_event("unit.status_changed", f"contact:{report_id}")

    # driving in: positions on the WebSocket; within 50 m of the scene it is on scene
    for metres in (500, 200, 30):
        await near_car.send({"op": "position", **near(SCENE, metres, 90)._asdict()})
    arrived = await op.next_event("unit.arrived", f"contact:{report_id}")
    assert arrived["data"]["first_on_scene"] is True
    assert arrived["data"]["within_target"] is True
    assert 0 <= arrived["data"]["response_s"] < 60
    assert parts_of(center).service.unit(near_car.unit_id).status is UnitStatus.ON_SCENE  # type: ignore[union-attr]

    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    report = await boss.get("/api/v1/supervisor/response-times")
    rows = {r["district_id"]: r for r in report["districts"]}
    assert rows["almaly"]["arrivals"] == 1
    assert rows["almaly"]["within_target"] == 1
    assert rows["almaly"]["name_ru"] == "Алмалинский район"
    assert report["target_s"] == 420
    assert report["overall"]["median_s"] == arrived["data"]["response_s"]

    # cleared: the unit is available again and the dispatch completed
    await near_car.post("/status", {"status": "available"})
    panel = await op.get(f"/api/v1/contacts/{report_id}/dispatch")
    assert panel["dispatches"][0]["state"] == "completed"
    assert panel["dispatches"][0]["arrived_at"] is not None
    history = await parts_of(center).repo.status_history(near_car.unit_id)
    assert [h[0] for h in reversed(history)] == [
        "available",
        "dispatched",
        "en_route",
        "on_scene",
        "available",
    ]
    actions = [e.action for e in await center.container.db.audit.entries(subject=report_id)]
    assert "unit.dispatch" in actions and "dispatch.view" in actions
    for device in (near_car, far_car, walker, busy):
        await device.close()
    await op.close()
    await boss.close()


async def test_unit_reconnecting_gets_its_order_and_rest_ack(dcenter: tuple[Center, str]) -> None:
    center, _ = dcenter
    unit = await add_device(center, "ZHT-07", UnitKind.BIKE, near(SCENE, 300, 0))
    await center.add_operator("op")
    op = await center.browser("op")
    await op.connect()
    await op.ready()
    report_id = await center.report("Украли сумку", location={"lat": SCENE.lat, "lon": SCENE.lon})
    await op.next_offer()
    await op.post(f"/api/v1/contacts/{report_id}/accept")
    dispatch = await op.post(
        f"/api/v1/contacts/{report_id}/dispatch", {"unit_id": unit.unit_id}, status=201
    )
    await unit.connect()  # after the dispatch: the order is replayed on connect
    order = await unit.next(lambda m: m["data"].get("type") == "unit.dispatched")
    assert order["data"]["replayed"] is True
    current = await unit.post("/dispatches/" + dispatch["id"] + "/ack")
    assert current["acknowledged_at"]
    async with center.client.get(
        f"/api/v1/units/{unit.unit_id}/dispatch", headers=unit.headers
    ) as r:
        state = await r.json()
    assert state["dispatch"]["dispatch_id"] == dispatch["id"]
    assert state["unit"]["status"] == "dispatched"

    # the operator calls it back: available again, the dispatch is cancelled
    cancelled = await op.post(f"/api/v1/dispatches/{dispatch['id']}/cancel")
    assert cancelled["state"] == "cancelled"
    status = await unit.next(
        lambda m: (
            m["data"].get("type") == "unit.status_changed" and m["data"]["status"] == "available"
        )
    )
    assert status["data"]["previous"] == "dispatched"
    await unit.close()
    await op.close()


async def test_unit_api_refuses_wrong_tokens_and_bad_positions(
    dcenter: tuple[Center, str],
) -> None:
    center, _ = dcenter
    unit = await add_device(center, "AUE-01", UnitKind.CAR)
    other = await add_device(center, "AUE-02", UnitKind.CAR)
    path = f"/api/v1/units/{unit.unit_id}/position"
    for headers in ({}, {"Authorization": "Bearer nope"}, other.headers):
        async with center.client.post(path, json={"lat": 43.2, "lon": 76.9}, headers=headers) as r:
            assert r.status == 401
    for body in ({"lat": 91, "lon": 0}, {"lat": "x", "lon": 1}, {"lon": 1}):
        async with center.client.post(path, json=body, headers=unit.headers) as r:
            assert r.status == 422, await r.text()
    await unit.post("/status", {"status": "on_scene"}, status=409)  # not dispatched
    await unit.post("/status", {"status": "dispatched"}, status=422)  # only an operator can
    await unit.post("/status", {"status": "flying"}, status=422)


async def test_positions_over_mqtt_on_a_real_mosquitto(dcenter: tuple[Center, str]) -> None:
    center, prefix = dcenter
    unit = await add_device(center, "MQT-01", UnitKind.CAR)
    service = parts_of(center).service
    assert service.unit(unit.unit_id).position is None  # type: ignore[union-attr]
    target = near(SCENE, 250, 45)
    async with aiomqtt.Client(MQTT_HOST, MQTT_PORT, identifier=f"test-{unit.unit_id[:8]}") as c:
        await c.publish(f"{prefix}/{unit.unit_id}/position", b"not json")
        await c.publish(f"{prefix}/nobody/position", json.dumps({"lat": 1, "lon": 2}))
        await c.publish(
            f"{prefix}/{unit.unit_id}/position",
            json.dumps({"lat": target.lat, "lon": target.lon, "accuracy_m": 4}),
        )
        u = await until(
            lambda: (x := service.unit(unit.unit_id)) is not None and x.position is not None and x
        )
    assert u.position.lat == pytest.approx(target.lat)
    ranked = await service.rank(SCENE.lat, SCENE.lon)
    assert ranked[0].unit_id == unit.unit_id
    mqtt = parts_of(center).mqtt
    assert mqtt is not None and mqtt.rejected >= 2
    # positions are stored in batches
    repo = parts_of(center).repo

    async def stored() -> bool:
        return (await repo.get_unit(unit.unit_id)).position is not None

    await until(stored)
