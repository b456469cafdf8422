"""WhatsApp end to end: the Graph API stand-in (real HTTP) plays Meta and the citizen, the real
center plays itself, and an operator works the contact through the REST API and WebSocket."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contact.channels.chat.runtime import CHAT_PART
from contact.channels.whatsapp.routes import WHATSAPP_PART, WhatsAppRuntime
from contact.domain.model import ChannelKind, Language
from tests.integration.chat_support import chat_settings, chat_store
from tests.standins.whatsapp import VERIFY_TOKEN, GraphApiStandIn, sign
from tests.support import Browser, Center, start_center

PHONE = "77011234567"
USER_ID = "KZ.1349865317592640"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 16


@pytest.fixture
async def graph() -> AsyncIterator[GraphApiStandIn]:
    standin = GraphApiStandIn()
    await standin.start()
    yield standin
    await standin.stop()


async def wa_center(tmp_path: Path, graph: GraphApiStandIn, **whatsapp: Any) -> Center:
    return await start_center(chat_settings(tmp_path, whatsapp_url=graph.url, whatsapp=whatsapp))


@pytest.fixture
async def center(tmp_path: Path, graph: GraphApiStandIn) -> AsyncIterator[Center]:
    running = await wa_center(tmp_path, graph)
    yield running
    await running.client.close()


def rt(center: Center) -> WhatsAppRuntime:
    found = center.container.get(WHATSAPP_PART)
    assert isinstance(found, WhatsAppRuntime)
    return found


async def settle(center: Center) -> None:
    await rt(center).processor.drained(10)
    await rt(center).outbox.drained(10)


async def post(
    center: Center, graph: GraphApiStandIn, messages: list[dict[str, Any]], contact: dict[str, Any]
) -> tuple[int, Any]:
    return await graph.post(
        f"{center.url}/webhooks/whatsapp", graph.notification(messages, [contact])
    )


async def operator(center: Center) -> Browser:
    await center.add_operator("dana")
    op = await center.browser("dana")
    await op.connect()
    await op.ready()
    return op


async def test_verification_handshake(center: Center) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    async with center.client.get("/webhooks/whatsapp", params=query) as r:
        assert r.status == 200 and await r.text() == "1158201444"
    async with center.client.get(
        "/webhooks/whatsapp", params={**query, "hub.verify_token": "wrong"}
    ) as r:
        assert r.status == 403 and (await r.json())["error"]["id"] == "bad_verify_token"
    async with center.client.get("/webhooks/whatsapp", params={"hub.mode": "subscribe"}) as r:
        assert r.status == 400 and (await r.json())["error"]["id"] == "bad_verification"


async def test_message_to_operator_reply_and_statuses(
    center: Center, graph: GraphApiStandIn
) -> None:
    op = await operator(center)
    citizen = graph.sender(wa_id=PHONE, user_id=USER_ID)
    status, body = await post(center, graph, [graph.text(citizen, "Украли сумку на Абая")], citizen)
    assert (status, body["stored"]) == (200, 1)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    assert offer["data"]["contact"]["channel"] == "whatsapp"
    assert offer["data"]["contact"]["citizen"] == USER_ID  # keyed on the user id

    # the report number, the advice to call 102, and the language buttons
    number = contact_id[:8].upper()
    notice = await graph.wait_sent(lambda m: number in json.dumps(m, ensure_ascii=False))
    assert notice["recipient"] == USER_ID
    assert notice["type"] == "interactive"
    assert "102" in notice["interactive"]["body"]["text"]
    ids = [b["reply"]["id"] for b in notice["interactive"]["action"]["buttons"]]
    assert ids == ["lang:kk", "lang:ru"]

    # the citizen picks Russian, then follows up with a location, a photo and a voice note
    await post(center, graph, [graph.button_reply(citizen, "lang:ru", "Русский")], citizen)
    place = graph.location(citizen, 43.2567, 76.9286, name="ТРЦ", address="Абая 44")
    await post(center, graph, [place], citizen)
    await post(center, graph, [graph.image(citizen, JPEG, caption="вор")], citizen)
    voice = b"OggS" + bytes(2000)
    await post(center, graph, [graph.audio(citizen, voice)], citizen)
    await settle(center)
    chosen = await chat_store(center).conversation(ChannelKind.WHATSAPP, USER_ID)
    assert chosen is not None and chosen.language is Language.RU and chosen.language_chosen

    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await graph.wait_sent(lambda m: "принял" in json.dumps(m, ensure_ascii=False))
    detail = await op.get(f"/api/v1/contacts/{contact_id}")
    assert [m["text"] for m in detail["messages"]] == [
        "Украли сумку на Абая",
        "[геопозиция]",
        "[фото] вор",
        "[голосовое сообщение]",
    ]
    assert detail["location"]["address"] == "ТРЦ, Абая 44"
    assert [(a["media_type"], a["sha256"]) for a in detail["attachments"]] == [
        ("image/jpeg", hashlib.sha256(JPEG).hexdigest()),
        ("audio/ogg", hashlib.sha256(voice).hexdigest()),
    ]

    assert op.ws is not None
    await op.ws.send_json({"op": "subscribe", "topic": f"contact:{contact_id}"})
    reply = await op.post(
        f"/api/v1/contacts/{contact_id}/reply", {"text": "Наряд в пути"}, status=201
    )
    sent = await graph.wait_sent(lambda m: m.get("text", {}).get("body") == "Наряд в пути")
    assert sent["recipient"] == USER_ID
    accepted = await op.next_event("message.delivery_changed", f"contact:{contact_id}")
    while accepted["data"]["message_id"] != reply["id"]:
        accepted = await op.next_event("message.delivery_changed", f"contact:{contact_id}")
    assert accepted["data"]["status"] == "accepted"

    # Meta's callbacks, out of order: read before delivered; the late one does not go back
    for state in ("sent", "read", "delivered"):
        await graph.post(
            f"{center.url}/webhooks/whatsapp",
            graph.notification(statuses=[graph.status(sent["id"], state, PHONE)]),
        )
        await settle(center)
    [stored] = [d for d in await chat_store(center).deliveries(contact_id) if d.id == reply["id"]]
    assert stored.status == "read" and stored.external_id == sent["id"]
    seen = [
        await op.next_event("message.delivery_changed", f"contact:{contact_id}") for _ in range(2)
    ]
    assert [e["data"]["status"] for e in seen] == ["sent", "read"]

    await op.post(f"/api/v1/contacts/{contact_id}/close", {})
    await graph.wait_sent(lambda m: "закрыто" in json.dumps(m, ensure_ascii=False))
    await op.close()


async def test_username_only_sender_and_failed_delivery(
    center: Center, graph: GraphApiStandIn
) -> None:
    op = await operator(center)
    hidden = graph.sender(user_id=USER_ID, name="night_owl")  # no phone number anywhere
    await post(center, graph, [graph.text(hidden, "Меня преследуют")], hidden)
    contact_id = (await op.next_offer(within_s=10))["data"]["contact"]["id"]
    contact = await center.container.db.contacts.get(contact_id)
    assert contact.citizen == USER_ID
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    assert op.ws is not None
    await op.ws.send_json({"op": "subscribe", "topic": f"contact:{contact_id}"})
    reply = await op.post(f"/api/v1/contacts/{contact_id}/reply", {"text": "Где вы?"}, status=201)
    sent = await graph.wait_sent(lambda m: m.get("text", {}).get("body") == "Где вы?")
    assert sent["recipient"] == USER_ID and "to" not in sent

    failure = graph.status(
        sent["id"],
        "failed",
        USER_ID,
        errors=[
            {"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable"}
        ],
    )
    status, _ = await graph.post(
        f"{center.url}/webhooks/whatsapp", graph.notification(statuses=[failure])
    )
    assert status == 200
    change = await op.next_event("message.delivery_changed", f"contact:{contact_id}")
    while change["data"]["message_id"] != reply["id"] or change["data"]["status"] != "failed":
        change = await op.next_event("message.delivery_changed", f"contact:{contact_id}")
    assert "131026" in change["data"]["error"]
    assert "undeliverable" in change["data"]["error"]
    await op.close()


async def test_the_24_hour_window_and_the_template(tmp_path: Path, graph: GraphApiStandIn) -> None:
    center = await wa_center(tmp_path, graph, template_name="report_update")
    try:
        op = await operator(center)
        citizen = graph.sender(wa_id=PHONE)  # an older payload: no user id, the phone number
        await post(center, graph, [graph.text(citizen, "Шумят соседи")], citizen)
        contact_id = (await op.next_offer(within_s=10))["data"]["contact"]["id"]
        await op.post(f"/api/v1/contacts/{contact_id}/accept")
        await settle(center)
        # the citizen's last message was 25 hours ago
        store = center.container.get(CHAT_PART).store  # the node's cache writes through
        conversation = await store.conversation(ChannelKind.WHATSAPP, PHONE)
        assert conversation is not None
        old = datetime.now(UTC) - timedelta(hours=25)
        await store.save_conversation(replace(conversation, last_inbound_at=old), datetime.now(UTC))
        await op.post(f"/api/v1/contacts/{contact_id}/reply", {"text": "Наряд\nвыехал"}, status=201)
        sent = await graph.wait_sent(lambda m: m.get("type") == "template")
        assert sent["to"] == PHONE
        assert sent["template"]["name"] == "report_update"
        assert sent["template"]["components"][0]["parameters"][0]["text"] == "Наряд выехал"

        # Meta says the window is closed although our clock thinks it is open: template too
        graph.outside_window.add(PHONE)
        await post(center, graph, [graph.text(citizen, "Они ушли")], citizen)
        await settle(center)
        await op.post(f"/api/v1/contacts/{contact_id}/reply", {"text": "Понял"}, status=201)
        again = await graph.wait_sent(
            lambda m: (
                m.get("type") == "template"
                and m["template"]["components"][0]["parameters"][0]["text"] == "Понял"
            )
        )
        assert again["to"] == PHONE
        await op.close()
    finally:
        await center.client.close()


async def test_outside_the_window_without_a_template_fails_visibly(
    center: Center, graph: GraphApiStandIn
) -> None:
    op = await operator(center)
    citizen = graph.sender(wa_id=PHONE, user_id=USER_ID)
    graph.outside_window.add(USER_ID)
    await post(center, graph, [graph.text(citizen, "Помогите")], citizen)
    contact_id = (await op.next_offer(within_s=10))["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    reply = await op.post(f"/api/v1/contacts/{contact_id}/reply", {"text": "Здесь"}, status=201)
    await settle(center)
    [stored] = [d for d in await chat_store(center).deliveries(contact_id) if d.id == reply["id"]]
    assert stored.status == "failed" and "131047" in (stored.error or "")
    await op.close()


async def test_media_with_a_wrong_sha256_is_refused(center: Center, graph: GraphApiStandIn) -> None:
    citizen = graph.sender(wa_id=PHONE, user_id=USER_ID)
    forged = graph.image(citizen, JPEG, caption="фото", sha256="0" * 64)
    await post(center, graph, [forged], citizen)
    await settle(center)
    [entry] = await center.container.store.waiting()
    contacts = center.container.db.contacts
    assert await contacts.attachments(entry.contact_id) == []
    [message] = await contacts.messages(entry.contact_id)
    assert message.text.startswith("[фото] фото [вложение не получено: image: sha256 mismatch")


async def test_webhook_auth_limits_dedupe_and_batches(
    tmp_path: Path, graph: GraphApiStandIn
) -> None:
    center = await wa_center(tmp_path, graph, messages_per_minute_per_citizen=3)
    url = f"{center.url}/webhooks/whatsapp"
    try:
        citizen = graph.sender(wa_id=PHONE, user_id=USER_ID)
        first = graph.text(citizen, "раз")
        note = graph.notification([first], [citizen])
        status, body = await graph.post(url, note, signature=None)
        assert (status, body["error"]["id"]) == (401, "missing_signature")
        status, body = await graph.post(url, note, signature="sha256=" + "0" * 64)
        assert (status, body["error"]["id"]) == (403, "bad_signature")
        # the signature is over the raw bytes: the same JSON re-serialised does not pass
        raw = json.dumps(note).encode()
        respaced = json.dumps(note, indent=1).encode()
        status, body = await graph.post(url, respaced, signature=sign(raw))
        assert status == 403
        status, body = await graph.post(url, b"[1,2", signature=sign(b"[1,2"))
        assert (status, body["error"]["id"]) == (400, "bad_json")
        status, body = await graph.post(url, b"[]", signature=sign(b"[]"))
        assert (status, body["error"]["id"]) == (422, "not_an_object")
        status, body = await graph.post(url, b"{}", content_type="text/plain")
        assert (status, body["error"]["id"]) == (415, "json_required")
        huge = json.dumps({"object": "x", "pad": "y" * (1024 * 1024)}).encode()
        status, body = await graph.post(url, huge)
        assert (status, body["error"]["id"]) == (413, "payload_too_large")

        assert (await graph.post(url, note))[1] == {"ok": True, "stored": 1, "duplicates": 0}
        assert (await graph.post(url, note))[1] == {"ok": True, "stored": 0, "duplicates": 1}

        # one POST, two citizens: one over the limit → 429, the other's message is stored
        other = graph.sender(wa_id="77020000000", user_id="KZ.22")
        batch = graph.notification(
            [
                graph.text(citizen, "два"),
                graph.text(citizen, "три"),
                graph.text(citizen, "четыре"),
                graph.text(other, "я свидетель"),
            ],
            [citizen, other],
        )
        status, body = await graph.post(url, batch)
        assert (status, body["error"]["id"]) == (429, "rate_limited")
        await settle(center)
        by_citizen = {
            c.citizen: [m.text for m in await center.container.db.contacts.messages(c.id)]
            for c in await center.container.db.contacts.recent()
        }
        assert by_citizen == {USER_ID: ["раз", "два", "три"], "KZ.22": ["я свидетель"]}
    finally:
        await center.client.close()


async def test_a_phone_number_citizen_who_gets_a_user_id_stays_one_conversation(
    center: Center, graph: GraphApiStandIn
) -> None:
    before = graph.sender(wa_id=PHONE)
    await post(center, graph, [graph.text(before, "Первое")], before)
    await settle(center)
    after = graph.sender(wa_id=PHONE, user_id=USER_ID)
    await post(center, graph, [graph.text(after, "Второе")], after)
    await settle(center)
    [entry] = await center.container.store.waiting()
    texts = [m.text for m in await center.container.db.contacts.messages(entry.contact_id)]
    assert texts == ["Первое", "Второе"]
    conversation = await chat_store(center).conversation(ChannelKind.WHATSAPP, PHONE)
    assert conversation is not None and conversation.user_id == USER_ID


async def test_openapi_documents_both_webhooks(tmp_path: Path, graph: GraphApiStandIn) -> None:
    from openapi_spec_validator import validate

    from tests.standins.telegram import BotApiStandIn

    bot_api = BotApiStandIn()
    await bot_api.start()
    both = await start_center(
        chat_settings(tmp_path, telegram_url=bot_api.url, whatsapp_url=graph.url)
    )
    try:
        async with both.client.get("/api/v1/openapi.json") as r:
            served = await r.json()
        validate(served)
        app = both.client.app
        assert app is not None
        for resource in app.router.resources():
            path = resource.canonical
            if not path.startswith("/webhooks/"):
                continue
            for route in resource:
                if route.method not in ("HEAD", "*"):
                    assert route.method.lower() in served["paths"][path], (route.method, path)
        assert set(served["paths"]["/webhooks/whatsapp"]) == {"get", "post"}
        assert set(served["paths"]["/webhooks/telegram"]) == {"post"}
    finally:
        await both.client.close()
        await bot_api.stop()
