"""contact.channels.chat.handler through both channels' handlers, on recorded payloads with
fakes for the store, the intake and the outbox: files that fail now or for good, the save of
the conversation around the intake (with and without WhatsApp's last-message time), and the
answer to a language choice."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contact.channels.chat.inbox import RetryLater, WriteGate
from contact.channels.chat.intake import attachment_id
from contact.channels.chat.media import MediaError
from contact.channels.chat.ports import ChatMessage, Conversation, Delivery, InboxItem, Taken
from contact.channels.telegram import parse as tg_parse
from contact.channels.telegram.handler import TelegramHandler
from contact.channels.whatsapp import parse as wa_parse
from contact.channels.whatsapp.handler import WhatsAppHandler
from contact.domain.model import ChannelKind, Language, Location
from tests.chat_fakes import FakeConversations

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
NOW = 1_763_701_300.0
MB = 1024 * 1024


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class FakeIntake:
    """Opens contact "c1", then appends to whichever contact the conversation names."""

    def __init__(self) -> None:
        self.taken: list[tuple[Conversation, ChatMessage]] = []

    async def take(self, conversation: Conversation, message: ChatMessage) -> Taken:
        self.taken.append((conversation, message))
        if conversation.contact_id is None:
            return Taken("c1", created=True)
        return Taken(conversation.contact_id, created=False)

    async def relocate(self, conversation: Conversation, location: Location) -> str | None:
        return conversation.contact_id


class FakeOutbox:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def enqueue(
        self,
        *,
        citizen: str,
        body: Mapping[str, Any],
        contact_id: str | None,
        kind: str = "notice",
        delivery_id: str | None = None,
    ) -> Delivery:
        self.sent.append({"citizen": citizen, "body": dict(body), "contact_id": contact_id})
        return Delivery(
            id=delivery_id or f"d{len(self.sent)}",
            channel=ChannelKind.TELEGRAM,
            citizen=citizen,
            kind=kind,
            body=body,
            created_at=at(NOW),
            contact_id=contact_id,
        )

    async def status_callback(self, external_id: str, status: str, error: str | None) -> bool:
        return False


class FakeTelegram:
    def __init__(self, error: MediaError | None = None) -> None:
        self.error = error
        self.fetched: list[str] = []
        self.answered: list[str] = []

    async def fetch_file(self, file_id: str, max_bytes: int) -> bytes:
        self.fetched.append(file_id)
        if self.error is not None:
            raise self.error
        return b"\xff\xd8\xff" + file_id.encode()

    async def answer_callback(self, query_id: str) -> None:
        self.answered.append(query_id)


class FakeGraph:
    def __init__(self, error: MediaError | None = None) -> None:
        self.error = error
        self.fetched: list[str] = []

    async def fetch_media(
        self, media_id: str, expected_sha256: str | None, max_bytes: int
    ) -> bytes:
        self.fetched.append(media_id)
        if self.error is not None:
            raise self.error
        return b"\xff\xd8\xff" + media_id.encode()


class Parts:
    def __init__(self) -> None:
        self.store = FakeConversations()
        self.intake = FakeIntake()
        self.outbox = FakeOutbox()
        self.gate = WriteGate()
        self.clock = NOW

    def telegram(self, client: FakeTelegram, max_media_bytes: int = 20 * MB) -> TelegramHandler:
        return TelegramHandler(
            client=client,
            store=self.store,
            intake=self.intake,
            gate=self.gate,
            outbox=self.outbox,
            limits=tg_parse.Limits(),
            max_media_bytes=max_media_bytes,
            clock=lambda: self.clock,
        )

    def whatsapp(self, client: FakeGraph) -> WhatsAppHandler:
        return WhatsAppHandler(
            client=client,
            store=self.store,
            intake=self.intake,
            gate=self.gate,
            outbox=self.outbox,
            limits=wa_parse.Limits(),
            max_media_bytes=16 * MB,
            clock=lambda: self.clock,
        )


def tg_item(name: str, attempts: int = 0, **message: Any) -> InboxItem:
    update = json.loads((PAYLOADS / "telegram" / f"{name}.json").read_text())
    update.get("message", {}).update(message)
    return InboxItem(
        channel=ChannelKind.TELEGRAM,
        external_id=f"update:{update['update_id']}",
        lane="chat",
        payload=json.dumps(update),
        received_at=at(NOW),
        attempts=attempts,
    )


def wa_item(name: str, attempts: int = 0) -> InboxItem:
    [item] = wa_parse.split(json.loads((PAYLOADS / "whatsapp" / f"{name}.json").read_text()))
    return InboxItem(
        channel=ChannelKind.WHATSAPP,
        external_id=item.external_id,
        lane=item.lane,
        payload=json.dumps(item.payload),
        received_at=at(NOW),
        attempts=attempts,
    )


async def test_a_file_that_may_come_later_is_tried_again_then_the_message_goes_without() -> None:
    parts = Parts()
    client = FakeGraph(MediaError("502 from the CDN", retry=True))
    handler = parts.whatsapp(client)
    with pytest.raises(RetryLater, match="image: 502 from the CDN"):
        await handler.handle(wa_item("image"))
    assert parts.intake.taken == [] and parts.store.saved == []

    outcome = await handler.handle(wa_item("image", attempts=1))
    assert (outcome.outcome, outcome.contact_id) == ("contact", "c1")
    [(_, message)] = parts.intake.taken
    assert message.attachments == ()
    assert "image: 502 from the CDN" in message.text


async def test_a_file_that_never_will_is_not_tried_again() -> None:
    parts = Parts()
    client = FakeTelegram(MediaError("Telegram gave no file path", retry=False))
    outcome = await parts.telegram(client).handle(tg_item("photo_caption"))
    assert outcome.outcome == "contact"
    [(_, message)] = parts.intake.taken
    assert message.attachments == ()
    assert "photo: Telegram gave no file path" in message.text
    assert "Вот машина, номер видно" in message.text


async def test_a_telegram_file_too_large_is_not_fetched() -> None:
    parts = Parts()
    client = FakeTelegram()
    item = tg_item("photo_caption", photo=[{"file_id": "big", "file_size": 30 * MB}])
    await parts.telegram(client, max_media_bytes=20 * MB).handle(item)
    assert client.fetched == []
    [(_, message)] = parts.intake.taken
    assert "photo: > 20 MB" in message.text


async def test_fetched_files_are_attached_with_stable_ids() -> None:
    parts = Parts()
    client = FakeGraph()
    await parts.whatsapp(client).handle(wa_item("document"))
    [(_, message)] = parts.intake.taken
    [(attachment, data)] = message.attachments
    assert attachment.id == attachment_id(message.external_id, 0)
    assert attachment.size == len(data) and attachment.contact_id == ""
    assert client.fetched and data.endswith(client.fetched[0].encode())


async def test_telegram_saves_a_new_conversation_then_its_contact() -> None:
    parts = Parts()
    handler = parts.telegram(FakeTelegram())
    await handler.handle(tg_item("text_message"))
    first, second = parts.store.saved
    # saved before the intake (the notice looks it up), without a last-message time
    assert first.contact_id is None and first.last_inbound_at is None
    assert (second.contact_id, second.last_inbound_at) == ("c1", at(NOW))

    parts.clock = NOW + 3600  # the same contact later: nothing to save
    outcome = await handler.handle(tg_item("text_message", message_id=2000))
    assert (outcome.outcome, outcome.contact_id) == ("message", "c1")
    assert len(parts.store.saved) == 2


async def test_whatsapp_keeps_the_last_message_time_fresh_enough() -> None:
    parts = Parts()
    handler = parts.whatsapp(FakeGraph())
    await handler.handle(wa_item("text"))
    first, second = parts.store.saved
    assert first.contact_id is None and first.last_inbound_at == at(NOW)
    assert (second.contact_id, second.last_inbound_at) == ("c1", at(NOW))

    parts.clock = NOW + 60  # within five minutes: not rewritten
    await handler.handle(wa_item("text"))
    assert len(parts.store.saved) == 2

    parts.clock = NOW + 600
    await handler.handle(wa_item("text"))
    assert parts.store.saved[-1].last_inbound_at == at(NOW + 600)
    assert len(parts.store.saved) == 3

    # a conversation without the time (made before it was kept) gets it before the intake
    key = (ChannelKind.WHATSAPP, second.citizen)
    known = await parts.store.conversation(*key)
    assert known is not None
    await parts.store.save_conversation(replace(known, last_inbound_at=None), at(NOW + 650))
    parts.clock = NOW + 700
    await handler.handle(wa_item("text"))
    assert parts.intake.taken[-1][0].last_inbound_at == at(NOW + 700)


async def test_a_language_choice_is_saved_and_answered_per_channel() -> None:
    parts = Parts()
    client = FakeTelegram()
    outcome = await parts.telegram(client).handle(tg_item("callback_language"))
    assert outcome.outcome == "language" and client.answered
    [chosen] = parts.store.saved
    assert chosen.language_chosen and chosen.last_inbound_at is None
    [sent] = parts.outbox.sent
    assert set(sent["body"]) == {"text", "location_button"}
    assert "102" in sent["body"]["text"]

    parts = Parts()
    outcome = await parts.whatsapp(FakeGraph()).handle(wa_item("interactive_button_reply"))
    assert outcome.outcome == "language"
    [chosen] = parts.store.saved
    assert chosen.language is Language.KK
    assert chosen.language_chosen and chosen.last_inbound_at == at(NOW)
    [sent] = parts.outbox.sent
    assert set(sent["body"]) == {"text"}
    assert parts.intake.taken == []
