"""School panic buttons over real HTTP: the per-site key, a top-priority contact at the school
with its cameras attached and a unit suggestion requested; it outranks everything waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contact.domain import events as ev
from contact.domain.model import ChannelKind, LocationSource, Priority, Role
from tests.integration.device_support import (
    SITE_KEY,
    add_kiosk,
    add_site,
    alarm,
    call,
    camera_event,
    device_headers,
    device_settings,
    error_id,
    register_device,
)
from tests.support import Center, start_center


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    running = await start_center(device_settings(tmp_path, alarm={"alarms_per_minute_per_site": 5}))
    yield running
    await running.client.close()


async def test_alarm_becomes_a_top_priority_contact_with_cameras(center: Center) -> None:
    await add_site(center)
    requested: list[ev.SuggestionRequested] = []

    async def on_request(event: ev.SuggestionRequested) -> None:
        requested.append(event)

    center.container.bus.subscribe(ev.SuggestionRequested, on_request)
    body = {"site_id": "school-12", "zone": "2 этаж, восточное крыло", "kind": "intruder"}
    status, answer = await alarm(center, {**body, "event_id": "evt-1"})
    assert status == 202, answer
    assert answer["cameras"] == ["cam-s12-gate", "cam-s12-hall"]
    contact = await center.container.db.contacts.get(answer["id"])
    assert contact.channel is ChannelKind.SCHOOL_ALARM and contact.priority is Priority.ALARM
    assert contact.location is not None and contact.location.source is LocationSource.FIXED
    assert (contact.location.lat, contact.location.lon) == (43.2389, 76.8897)
    assert "2 этаж" in contact.summary and "Школа-гимназия №12" in contact.summary
    assert [(r.contact_id, r.reason, r.camera_ids) for r in requested] == [
        (answer["id"], "school_alarm", ("cam-s12-gate", "cam-s12-hall"))
    ]
    # the operator who takes it sees where it came from and the school's cameras
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    try:
        source = await boss.get(f"/api/v1/contacts/{answer['id']}/source")
        assert source["kind"] == "site" and source["source_id"] == "school-12"
        assert source["details"]["zone"] == "2 этаж, восточное крыло"
        cameras = {c["id"]: c for c in source["cameras"]}
        assert cameras["cam-s12-gate"]["known"] and cameras["cam-s12-gate"]["lat"] == 43.2389
        views = await center.container.db.audit.entries(subject=answer["id"])
        assert "contact.source_view" in [e.action for e in views]
    finally:
        await boss.close()
    # another zone of the same school while it is open joins the contact
    status, again = await alarm(center, {**body, "zone": "спортзал", "event_id": "evt-2"})
    assert (status, again["id"], again["joined"]) == (200, answer["id"], True)
    texts = [m.text for m in await center.container.db.contacts.messages(answer["id"])]
    assert len(texts) == 2 and "спортзал" in texts[1]
    # a retry of the first alarm is the same alarm
    status, retry = await alarm(center, {**body, "event_id": "evt-1"})
    assert (status, retry["id"]) == (200, answer["id"])
    assert len(await center.container.db.contacts.messages(answer["id"])) == 2
    assert len(await center.container.store.waiting()) == 1


async def test_alarm_refusals(center: Center) -> None:
    await add_site(center)
    await add_site(center, "school-99", key="other-site-key-" + "2" * 50, camera_ids=())
    ok = {"site_id": "school-12", "zone": "1", "kind": "panic"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"json": ok}, 401, "site_key_required"),
        ({"json": ok, "headers": {"Authorization": "Basic eDp5"}}, 401, "bad_site_key"),
        ({"json": ok, "headers": {"Authorization": "Bearer nope"}}, 401, "bad_site_key"),
        (
            {
                "json": {**ok, "site_id": "school-99"},
                "headers": {"Authorization": f"Bearer {SITE_KEY}"},
            },
            403,
            "site_mismatch",
        ),
        (
            {
                "data": b"{",
                "headers": {
                    "Authorization": f"Bearer {SITE_KEY}",
                    "Content-Type": "application/json",
                },
            },
            400,
            "bad_json",
        ),
        (
            {
                "data": b"zone=1",
                "headers": {"Authorization": f"Bearer {SITE_KEY}", "Content-Type": "text/plain"},
            },
            415,
            "json_required",
        ),
        (
            {
                "json": {**ok, "zone": "x" * 20_000},
                "headers": {"Authorization": f"Bearer {SITE_KEY}"},
            },
            413,
            "payload_too_large",
        ),
        (
            {"json": {**ok, "kind": "drill"}, "headers": {"Authorization": f"Bearer {SITE_KEY}"}},
            422,
            "invalid_kind",
        ),
        (
            {"json": {"zone": "1"}, "headers": {"Authorization": f"Bearer {SITE_KEY}"}},
            422,
            "invalid_site_id",
        ),
    ]
    for kwargs, status, eid in cases:
        got, body = await call(center, "POST", "/api/v1/alarms", **kwargs)
        assert (got, error_id(body)) == (status, eid), (kwargs, body)
    await add_site(center, enabled=False)
    got, body = await alarm(center, ok)
    assert (got, error_id(body)) == (403, "site_disabled")
    assert await center.container.store.waiting() == []


async def test_alarm_rate_limit_per_site(center: Center) -> None:
    await add_site(center)
    other_key = "other-site-key-" + "3" * 50
    await add_site(center, "school-77", key=other_key)
    for i in range(5):
        status, _ = await alarm(center, {"site_id": "school-12", "zone": str(i)})
        assert status in (200, 202)
    status, body = await alarm(center, {"site_id": "school-12", "zone": "6"})
    assert (status, error_id(body)) == (429, "rate_limited")
    status, _ = await alarm(center, {"site_id": "school-77"}, key=other_key)
    assert status == 202


async def test_school_alarm_outranks_everything_waiting(center: Center) -> None:
    """Reports, an app SOS, a kiosk SOS and a weapon alert wait; a school alarm arrives last
    and is the first offered and first in the queue."""
    await add_site(center)
    kiosk = await add_kiosk(center)
    try:
        for i in range(3):
            await center.report(f"Шумят соседи {i}", device_id=f"device-noise-{i:02}")
        token = await register_device(center)
        status, _ = await call(
            center,
            "POST",
            "/api/v1/app/sos",
            json={"location": {"lat": 43.2, "lon": 76.9}},
            headers=device_headers(token),
        )
        assert status == 202
        assert (await kiosk.sos())[0] == 202
        status, _ = await camera_event(
            center, {"camera_id": "cam-park-01", "kind": "weapon", "confidence": 0.97}
        )
        assert status == 202
        await asyncio.sleep(0.05)
        status, raised = await alarm(center, {"site_id": "school-12", "zone": "вход"})
        assert status == 202
        waiting = await center.container.store.waiting()
        assert len(waiting) == 7 and waiting[0].contact_id == raised["id"]
        await center.add_operator("aigerim")
        op = await center.browser("aigerim")
        try:
            queue = await op.get("/api/v1/queue")
            assert queue["contacts"][0]["id"] == raised["id"]
            assert queue["contacts"][0]["priority_name"] == "alarm"
            await op.connect()
            await op.ready()
            offer = await op.next_offer()
            assert offer["data"]["contact"]["id"] == raised["id"]
            assert offer["data"]["contact"]["channel"] == "school_alarm"
        finally:
            await op.close()
    finally:
        await kiosk._session.close()
