"""The operator workspace API on a whole center: queue previews, a caller's history, the place in
words through a stand-in geocoder (cache, timeout, back-off, fallback to the district and the
nearest kiosk), quick replies edited by admins and audited, incident type and outcome on close."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from contact.channels.chat.ports import Conversation
from contact.channels.chat.sql import SqlChatStore
from contact.config import GeocoderSettings
from contact.domain.commands import Abandon, RegisterContact
from contact.domain.model import ChannelKind, Language, Location, LocationSource, Role
from contact.http.place import FAILURE_BACKOFF_S, HttpReverseGeocoder
from contact.persistence.transcripts import Segment, SqlTranscriptStore
from contact.ports import Kiosk
from tests.integration.dispatch_support import SCENE, load_city
from tests.standins.places import PlaceServer, place_server
from tests.support import Browser, Center, make_settings, start_center

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def places() -> AsyncIterator[PlaceServer]:
    async with place_server() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="module")
async def center(tmp_path: Path, places: PlaceServer) -> AsyncIterator[Center]:
    settings = make_settings(tmp_path).model_copy(
        update={"geocoder": GeocoderSettings(url=places.url, timeout_s=0.5)}
    )
    running = await start_center(settings)
    try:
        await load_city(running)
        yield running
    finally:
        await running.client.close()


async def call(b: Browser, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    kw: dict[str, Any] = {"headers": {"X-CSRF-Token": b.csrf}}
    if body is not None:
        kw["json"] = body
    async with b.session.request(method, path, **kw) as r:
        return r.status, await r.json(content_type=None)


async def taken(center: Center, b: Browser, contact_id: str) -> None:
    """b goes ready and accepts the contact offered."""
    await b.ready()
    for _ in range(100):  # the offer is made by the routing tick
        _, page = await call(b, "GET", "/api/v1/queue")
        if page["offered_to_me"] and page["offered_to_me"]["id"] == contact_id:
            # the page's countdown survives a reload: the offer's end comes with the queue
            ends = datetime.fromisoformat(page["offer_expires_at"])
            assert datetime.now(UTC) < ends <= datetime.now(UTC) + timedelta(seconds=16)
            break
        await asyncio.sleep(0.05)
    status, body = await call(b, "POST", f"/api/v1/contacts/{contact_id}/accept")
    assert status == 200, body


async def test_previews_history_and_close_with_type_and_outcome(center: Center) -> None:
    await center.add_operator("aigerim")
    b = await center.browser("aigerim")
    try:
        device = "device-ws-01"
        old = await center.report("Шумят соседи", device_id=device, language="ru")
        await center.container.bus.execute(Abandon(contact_id=old))
        new = await center.report(
            "Во дворе драка", device_id=device, language="ru",
            location={"lat": SCENE.lat, "lon": SCENE.lon, "accuracy_m": 30},
        )  # fmt: skip
        other = await center.report("Украли велосипед", device_id="device-ws-02")
        status, body = await call(b, "GET", f"/api/v1/queue/previews?ids={new},{other},{old},x%27")
        assert status == 200
        shown = body["previews"]
        assert set(shown) == {new, other}  # the abandoned one waits no more: no preview
        assert shown[new]["snippet"] == "Во дворе драка"
        assert shown[new]["caller"] == {"kind": "device", "id": device, "name": None}
        assert shown[new]["district"]["name_ru"] == "Алмалинский район"
        assert "outline" not in shown[new]["district"]
        assert shown[other]["district"] is None
        audit = await center.container.db.audit.entries(limit=20)
        preview = next(e for e in audit if e.action == "queue.preview")
        assert preview.details["contact_ids"] == sorted([new, other])
        # a call has no text: its row shows the caller's first transcribed words
        voice = await center.container.bus.execute(
            RegisterContact(channel=ChannelKind.VOICE, text="", citizen="+77017770000")
        )
        store = SqlTranscriptStore(center.container.db._store)
        await store.prepare()
        at = datetime.now(UTC)
        for n, (who, said) in enumerate(
            [
                ("operator", "Полиция, слушаю"),
                ("caller", "Алло, у нас"),
                ("caller", "пожар в подъезде"),
            ]
        ):
            await store.add(
                Segment(
                    f"seg-{n}",
                    voice.contact_id,
                    who,
                    "ru",
                    said,
                    (),
                    n,
                    n + 1,
                    0.9,
                    at,
                    at + timedelta(seconds=n),
                )
            )
        _, body = await call_api(b, f"/api/v1/queue/previews?ids={voice.contact_id}")
        heard = body["previews"][voice.contact_id]
        assert heard["snippet"] == "Алло, у нас пожар в подъезде"
        assert heard["snippet_source"] == "transcript"
        assert heard["caller"] == {"kind": "number", "id": "+77017770000", "name": None}
        # a messenger user: the name they go by, beside the chat's key
        chat = await center.container.bus.execute(
            RegisterContact(channel=ChannelKind.TELEGRAM, text="Помогите", citizen="tg:4242")
        )
        await SqlChatStore(center.container.db.store).save_conversation(
            Conversation(ChannelKind.TELEGRAM, "tg:4242", "4242", at, display_name="Айгуль Б."),
            at,
        )
        _, body = await call_api(b, f"/api/v1/queue/previews?ids={chat.contact_id}")
        assert body["previews"][chat.contact_id]["caller"] == {
            "kind": "handle",
            "id": "tg:4242",
            "name": "Айгуль Б.",
        }

        await taken(center, b, new)
        status, history = await call(b, "GET", f"/api/v1/contacts/{new}/history")
        assert status == 200
        assert [h["id"] for h in history["contacts"]] == [old]
        assert history["contacts"][0]["state"] == "abandoned"
        # someone else's contact: not hers to read
        status, _ = await call(b, "GET", f"/api/v1/contacts/{other}/history")
        assert status == 403

        # close: both lists or neither; the pair is the disposition
        status, body = await call(
            b, "POST", f"/api/v1/contacts/{new}/close", {"incident_type": "violence"}
        )
        assert (status, body["error"]["id"]) == (422, "invalid_outcome")
        status, lists = await call(b, "GET", "/api/v1/close-lists")
        assert "violence" in lists["incident_types"] and "advised" in lists["outcomes"]
        status, _ = await call(
            b, "POST", f"/api/v1/contacts/{new}/close",
            {"incident_type": "violence", "outcome": "unit_dispatched"},
        )  # fmt: skip
        assert status == 200
        assert (await center.container.db.contacts.get(new)).disposition == (
            "violence/unit_dispatched"
        )
    finally:
        await b.session.close()


async def test_history_is_bounded_to_the_latest_ten(center: Center) -> None:
    await center.add_operator("dana")
    b = await center.browser("dana")
    try:
        bus = center.container.bus
        number = "+77015550000"
        for _ in range(14):
            r = await bus.execute(
                RegisterContact(channel=ChannelKind.VOICE, text="", citizen=number)
            )
            await bus.execute(Abandon(contact_id=r.contact_id))
        now = await bus.execute(RegisterContact(channel=ChannelKind.VOICE, text="", citizen=number))
        await taken(center, b, now.contact_id)
        status, history = await call(b, "GET", f"/api/v1/contacts/{now.contact_id}/history")
        assert status == 200 and history["limit"] == 10
        got = history["contacts"]
        assert len(got) == 10
        stamps = [h["created_at"] for h in got]
        assert stamps == sorted(stamps, reverse=True)  # newest first
        assert now.contact_id not in {h["id"] for h in got}
    finally:
        await b.session.close()


async def test_place_from_the_geocoder_cached_and_its_fallbacks(
    center: Center, places: PlaceServer
) -> None:
    await center.add_operator("marat")
    kiosk_at = Location(SCENE.lat + 0.0009, SCENE.lon, 5.0, LocationSource.FIXED)
    await center.container.db.registries.kiosks.upsert(
        [Kiosk("K-PARK-1", "SOS в парке", kiosk_at.lat, kiosk_at.lon, address="парк Панфилова")],
        {"K-PARK-1": "k" * 32},
        at=datetime.now(UTC),
    )
    b = await center.browser("marat")
    try:
        where = Location(SCENE.lat, SCENE.lon, 40.0, LocationSource.NETWORK)
        r = await center.container.bus.execute(
            RegisterContact(channel=ChannelKind.VOICE, text="", citizen="+77011112233",
                            language=Language.RU, location=where)
        )  # fmt: skip
        cid = r.contact_id
        await taken(center, b, cid)
        before = len(places.reverse_hits)
        status, place = await call(b, "GET", f"/api/v1/contacts/{cid}/place?lang=kk")
        assert status == 200
        assert place["address"] == "проспект Абая 10, Алматы"
        assert place["address_source"] == "geocoder"
        assert places.reverse_hits[-1]["accept-language"] == "kk"
        assert place["district"]["name_kk"] and place["district"]["outline"][0][0] == [
            pytest.approx(place["district"]["outline"][0][0][0]),
            pytest.approx(place["district"]["outline"][0][0][1]),
        ]
        assert place["nearest"]["kind"] in {"camera", "kiosk"}
        # the same place again: from the cache, the geocoder is not asked
        await call(b, "GET", f"/api/v1/contacts/{cid}/place?lang=kk")
        assert len(places.reverse_hits) == before + 1

        # a slow geocoder: the answer comes within its timeout, with the district instead
        places.delay_s = 3.0
        status, slow = await timed(b, f"/api/v1/contacts/{cid}/place?lang=ru", limit_s=1.5)
        assert status == 200 and slow["address"] is None
        assert slow["district"]["name_ru"] == "Алмалинский район"
        # and it is left alone for a while: no waiting on it again
        status, rest = await timed(b, f"/api/v1/contacts/{cid}/place?lang=ru", limit_s=0.4)
        assert status == 200 and rest["address"] is None
        places.delay_s = 0.0
    finally:
        await b.session.close()


async def call_api(b: Browser, path: str) -> tuple[int, Any]:
    return await call(b, "GET", path)


async def timed(b: Browser, path: str, limit_s: float) -> tuple[int, Any]:
    started = time.monotonic()
    result = await call(b, "GET", path)
    took = time.monotonic() - started
    assert took < limit_s, f"{path} took {took:.2f} s"
    return result


async def test_quick_replies_are_admins_to_edit_and_every_edit_is_audited(center: Center) -> None:
    await center.add_operator("admin", role=Role.ADMIN)
    await center.add_operator("nurlan")
    admin = await center.browser("admin")
    op = await center.browser("nurlan")
    try:
        status, listed = await call(op, "GET", "/api/v1/quick-replies")
        assert status == 200
        langs = {r["language"] for r in listed["replies"]}
        assert langs == {"kk", "ru"}  # the first set, from the migration
        new = {"language": "kk", "label": "Күтіңіз", "text": "Біраз күтіңіз.", "position": 9}
        status, body = await call(op, "POST", "/api/v1/admin/quick-replies", new)
        assert status == 403
        status, made = await call(admin, "POST", "/api/v1/admin/quick-replies", new)
        assert status == 201 and made["label"] == "Күтіңіз"
        status, body = await call(
            admin, "POST", "/api/v1/admin/quick-replies", {**new, "language": "en"}
        )
        assert (status, body["error"]["id"]) == (422, "invalid_language")
        changed = {**new, "text": "Біраз күте тұрыңыз."}
        status, _ = await call(admin, "PUT", f"/api/v1/admin/quick-replies/{made['id']}", changed)
        assert status == 200
        _, listed = await call(op, "GET", "/api/v1/quick-replies")
        assert {"id": made["id"], **changed} in listed["replies"]
        status, _ = await call(admin, "DELETE", f"/api/v1/admin/quick-replies/{made['id']}")
        assert status == 200
        status, body = await call(admin, "DELETE", f"/api/v1/admin/quick-replies/{made['id']}")
        assert (status, body["error"]["id"]) == (404, "quick_reply_not_found")
        trail = await center.container.db.audit.entries(made["id"])
        assert [e.action for e in reversed(trail)] == [
            "quick_reply.create",
            "quick_reply.update",
            "quick_reply.delete",
        ]
        update = next(e for e in trail if e.action == "quick_reply.update")
        assert update.details["before"]["text"] == "Біраз күтіңіз."
        assert update.details["after"]["text"] == "Біраз күте тұрыңыз."
    finally:
        await admin.session.close()
        await op.session.close()


async def test_the_geocoder_port_speaks_photon_and_rests_after_a_failure(
    places: PlaceServer,
) -> None:
    """The adapter alone against the stand-in: Photon's answer, a bounded cache, a broken
    server answered by None at once and left alone for its back-off."""
    now = [1000.0]
    photon = HttpReverseGeocoder(
        GeocoderSettings(url=places.url, kind="photon", cache_size=2), clock=lambda: now[0]
    )
    try:
        assert await photon.reverse(43.2, 76.9, "ru") == "проспект Абая 10, Алматы"
        assert places.reverse_hits[-1] == {"lat": "43.2", "lon": "76.9", "lang": "ru", "limit": "1"}
        await photon.reverse(43.21, 76.9, "ru")
        await photon.reverse(43.22, 76.9, "ru")  # the first one falls out of the cache (2 kept)
        asked = photon.asked
        await photon.reverse(43.22, 76.9, "ru")
        assert photon.asked == asked  # cached
        await photon.reverse(43.2, 76.9, "ru")
        assert photon.asked == asked + 1  # evicted, asked again
        places.broken = True
        assert await photon.reverse(43.3, 76.9, "ru") is None
        asked = photon.asked
        assert await photon.reverse(43.31, 76.9, "ru") is None
        assert photon.asked == asked  # resting: not asked
        now[0] += FAILURE_BACKOFF_S + 1
        places.broken = False
        assert await photon.reverse(43.31, 76.9, "ru") == "проспект Абая 10, Алматы"
        now[0] += 3600 + 1  # the cache expires
        asked = photon.asked
        await photon.reverse(43.31, 76.9, "ru")
        assert photon.asked == asked + 1
    finally:
        places.broken = False
        await photon.close()
