"""Camera analytics alerts over real HTTP: thresholds per kind, an alert contact at the
camera's position with its snapshot, repeats collapsing within the window, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contact.config import CameraSettings
from contact.domain.model import ChannelKind, LocationSource, Priority, Role
from tests.integration.device_support import (
    CAMERA_KEY,
    add_site,
    call,
    camera_event,
    device_settings,
    error_id,
)
from tests.support import Center, start_center

SNAP = "https://vms.city.example/snapshots/cam-s12-gate/1700000000.jpg"


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    running = await start_center(
        device_settings(
            tmp_path,
            camera={
                "dedupe_window_s": 3.0,  # wide enough for a loaded machine's three requests
                "threshold_crowd": 0.9,
                "events_per_minute_per_camera": 8,
            },
        )
    )
    await add_site(running)  # the school's cameras have a known position
    yield running
    await running.client.close()


def event(**extra: Any) -> dict[str, Any]:
    return {
        "camera_id": "cam-s12-gate",
        "kind": "aggression",
        "confidence": 0.85,
        "snapshot_url": SNAP,
        "time": "2027-03-01T09:00:00+05:00",
        "event_id": "vms-1",
        **extra,
    }


async def test_alert_contact_at_the_camera_with_its_snapshot(center: Center) -> None:
    status, body = await camera_event(center, event())
    assert status == 202 and body["camera_known"] is True, body
    contact = await center.container.db.contacts.get(body["id"])
    assert contact.channel is ChannelKind.CAMERA and contact.priority is Priority.CHAT
    assert contact.location is not None and contact.location.source is LocationSource.CAMERA
    assert (contact.location.lat, contact.location.lon) == (43.2389, 76.8897)
    (message,) = await center.container.db.contacts.messages(body["id"])
    assert SNAP in message.text and "0.85" in message.text
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    try:
        source = await boss.get(f"/api/v1/contacts/{body['id']}/source")
        assert source["kind"] == "camera" and "snapshot_url" not in source["details"]
        assert source["details"]["snapshot"] == f"/api/v1/contacts/{body['id']}/source/snapshot"
        assert source["details"]["alert_kind"] == "aggression"
    finally:
        await boss.close()


async def test_repeats_collapse_within_the_window(center: Center) -> None:
    status, first = await camera_event(center, event())
    assert status == 202
    for n in (2, 3):
        status, again = await camera_event(center, event(confidence=0.9, event_id=f"vms-{n}"))
        assert (status, again["status"], again["id"], again["count"]) == (
            200,
            "collapsed",
            first["id"],
            n,
        )
    assert len(await center.container.db.contacts.messages(first["id"])) == 3
    # another kind or another subject is another alert
    status, weapon = await camera_event(center, event(kind="weapon"))
    assert status == 202 and weapon["id"] != first["id"]
    weapon_contact = await center.container.db.contacts.get(weapon["id"])
    assert weapon_contact.priority is Priority.SOS  # a weapon reads as danger
    await asyncio.sleep(3.1)  # the window is over
    status, later = await camera_event(center, event())
    assert status == 202 and later["id"] != first["id"]
    assert len(await center.container.store.waiting()) == 3


async def test_thresholds_per_kind(center: Center) -> None:
    status, body = await camera_event(center, event(kind="crowd", confidence=0.89))
    assert (status, body["status"], body["threshold"]) == (200, "ignored", 0.9)
    status, body = await camera_event(center, event(kind="crowd", confidence=0.9))
    assert status == 202
    defaults = CameraSettings()
    status, body = await camera_event(
        center, event(kind="wanted_plate", confidence=defaults.threshold_wanted_plate - 0.01)
    )
    assert body["status"] == "ignored"
    assert len(await center.container.store.waiting()) == 1


async def test_an_unknown_camera_is_still_an_alert(center: Center) -> None:
    status, body = await camera_event(center, event(camera_id="cam-nowhere", kind="weapon"))
    assert status == 202 and body["camera_known"] is False
    contact = await center.container.db.contacts.get(body["id"])
    assert contact.location is None


async def test_refusals(center: Center) -> None:
    path = "/api/v1/camera-events"
    key = {"X-Api-Key": CAMERA_KEY}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"json": event()}, 401, "bad_api_key"),
        ({"json": event(), "headers": {"X-Api-Key": "wrong"}}, 401, "bad_api_key"),
        ({"data": b"[", "headers": {**key, "Content-Type": "application/json"}}, 400, "bad_json"),
        ({"json": [event()], "headers": key}, 422, "not_an_object"),
        ({"data": b"x", "headers": {**key, "Content-Type": "text/plain"}}, 415, "json_required"),
        ({"json": event(confidence=2), "headers": key}, 422, "invalid_confidence"),
        ({"json": event(kind="ufo"), "headers": key}, 422, "invalid_kind"),
        (
            {"json": event(snapshot_url="file:///etc/passwd"), "headers": key},
            422,
            "invalid_snapshot_url",
        ),
        ({"json": event(subject="x" * 70_000), "headers": key}, 413, "payload_too_large"),
    ]
    for kwargs, status, eid in cases:
        got, body = await call(center, "POST", path, **kwargs)
        assert (got, error_id(body)) == (status, eid), (kwargs.get("json"), body)
    assert await center.container.store.waiting() == []
    for i in range(8):
        assert (await camera_event(center, event(event_id=f"x{i}")))[0] in (200, 202)
    status, body = await camera_event(center, event())
    assert (status, error_id(body)) == (429, "rate_limited")


async def test_without_keys_the_channel_is_unavailable(tmp_path: Path) -> None:
    settings = device_settings(tmp_path).model_copy(update={"camera": CameraSettings()})
    center = await start_center(settings)
    try:
        status, body = await camera_event(center, event())
        assert (status, error_id(body)) == (503, "channel_disabled")
    finally:
        await center.client.close()
