"""The citizen app beyond reports, over real HTTP and WebSocket: device registration, SOS with
what the video call needs, status on the app WebSocket, live location to the operator, the
device's history, cancelling, and every refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contact.config import AppChannelSettings
from contact.domain import events as ev
from contact.domain.model import ChannelKind, ContactState, Priority
from tests.integration.device_support import (
    call,
    device_headers,
    device_settings,
    error_id,
    register_device,
)
from tests.support import APP_KEY, Center, start_center

SOS = "/api/v1/app/sos"


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    settings = device_settings(tmp_path)
    app = AppChannelSettings(
        api_keys=APP_KEY,
        sos_sip_uri="sip:sos@pbx.example",
        sos_ws_url="wss://pbx.example:8089/ws",
        sos_ice_servers="stun:stun.example:3478",
        locations_per_minute_per_device=5,
        sos_per_hour_per_device=2,
    )
    running = await start_center(settings.model_copy(update={"app": app}))
    yield running
    await running.client.close()


async def sos(center: Center, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    return await call(center, "POST", SOS, json=body or {}, headers=device_headers(token))


async def test_sos_end_to_end(center: Center) -> None:
    token = await register_device(center, "device-sos-0001")
    requested: list[ev.SuggestionRequested] = []

    async def on_request(event: ev.SuggestionRequested) -> None:
        requested.append(event)

    center.container.bus.subscribe(ev.SuggestionRequested, on_request)
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    await op.connect()
    await op.ready()
    async with center.client.ws_connect(
        "/api/v1/app/ws", headers={"X-Api-Key": APP_KEY, "X-Device-Token": token}
    ) as app_ws:
        status, answer = await sos(
            center, token, {"location": {"lat": 43.238, "lon": 76.945, "accuracy_m": 9}}
        )
        assert status == 202, answer
        sos_id = answer["id"]
        assert answer["call"] == {
            "sip_uri": "sip:sos@pbx.example",
            "ws_url": "wss://pbx.example:8089/ws",
            "ice_servers": [{"urls": "stun:stun.example:3478"}],
            "headers": {"X-Contact-Id": sos_id},
            "video": True,
        }
        assert answer["location_url"] == f"{SOS}/{sos_id}/location"
        contact = await center.container.db.contacts.get(sos_id)
        assert contact.channel is ChannelKind.APP_SOS and contact.priority is Priority.SOS
        assert [(r.contact_id, r.reason) for r in requested] == [(sos_id, "app_sos")]

        offer = await op.next_offer()
        assert offer["data"]["contact"]["id"] == sos_id
        await op.post(f"/api/v1/contacts/{sos_id}/accept")
        pushed = await asyncio.wait_for(app_ws.receive_json(), 5)
        assert pushed["data"]["type"] == "sos.status" and pushed["data"]["sos_id"] == sos_id
        assert pushed["data"]["status"] == "in_progress"

        # live location reaches the operator on the contact's topic
        op_ws = op.ws
        assert op_ws is not None
        await op_ws.send_json({"op": "subscribe", "topic": f"contact:{sos_id}"})
        status, moved = await call(
            center,
            "POST",
            f"{SOS}/{sos_id}/location",
            json={"lat": 43.2391, "lon": 76.9462, "accuracy_m": 6},
            headers=device_headers(token),
        )
        assert status == 200 and moved["location"]["lat"] == 43.2391, moved
        located = await op.next_event("contact.located", f"contact:{sos_id}")
        assert located["data"]["location"]["lon"] == 76.9462
        stored = await center.container.db.contacts.get(sos_id)
        assert stored.location is not None and stored.location.accuracy_m == 6

        # a second press while the SOS is open returns it
        status, again = await sos(center, token, {"location": {"lat": 43.24, "lon": 76.95}})
        assert (status, again["id"], again["joined"]) == (200, sos_id, True)

        await op.post(f"/api/v1/contacts/{sos_id}/reply", {"text": "Наряд едет"}, status=201)
        reply = await asyncio.wait_for(app_ws.receive_json(), 5)
        assert reply["data"]["type"] == "sos.reply" and reply["data"]["text"] == "Наряд едет"
        status, seen = await call(center, "GET", f"{SOS}/{sos_id}", headers=device_headers(token))
        assert status == 200 and seen["status"] == "in_progress" and seen["call"]
        assert [r["text"] for r in seen["replies"]] == ["Наряд едет"]

        await op.post(f"/api/v1/contacts/{sos_id}/close", {"disposition": "dispatched"})
        closed = await asyncio.wait_for(app_ws.receive_json(), 5)
        assert closed["data"]["status"] == "closed"
        status, body = await call(
            center,
            "POST",
            f"{SOS}/{sos_id}/location",
            json={"lat": 43.0, "lon": 76.0},
            headers=device_headers(token),
        )
        assert (status, error_id(body)) == (409, "contact_closed")
    await op.close()

    # the device's history: this SOS and a report, newest first
    status, body = await call(
        center,
        "POST",
        "/api/v1/app/reports",
        json={"text": "Спасибо", "device_id": "device-sos-0001"},
        headers=device_headers(token),
    )
    assert status == 202
    report_id = body["id"]
    status, history = await call(
        center, "GET", "/api/v1/app/history", headers=device_headers(token)
    )
    assert status == 200
    assert [(c["id"], c["kind"]) for c in history["contacts"]] == [
        (report_id, "report"),
        (sos_id, "sos"),
    ]
    assert history["contacts"][1]["status"] == "closed"


async def test_cancel_an_sos_pressed_by_mistake(center: Center) -> None:
    token = await register_device(center)
    status, answer = await sos(center, token)
    assert status == 202 and (await center.container.store.waiting())
    status, body = await call(
        center, "POST", f"{SOS}/{answer['id']}/cancel", headers=device_headers(token)
    )
    assert (status, body["status"]) == (200, "withdrawn")
    assert await center.container.store.waiting() == []
    contact = await center.container.db.contacts.get(answer["id"])
    assert contact.state is ContactState.ABANDONED
    status, fresh = await sos(center, token)  # the next press is a new SOS
    assert status == 202 and fresh["id"] != answer["id"]


async def test_device_registration_rules(center: Center) -> None:
    token = await register_device(center, "device-reg-0001")
    body = {"device_id": "device-reg-0001"}
    status, answer = await call(
        center, "POST", "/api/v1/app/devices", json=body, headers={"X-Api-Key": APP_KEY}
    )
    assert (status, error_id(answer)) == (409, "device_registered")  # no takeover
    status, answer = await call(
        center, "POST", "/api/v1/app/devices", json=body, headers=device_headers(token)
    )
    assert status == 200 and answer["device_token"] != token  # rotated by its holder
    new_token = answer["device_token"]
    status, answer = await sos(center, token)
    assert (status, error_id(answer)) == (401, "bad_device_token")  # the old one is gone
    assert (await sos(center, new_token))[0] == 202
    # a registered device's reports, reads and WebSocket need its token
    report = {"text": "Кража", "device_id": "device-reg-0001"}
    status, answer = await call(
        center, "POST", "/api/v1/app/reports", json=report, headers={"X-Api-Key": APP_KEY}
    )
    assert (status, error_id(answer)) == (401, "device_token_required")
    other = await register_device(center, "device-reg-0002")
    status, answer = await call(
        center, "POST", "/api/v1/app/reports", json=report, headers=device_headers(other)
    )
    assert (status, error_id(answer)) == (403, "device_mismatch")
    status, answer = await call(
        center, "GET", "/api/v1/app/ws?device_id=device-reg-0001", headers={"X-Api-Key": APP_KEY}
    )
    assert (status, error_id(answer)) == (401, "device_token_required")
    # unregistered devices keep working as before
    assert await center.report(device_id="device-plain-0001")


async def test_sos_refusals(center: Center) -> None:
    token = await register_device(center)
    other = await register_device(center, "device-other-0001")
    status, mine = await sos(center, token)
    assert status == 202
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        (
            "POST",
            SOS,
            {"json": {}, "headers": {"X-Api-Key": APP_KEY}},
            401,
            "device_token_required",
        ),
        ("POST", SOS, {"json": {}, "headers": {"X-Device-Token": token}}, 401, "bad_api_key"),
        (
            "POST",
            SOS,
            {"json": {}, "headers": {"X-Api-Key": APP_KEY, "X-Device-Token": "x"}},
            401,
            "bad_device_token",
        ),
        (
            "POST",
            SOS,
            {"json": {}, "headers": {"X-Api-Key": APP_KEY, "X-Device-Token": "A" * 43}},
            401,
            "bad_device_token",
        ),
        (
            "POST",
            SOS,
            {"json": {"location": {"lat": 91, "lon": 0}}, "headers": device_headers(other)},
            422,
            "invalid_location",
        ),
        (
            "POST",
            SOS,
            {
                "data": b"[" * 5000,
                "headers": {**device_headers(other), "Content-Type": "application/json"},
            },
            400,
            "bad_json",
        ),
        (
            "POST",
            SOS,
            {"data": b"x", "headers": {**device_headers(other), "Content-Type": "text/plain"}},
            415,
            "json_required",
        ),
        (
            "POST",
            SOS,
            {"json": {"text": "x" * 70_000}, "headers": device_headers(other)},
            413,
            "payload_too_large",
        ),
        ("GET", f"{SOS}/{mine['id']}", {"headers": device_headers(other)}, 404, "sos_not_found"),
        (
            "POST",
            f"{SOS}/{mine['id']}/location",
            {"json": {"lat": 1, "lon": 1}, "headers": device_headers(other)},
            404,
            "sos_not_found",
        ),
        (
            "POST",
            f"{SOS}/{mine['id']}/location",
            {"json": {"lat": 1}, "headers": device_headers(token)},
            422,
            "invalid_location",
        ),
        (
            "GET",
            "/api/v1/app/history?limit=0",
            {"headers": device_headers(token)},
            422,
            "invalid_limit",
        ),
        (
            "GET",
            "/api/v1/app/history",
            {"headers": {"X-Api-Key": APP_KEY}},
            401,
            "device_token_required",
        ),
        (
            "POST",
            "/api/v1/app/devices",
            {"json": {"device_id": "x"}, "headers": {"X-Api-Key": APP_KEY}},
            422,
            "invalid_device_id",
        ),
    ]
    for method, path, kwargs, status, eid in cases:
        got, body = await call(center, method, path, **kwargs)
        assert (got, error_id(body)) == (status, eid), (method, path, body)
    assert [e.contact_id for e in await center.container.store.waiting()] == [mine["id"]]
    # live location updates are rate limited per device (the refused one above counted)
    for i in range(4):
        got, _ = await call(
            center,
            "POST",
            f"{SOS}/{mine['id']}/location",
            json={"lat": 43.2 + i / 1000, "lon": 76.9},
            headers=device_headers(token),
        )
        assert got == 200
    got, body = await call(
        center,
        "POST",
        f"{SOS}/{mine['id']}/location",
        json={"lat": 43.3, "lon": 76.9},
        headers=device_headers(token),
    )
    assert (got, error_id(body)) == (429, "rate_limited")
    # new SOS contacts are rate limited per device (two per hour here)
    for _ in range(2):
        status, fresh = await sos(center, other)
        assert status == 202
        await call(center, "POST", f"{SOS}/{fresh['id']}/cancel", headers=device_headers(other))
    status, body = await sos(center, other)
    assert (status, error_id(body)) == (429, "rate_limited")


async def test_registrations_are_rate_limited_per_address(tmp_path: Path) -> None:
    settings = device_settings(tmp_path)
    app = AppChannelSettings(api_keys=APP_KEY, registrations_per_minute_per_address=2)
    center = await start_center(settings.model_copy(update={"app": app}))
    try:
        await register_device(center, "device-rate-0001")
        await register_device(center, "device-rate-0002")
        status, body = await call(
            center,
            "POST",
            "/api/v1/app/devices",
            json={"device_id": "device-rate-0003"},
            headers={"X-Api-Key": APP_KEY},
        )
        assert (status, error_id(body)) == (429, "rate_limited")
    finally:
        await center.client.close()
