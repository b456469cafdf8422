"""SOS kiosks over real HTTP: signed heartbeats, kiosk.offline / kiosk.online on the supervisor
WebSocket, tamper events, the SOS button, and every way a request is refused."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from contact.channels.kiosk.client import KioskClient
from contact.domain.model import ChannelKind, ContactState, LocationSource, Priority, Role
from contact.ports import KioskState
from tests.integration.device_support import (
    KIOSK_KEY,
    add_kiosk,
    call,
    device_settings,
    error_id,
)
from tests.support import Center, start_center


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    settings = device_settings(
        tmp_path,
        kiosk={"heartbeat_interval_s": 0.2, "monitor_tick_s": 0.05, "missed_heartbeats": 3},
    )
    running = await start_center(settings)
    yield running
    await running.client.close()


@pytest.fixture
async def kiosk(center: Center) -> AsyncIterator[KioskClient]:
    client = await add_kiosk(center)
    yield client
    await client._session.close()


async def test_heartbeat_loss_raises_kiosk_offline_for_supervisors(
    center: Center, kiosk: KioskClient
) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    await boss.connect()
    try:
        status, body = await kiosk.heartbeat({"door": "closed"})
        assert (status, body["state"]) == (200, "online"), body
        started = time.monotonic()
        offline = await boss.next_event("kiosk.offline", "supervisor", within_s=5)
        silent = time.monotonic() - started
        assert offline["data"]["kiosk"]["id"] == "park-01"
        assert offline["data"]["kiosk"]["name"] == "Киоск park-01"
        assert offline["data"]["kiosk"]["state"] == "offline"
        assert offline["data"]["silent_s"] >= 0.6  # three missed heartbeats of 0.2 s
        assert silent >= 0.45
        stored = await center.container.db.registries.kiosks.get("park-01")
        assert stored is not None and stored.state == KioskState.OFFLINE

        status, _ = await kiosk.heartbeat()
        assert status == 200
        online = await boss.next_event("kiosk.online", "supervisor", within_s=5)
        assert online["data"]["kiosk"]["state"] == "online"

        # one offline per silence: no second event while it stays silent after going offline
        listing = await boss.get("/api/v1/kiosks")
        assert [k["id"] for k in listing["kiosks"]] == ["park-01"]
    finally:
        await boss.close()


async def test_tamper_event_reaches_supervisors_and_is_stored(
    center: Center, kiosk: KioskClient
) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    await boss.connect()
    try:
        status, body = await kiosk.event("door_open", "дверца открыта")
        assert status == 202, body
        pushed = await boss.next_event("kiosk.alerted", "supervisor")
        assert pushed["data"]["kind"] == "door_open" and pushed["data"]["event_id"] == body["id"]
        events = await center.container.db.registries.kiosks.events("park-01")
        assert [e.kind for e in events] == ["door_open"]
    finally:
        await boss.close()


async def test_sos_button_over_http(center: Center, kiosk: KioskClient) -> None:
    status, body = await kiosk.sos("press-1")
    assert status == 202, body
    contact = await center.container.db.contacts.get(body["id"])
    assert contact.channel is ChannelKind.KIOSK and contact.priority is Priority.SOS
    assert contact.state is ContactState.QUEUED and contact.citizen == "kiosk:park-01"
    assert contact.location is not None and contact.location.source is LocationSource.FIXED
    assert (contact.location.lat, contact.location.lon) == (43.2567, 76.9286)
    waiting = await center.container.store.waiting()
    assert [e.contact_id for e in waiting] == [body["id"]]
    # a second press while it is open joins it (a message for the operator, no new contact)
    status, again = await kiosk.sos("press-2")
    assert (status, again["id"], again["joined"]) == (200, body["id"], True)
    assert len(await center.container.db.contacts.messages(body["id"])) == 2
    source = await center.container.db.registries.sources.get(body["id"])
    assert source is not None and source.camera_ids == ("cam-park-01",)


async def test_refusals(center: Center, kiosk: KioskClient) -> None:
    path = "/api/v1/kiosks/park-01/heartbeat"
    session = kiosk._session

    async def post(headers: dict[str, str], data: bytes = b"", url: str = path) -> tuple[int, str]:
        async with session.post(center.url + url, data=data, headers=headers) as r:
            body = await r.json()
            return r.status, error_id(body) if r.status >= 400 else ""

    assert await post({}) == (401, "signature_required")
    assert await post({"X-Timestamp": "x", "X-Signature": "y"}) == (401, "malformed_signature")
    wrong = KioskClient(session, center.url, "park-01", "another-key-" + "9" * 52)
    assert await post(wrong.signed(path, b"")) == (401, "bad_signature")
    stale = kiosk.signed(path, b"", timestamp=int(time.time()) - 3600)
    assert await post(stale) == (401, "stale_timestamp")
    unknown = KioskClient(session, center.url, "nobody", KIOSK_KEY)
    other_path = "/api/v1/kiosks/nobody/heartbeat"
    assert await post(unknown.signed(other_path, b""), url=other_path) == (401, "unknown_kiosk")
    signed = kiosk.signed(path, b"")
    assert (await post(signed))[0] == 200
    assert await post(signed) == (403, "replayed_request")
    # a heartbeat's signature is no button press
    sos_path = "/api/v1/kiosks/park-01/sos"
    assert await post(kiosk.signed(path, b""), url=sos_path) == (401, "bad_signature")
    big = b'{"x":"' + b"a" * 20_000 + b'"}'
    assert await post(kiosk.signed(path, big), big) == (413, "payload_too_large")
    headers = {**kiosk.signed(path, b"<xml/>"), "Content-Type": "text/xml"}
    assert await post(headers, b"<xml/>") == (415, "json_required")
    assert await post(kiosk.signed(path, b"{nope"), b"{nope") == (400, "bad_json")
    deep = b"[" * 10_000
    assert await post(kiosk.signed(path, deep), deep) == (400, "bad_json")
    ev_path = "/api/v1/kiosks/park-01/events"
    body = b'{"kind": "meteor"}'
    assert await post(kiosk.signed(ev_path, body), body, ev_path) == (422, "invalid_kind")
    await add_kiosk(center, enabled=False)  # the same kiosk, now disabled
    assert await post(kiosk.signed(path, b"")) == (403, "kiosk_disabled")
    assert await center.container.store.waiting() == []


async def test_rate_limit_per_kiosk(tmp_path: Path) -> None:
    center = await start_center(
        device_settings(tmp_path, kiosk={"requests_per_minute_per_kiosk": 3})
    )
    first = await add_kiosk(center, "k-1")
    second = await add_kiosk(center, "k-2")
    try:
        for _ in range(3):
            assert (await first.heartbeat())[0] == 200
        status, body = await first.heartbeat()
        assert (status, error_id(body)) == (429, "rate_limited")
        assert (await second.heartbeat())[0] == 200  # other kiosks are not affected
    finally:
        await first._session.close()
        await second._session.close()
        await center.client.close()


async def test_registry_listing_is_for_supervisors(center: Center, kiosk: KioskClient) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    try:
        await op.get("/api/v1/kiosks", status=403)
    finally:
        await op.close()
    status, body = await call(center, "GET", "/api/v1/kiosks")
    assert (status, error_id(body)) == (401, "login_required")
    async with aiohttp.ClientSession() as s, s.get(center.url + "/api/v1/kiosks/park-01/sos") as r:
        assert r.status == 405
