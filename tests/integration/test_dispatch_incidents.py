"""Incidents on a real server: three reports about one fire group into one incident, a fourth
across town does not; a supervisor merges and splits; the EIDO export; district of a place
outside every district is flagged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact.domain.model import Role
from tests.integration.dispatch_support import (
    SCENE,
    TopicRecorder,
    add_device,
    dispatch_settings,
    load_city,
    near,
    need_mosquitto,
    parts_of,
)
from tests.support import Browser, Center, start_center

# the airport: a hole in Turksib that no district covers (x 7 km, y 5 km in the demo city)
AIRPORT = (43.28297, 77.03153)


@pytest.fixture
async def city_center(tmp_path: Path) -> AsyncIterator[tuple[Center, TopicRecorder, Browser]]:
    need_mosquitto()
    settings, _ = dispatch_settings(tmp_path, group_radius_m=300, group_window_s=1800)
    center = await start_center(settings)
    await load_city(center)
    recorder = TopicRecorder()
    center.container.broadcast.listen(recorder)
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    yield center, recorder, boss
    await boss.close()
    await center.client.close()


async def report_at(center: Center, text: str, lat: float, lon: float, device: str) -> str:
    return await center.report(
        text, device_id=device, location={"lat": lat, "lon": lon, "accuracy_m": 15}
    )


async def incident_of(recorder: TopicRecorder, contact_id: str) -> str:
    for type_ in ("incident.created", "incident.contact_added"):
        for _, payload in recorder.of_type(type_):
            if payload.get("contact_id") == contact_id:
                return str(payload["incident_id"])
    payload = await recorder.wait_for("dispatch.suggested", f"contact:{contact_id}")
    return str(payload["incident_id"])


async def test_three_reports_of_one_fire_group_and_a_fourth_across_town_does_not(
    city_center: tuple[Center, TopicRecorder, Browser],
) -> None:
    center, recorder, boss = city_center
    a = near(SCENE, 0)
    b = near(SCENE, 120, 60)
    c = near(SCENE, 200, 200)  # 200 m from a, ~300 m from b: chained through a
    far = near(SCENE, 9_000, 0)
    fire_1 = await report_at(center, "Пожар! Горит дом, много дыма", a.lat, a.lon, "device-fire-1")
    fire_2 = await report_at(
        center, "Үй өртеніп жатыр, көмектесіңдер", b.lat, b.lon, "device-fire-2"
    )
    fire_3 = await report_at(center, "Помогите, скорее приезжайте!", c.lat, c.lon, "device-fire-3")
    other = await report_at(center, "Горит гараж", far.lat, far.lon, "device-fire-4")
    theft = await report_at(center, "Украли велосипед", a.lat, a.lon, "device-theft-1")

    incidents = [await incident_of(recorder, x) for x in (fire_1, fire_2, fire_3, other, theft)]
    assert incidents[0] == incidents[1] == incidents[2]
    assert incidents[3] != incidents[0]  # same category, across town
    assert incidents[4] not in (incidents[0], incidents[3])  # same place, not a fire

    fire = await boss.get(f"/api/v1/incidents/{incidents[0]}")
    assert fire["category"] == "fire"
    assert [x["id"] for x in fire["contacts"]] == [fire_1, fire_2, fire_3]
    assert [x["how"] for x in fire["contacts"]] == ["created", "grouped", "grouped"]
    assert fire["district_id"] == "almaly"
    assert fire["state"] == "open"
    grouped = [p for _, p in recorder.of_type("incident.contact_added")]
    assert {p["contact_id"] for p in grouped} == {fire_2, fire_3}

    listed = await boss.get("/api/v1/incidents")
    assert {i["id"] for i in listed["incidents"]} >= set(incidents)

    # the operator decides the garage fire is the same event after all: merge
    merged = await boss.post(
        f"/api/v1/incidents/{incidents[0]}/merge", {"incident_id": incidents[3]}
    )
    assert merged["moved"] == [other]
    fire = await boss.get(f"/api/v1/incidents/{incidents[0]}")
    assert [x["id"] for x in fire["contacts"]] == [fire_1, fire_2, fire_3, other]
    gone = await boss.get(f"/api/v1/incidents/{incidents[3]}")
    assert gone["state"] == "closed" and gone["merged_into"] == incidents[0]
    await boss.post(
        f"/api/v1/incidents/{incidents[3]}/merge", {"incident_id": incidents[0]}, status=409
    )
    await boss.post(f"/api/v1/incidents/{incidents[0]}/merge", {"incident_id": incidents[0]}, 409)

    # … and then splits it out again
    split = await boss.post(
        f"/api/v1/incidents/{incidents[0]}/split", {"contact_ids": [other]}, status=201
    )
    new_id = split["new_incident_id"]
    fire = await boss.get(f"/api/v1/incidents/{incidents[0]}")
    assert [x["id"] for x in fire["contacts"]] == [fire_1, fire_2, fire_3]
    garage = await boss.get(f"/api/v1/incidents/{new_id}")
    assert [x["id"] for x in garage["contacts"]] == [other]
    assert garage["category"] == "fire"
    assert garage["location"]["lat"] == pytest.approx(far.lat)
    contact = await boss.get(f"/api/v1/contacts/{other}")
    assert contact["incident_id"] == new_id
    await boss.post(  # a split must leave someone behind
        f"/api/v1/incidents/{new_id}/split", {"contact_ids": [other]}, status=409
    )
    await boss.post(
        f"/api/v1/incidents/{incidents[0]}/split", {"contact_ids": ["nope"]}, status=409
    )
    assert recorder.of_type("incident.merged") and recorder.of_type("incident.split")
    audit = [e.action for e in await center.container.db.audit.entries(subject=incidents[0])]
    assert "incident.merged" in audit and "incident.split" in audit

    # lifecycle: close, and a closed incident takes no merges
    await boss.post(f"/api/v1/incidents/{new_id}/state", {"state": "closed"})
    assert (await boss.get(f"/api/v1/incidents/{new_id}"))["state"] == "closed"
    await boss.post(f"/api/v1/incidents/{incidents[0]}/merge", {"incident_id": new_id}, status=409)
    await boss.post(f"/api/v1/incidents/{new_id}/state", {"state": "burning"}, status=422)


async def test_eido_export_of_a_dispatched_incident(
    city_center: tuple[Center, TopicRecorder, Browser],
) -> None:
    center, recorder, boss = city_center
    unit = await add_device(center, "ALM-11", at=near(SCENE, 400, 90))
    first = await report_at(center, "ДТП, две машины", SCENE.lat, SCENE.lon, "device-crash-1")
    second = await report_at(
        center, "Жол апаты, жараланған бар", *near(SCENE, 50, 10), "device-crash-2"
    )
    incident_id = await incident_of(recorder, first)
    assert await incident_of(recorder, second) == incident_id  # traffic + injured: compatible
    await boss.post(f"/api/v1/contacts/{first}/dispatch", {"unit_id": unit.unit_id}, status=201)
    assert (await boss.get(f"/api/v1/incidents/{incident_id}"))["state"] == "dispatched"

    async with boss.session.get(f"/api/v1/incidents/{incident_id}/eido") as r:
        assert r.status == 200
        assert "attachment" in r.headers["Content-Disposition"]
        eido = await r.json()
    component = eido["incidentComponent"]
    assert component["incidentTrackingIdentifier"].startswith(
        f"urn:emergency:uid:incidentid:{incident_id}:"
    )
    assert component["incidentTypeCommonRegistryText"] == "TrafficCollision"
    assert component["incidentStatusCommonRegistryText"] == ["Active"]
    assert [c["$id"] for c in eido["callComponent"]] == [f"call-{first}", f"call-{second}"]
    refs = {x["$id"] for key in ("locationComponent", "callComponent", "agencyComponent")
            for x in eido[key]}  # fmt: skip
    assert {r["$ref"] for r in component["callReference"]} <= refs
    resource = eido["emergencyResourceComponent"][0]
    assert resource["emergencyResourceIdentifier"] == "ALM-11"
    assert resource["primaryUnitStatusRegistryText"] == "Dispatched"
    agencies = [a["agencyName"] for a in eido["agencyComponent"]]
    assert "УП Алмалинского района" in agencies
    assert eido["notesComponent"][0]["noteText"] == "ДТП, две машины"
    actions = [e.action for e in await center.container.db.audit.entries(subject=incident_id)]
    assert "incident.export_eido" in actions
    await unit.close()


async def test_a_place_outside_every_district_is_flagged(
    city_center: tuple[Center, TopicRecorder, Browser],
) -> None:
    center, recorder, boss = city_center
    inside = await report_at(center, "Драка", SCENE.lat, SCENE.lon, "device-in-0001")
    outside = await report_at(center, "Драка", *AIRPORT, "device-out-0001")
    got_in = await recorder.wait_for("dispatch.suggested", f"contact:{inside}")
    got_out = await recorder.wait_for("dispatch.suggested", f"contact:{outside}")
    assert got_in["district_id"] == "almaly" and got_in["outside_districts"] is False
    assert got_out["district_id"] is None and got_out["outside_districts"] is True
    panel = await boss.get(f"/api/v1/contacts/{outside}/dispatch")
    assert panel["outside_districts"] is True and panel["district"] is None
    assert parts_of(center).service.locate(*AIRPORT) is None


async def test_an_operator_sees_only_incidents_of_their_contacts(
    city_center: tuple[Center, TopicRecorder, Browser],
) -> None:
    center, recorder, _ = city_center
    await center.add_operator("stranger")
    stranger = await center.browser("stranger")
    contact = await report_at(center, "Пожар", SCENE.lat, SCENE.lon, "device-xx-0001")
    incident_id = await incident_of(recorder, contact)
    await stranger.get(f"/api/v1/incidents/{incident_id}", status=403)
    await stranger.get(f"/api/v1/incidents/{incident_id}/eido", status=403)
    await stranger.get(f"/api/v1/contacts/{contact}/dispatch", status=403)
    await stranger.get("/api/v1/incidents", status=403)
    await stranger.get("/api/v1/supervisor/response-times", status=403)
    await stranger.close()
