"""Telegram end to end: the Bot API stand-in (real HTTP) plays Telegram and the citizen, the
real center (aiohttp app on a real port, SQLite, in-process queue) plays itself, and an
operator works the contact through the REST API and WebSocket like a browser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from contact.channels.telegram.routes import TELEGRAM_PART, TelegramRuntime
from contact.domain import events as ev
from contact.domain.model import ChannelKind, Language
from tests.integration.chat_support import chat_settings, chat_store
from tests.standins.telegram import BotApiStandIn
from tests.support import Browser, Center, start_center

CHAT = 5_000_001
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 20


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApiStandIn]:
    standin = BotApiStandIn()
    await standin.start()
    yield standin
    await standin.stop()


async def tg_center(tmp_path: Path, bot_api: BotApiStandIn, **telegram: Any) -> Center:
    settings = chat_settings(tmp_path, telegram_url=bot_api.url, telegram=telegram)
    return await start_center(settings)


@pytest.fixture
async def center(tmp_path: Path, bot_api: BotApiStandIn) -> AsyncIterator[Center]:
    running = await tg_center(tmp_path, bot_api)
    yield running
    await running.client.close()


def rt(center: Center) -> TelegramRuntime:
    found = center.container.get(TELEGRAM_PART)
    assert isinstance(found, TelegramRuntime)
    return found


async def settle(center: Center) -> None:
    """Until every stored update is handled and every message to Telegram went out."""
    await rt(center).processor.drained(10)
    await rt(center).outbox.drained(10)


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    for _ in range(int(within_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not come true in time")


async def send(center: Center, bot_api: BotApiStandIn, update: dict[str, Any]) -> int:
    return await bot_api.deliver(update, url=f"{center.url}/webhooks/telegram")


async def delivery_change(op: Browser, contact_id: str, message_id: str) -> dict[str, Any]:
    """The next delivery change of this message pushed on the contact's topic."""
    while True:
        change = await op.next_event("message.delivery_changed", f"contact:{contact_id}")
        if change["data"]["message_id"] == message_id:
            return change


async def operator(center: Center, name: str = "aigerim") -> Browser:
    await center.add_operator(name)
    op = await center.browser(name)
    await op.connect()
    await op.ready()
    return op


async def test_message_to_operator_reply_and_status_notices(
    center: Center, bot_api: BotApiStandIn
) -> None:
    op = await operator(center)
    assert await send(center, bot_api, bot_api.message(CHAT, "Во дворе драка, двое")) == 200
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    assert offer["data"]["contact"]["channel"] == "telegram"
    assert offer["data"]["contact"]["citizen"] == str(CHAT)
    assert offer["data"]["contact"]["summary"] == "Во дворе драка, двое"

    # the citizen is told the report number and to call 102 when life is in danger
    number = contact_id[:8].upper()
    received = await bot_api.wait_sent(lambda m: number in m["text"])
    assert received["chat_id"] == CHAT
    assert "102" in received["text"]

    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await bot_api.wait_sent(lambda m: "принял" in m["text"] and number in m["text"])
    ws_sub = {"op": "subscribe", "topic": f"contact:{contact_id}"}
    assert op.ws is not None
    await op.ws.send_json(ws_sub)

    reply = await op.post(
        f"/api/v1/contacts/{contact_id}/reply", {"text": "Наряд выехал, ждите"}, status=201
    )
    delivered = await bot_api.wait_sent(lambda m: m["text"] == "Наряд выехал, ждите")
    assert delivered["chat_id"] == CHAT
    change = await delivery_change(op, contact_id, reply["id"])
    assert change["data"]["status"] == "sent"

    # follow-ups join the same contact: text, a location, a photo
    await send(center, bot_api, bot_api.message(CHAT, "Они ушли к остановке"))
    await send(center, bot_api, bot_api.location(CHAT, 43.2389, 76.8897, horizontal_accuracy=12))
    await send(center, bot_api, bot_api.photo(CHAT, JPEG, caption="вот он"))
    await settle(center)
    detail = await op.get(f"/api/v1/contacts/{contact_id}")
    texts = [m["text"] for m in detail["messages"]]
    assert texts[0] == "Во дворе драка, двое"
    assert "Они ушли к остановке" in texts
    assert "[фото] вот он" in texts
    assert detail["location"]["lat"] == pytest.approx(43.2389)
    assert detail["location"]["source"] == "shared"
    assert detail["location"]["accuracy_m"] == 12
    [photo] = detail["attachments"]
    assert photo["media_type"] == "image/jpeg" and photo["size"] == len(JPEG)
    async with op.session.get(f"/api/v1/contacts/{contact_id}/attachments/{photo['id']}") as r:
        assert r.status == 200 and await r.read() == JPEG

    # dispatch (its own service) sends a unit: the citizen is told
    await center.container.bus.publish(
        ev.UnitDispatched(
            dispatch_id="d1",
            unit_id="u1",
            callsign="A-12",
            contact_id=contact_id,
            incident_id=None,
            operator_id=op.operator_id,
            eta_s=240.0,
            channel=ChannelKind.TELEGRAM,
            citizen=str(CHAT),
        )
    )
    await bot_api.wait_sent(lambda m: "наряд полиции" in m["text"] and number in m["text"])

    await op.post(f"/api/v1/contacts/{contact_id}/close", {"disposition": "dispatched"})
    await bot_api.wait_sent(lambda m: "закрыто" in m["text"] and number in m["text"])

    # after the close, the next message opens a new contact
    await send(center, bot_api, bot_api.message(CHAT, "Снова шумят"))
    await settle(center)
    conversation = await chat_store(center).conversation(ChannelKind.TELEGRAM, str(CHAT))
    assert conversation is not None and conversation.contact_id not in (None, contact_id)
    again = await center.container.db.contacts.get(conversation.contact_id)
    assert again.channel is ChannelKind.TELEGRAM and again.citizen == str(CHAT)
    assert again.state.value in ("queued", "offered")
    assert [m.text for m in await center.container.db.contacts.messages(again.id)] == [
        "Снова шумят"
    ]
    await op.close()


async def test_start_language_choice_is_remembered(center: Center, bot_api: BotApiStandIn) -> None:
    await send(center, bot_api, bot_api.message(CHAT, "/start", language_code="en"))
    greeting = await bot_api.wait_sent(lambda m: m["chat_id"] == CHAT)
    # both languages until the citizen chose, and the advice to call 102
    assert "Тілді таңдаңыз" in greeting["text"] and "Выберите язык" in greeting["text"]
    assert greeting["text"].count("102") >= 2
    buttons = greeting["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["lang:kk", "lang:ru"]

    press = bot_api.callback(CHAT, "lang:kk")
    await send(center, bot_api, press)
    await settle(center)
    assert bot_api.answered == [press["callback_query"]["id"]]
    chosen = bot_api.sent[-1]
    assert chosen["text"].startswith("Тіл: қазақша")
    assert chosen["reply_markup"]["keyboard"][0][0]["request_location"] is True

    conversation = await chat_store(center).conversation(ChannelKind.TELEGRAM, str(CHAT))
    assert conversation is not None and conversation.language is Language.KK

    # the next message (from a Russian-set phone) still goes to a Kazakh-speaking operator
    await send(center, bot_api, bot_api.message(CHAT, "Көмек керек", language_code="ru"))
    await settle(center)
    [entry] = await center.container.store.waiting()
    assert entry.language is Language.KK
    number = entry.contact_id[:8].upper()
    notice = await bot_api.wait_sent(lambda m: number in m["text"])
    assert "қабылданды" in notice["text"] and "Ваше" not in notice["text"]


async def test_voice_video_and_document_are_kept(center: Center, bot_api: BotApiStandIn) -> None:
    voice = b"OggS" + bytes(3000)
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)
    pdf = b"%PDF-1.4\n" + bytes(1000)
    await send(center, bot_api, bot_api.media(CHAT, "voice", voice, "audio/ogg", duration=3))
    await send(center, bot_api, bot_api.media(CHAT, "video", video, "video/mp4", duration=2))
    await send(
        center,
        bot_api,
        bot_api.media(CHAT, "document", pdf, "application/pdf", file_name="../../etc/akt.pdf"),
    )
    html = b"<script>alert(1)</script>"
    await send(center, bot_api, bot_api.media(CHAT, "document", html, "text/html"))
    await settle(center)
    [entry] = await center.container.store.waiting()
    contacts = center.container.db.contacts
    attachments = await contacts.attachments(entry.contact_id)
    assert [a.media_type for a in attachments] == [
        "audio/ogg",
        "video/mp4",
        "application/pdf",
        "application/octet-stream",  # never served as HTML
    ]
    assert attachments[2].filename == "....etcakt.pdf"
    assert [a.size for a in attachments] == [len(voice), len(video), len(pdf), len(html)]
    texts = [m.text for m in await contacts.messages(entry.contact_id)]
    assert texts == ["[голосовое сообщение]", "[видео]", "[документ]", "[документ]"]


async def test_live_location_moves_the_open_contact(center: Center, bot_api: BotApiStandIn) -> None:
    first = bot_api.location(CHAT, 43.20, 76.90, live_period=900)
    await send(center, bot_api, first)
    await settle(center)
    [entry] = await center.container.store.waiting()
    moved = bot_api.live_location(CHAT, first["message"]["message_id"], 43.21, 76.91)
    await send(center, bot_api, moved)
    await settle(center)
    contact = await center.container.db.contacts.get(entry.contact_id)
    assert contact.location is not None and contact.location.lat == pytest.approx(43.21)


async def test_webhook_auth_limits_and_errors(center: Center, bot_api: BotApiStandIn) -> None:
    url = "/webhooks/telegram"
    update = bot_api.message(CHAT, "проверка")

    async def post(**kwargs: Any) -> tuple[int, Any]:
        async with center.client.post(url, **kwargs) as r:
            return r.status, await r.json()

    status, body = await post(json=update)
    assert (status, body["error"]["id"]) == (401, "missing_secret_token")
    status, body = await post(json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
    assert (status, body["error"]["id"]) == (403, "bad_secret_token")
    # the check guards the webhook's routes: a wrong path or method is its plain 404 / 405
    async with center.client.post(f"{url}/x", json=update) as r:
        assert (r.status, (await r.json())["error"]["id"]) == (404, "not_found")
    async with center.client.put(url, json=update) as r:
        assert (r.status, (await r.json())["error"]["id"]) == (405, "method_not_allowed")
    good = {"X-Telegram-Bot-Api-Secret-Token": bot_api.secret}
    status, body = await post(
        data=b"{not json", headers={**good, "Content-Type": "application/json"}
    )
    assert (status, body["error"]["id"]) == (400, "bad_json")
    status, body = await post(json=[update], headers=good)
    assert (status, body["error"]["id"]) == (422, "not_an_object")
    status, body = await post(json={"update_id": "x"}, headers=good)
    assert (status, body["error"]["id"]) == (422, "bad_update")
    status, body = await post(data=b"{}", headers={**good, "Content-Type": "text/plain"})
    assert (status, body["error"]["id"]) == (415, "json_required")
    big = {**update, "padding": "x" * (1024 * 1024)}
    status, body = await post(json=big, headers=good)
    assert (status, body["error"]["id"]) == (413, "payload_too_large")

    group = bot_api.message(CHAT, "в группе")
    group["message"]["chat"]["type"] = "group"
    status, body = await post(json=group, headers=good)
    assert status == 200 and body["ignored"] == "not a private chat"

    # a redelivery is stored once
    status, body = await post(json=update, headers=good)
    assert (status, body["duplicate"]) == (200, False)
    status, body = await post(json=update, headers=good)
    assert (status, body["duplicate"]) == (200, True)
    await settle(center)
    [entry] = await center.container.store.waiting()
    assert len(await center.container.db.contacts.messages(entry.contact_id)) == 1


async def test_rate_limit_per_citizen(tmp_path: Path, bot_api: BotApiStandIn) -> None:
    center = await tg_center(tmp_path, bot_api, messages_per_minute_per_citizen=3)
    try:
        statuses = [
            await send(center, bot_api, bot_api.message(CHAT, f"сообщение {i}")) for i in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        assert await send(center, bot_api, bot_api.message(CHAT + 1, "другой")) == 200
    finally:
        await center.client.close()


async def test_failed_delivery_is_shown_to_the_operator(
    center: Center, bot_api: BotApiStandIn
) -> None:
    op = await operator(center)
    await send(center, bot_api, bot_api.message(CHAT, "Помогите"))
    contact_id = (await op.next_offer(within_s=10))["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    assert op.ws is not None
    await op.ws.send_json({"op": "subscribe", "topic": f"contact:{contact_id}"})
    await settle(center)
    bot_api.blocked.add(CHAT)
    reply = await op.post(f"/api/v1/contacts/{contact_id}/reply", {"text": "Вы здесь?"}, status=201)
    change = await delivery_change(op, contact_id, reply["id"])
    assert change["data"]["status"] == "failed"
    assert "blocked" in change["data"]["error"]
    [stored] = [d for d in await chat_store(center).deliveries(contact_id) if d.id == reply["id"]]
    assert stored.status == "failed"
    await op.close()


async def test_transient_send_failures_are_retried(center: Center, bot_api: BotApiStandIn) -> None:
    bot_api.fail_sends = 1
    bot_api.rate_limit_sends = 1
    await send(center, bot_api, bot_api.message(CHAT, "Помогите"))
    notice = await bot_api.wait_sent(lambda m: m["chat_id"] == CHAT, within_s=10)
    assert "102" in notice["text"]


async def test_polling_mode(tmp_path: Path, bot_api: BotApiStandIn) -> None:
    bot_api.webhook_url = "https://example.invalid/hook"  # left over: polling must remove it
    assert (await bot_api._api_getUpdates({})).status == 409
    center = await tg_center(tmp_path, bot_api, mode="polling", poll_timeout_s=1)
    try:
        await until(lambda: bot_api.webhook_url is None)
        await bot_api.deliver(bot_api.message(CHAT, "Сосед угрожает ножом"))
        await bot_api.deliver(bot_api.message(CHAT, "Он в подъезде"))
        await until(lambda: bot_api.pending_updates() == 0)
        await settle(center)
        [entry] = await center.container.store.waiting()
        texts = [m.text for m in await center.container.db.contacts.messages(entry.contact_id)]
        assert texts == ["Сосед угрожает ножом", "Он в подъезде"]
        contact = await center.container.db.contacts.get(entry.contact_id)
        assert contact.priority.name == "SOS"  # "нож" is danger: lifted by triage
    finally:
        await center.client.close()


async def test_webhook_mode_registers_the_webhook(tmp_path: Path, bot_api: BotApiStandIn) -> None:
    center = await tg_center(
        tmp_path, bot_api, webhook_url="https://102.example.kz/webhooks/telegram"
    )
    try:
        assert bot_api.webhook_url == "https://102.example.kz/webhooks/telegram"
        assert bot_api.webhook_secret == bot_api.secret
    finally:
        await center.client.close()
