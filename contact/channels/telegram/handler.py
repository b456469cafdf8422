"""What the bot does with each stored update (the inbox processor's handler for Telegram).

/start greets in both languages and offers them as buttons; the choice is remembered in the
conversation. A citizen message becomes (or joins) their chat contact, with a shared location
as the contact's location and photos, videos, voice notes and documents downloaded from the
Bot API as attachments. A live-location update moves the open contact.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from contact.channels.chat import (
    LANGUAGE_BUTTONS,
    ChatRuntime,
    MediaError,
    greeting_text,
    safe_filename,
    safe_media_type,
    say,
)
from contact.channels.chat_intake import ChatMessage, attachment_id, language_hint
from contact.channels.inbox import Outcome, RetryLater
from contact.channels.outbox import Outbox
from contact.channels.telegram import parse
from contact.domain.model import Attachment, ChannelKind
from contact.errors import ContactError
from contact.i18n import text
from contact.ports import Conversation, InboxItem

MEDIA_TRIES = 2  # attempts at fetching files before the message is taken without them


class FileFetcher(Protocol):
    async def fetch_file(self, file_id: str, max_bytes: int) -> bytes: ...

    async def answer_callback(self, query_id: str) -> None: ...


class TelegramHandler:
    def __init__(
        self,
        *,
        client: FileFetcher,
        runtime: ChatRuntime,
        outbox: Outbox,
        limits: parse.Limits,
        max_media_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._runtime = runtime
        self._outbox = outbox
        self._limits = limits
        self._max_media = max_media_bytes
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def handle(self, item: InboxItem) -> Outcome:
        try:
            parsed = parse.parse_update(json.loads(item.payload), self._limits)
        except (ValueError, ContactError):
            return Outcome("invalid")  # the webhook validated it: only a hand-edited row
        if isinstance(parsed, parse.Ignored):
            return Outcome("ignored")
        conversation, new = await self._conversation(parsed)
        store = self._runtime.store
        gate = self._runtime.gate
        if parsed.kind is parse.Kind.START:
            async with gate.background():
                await store.save_conversation(conversation, self._now())
                await self._outbox.enqueue(
                    citizen=conversation.citizen,
                    body={"text": greeting_text(), "buttons": LANGUAGE_BUTTONS},
                    contact_id=conversation.contact_id,
                )
            return Outcome("start")
        if parsed.kind is parse.Kind.LANGUAGE:
            assert parsed.language is not None
            if parsed.callback_id is not None:
                await self._client.answer_callback(parsed.callback_id)
            conversation = replace(conversation, language=parsed.language, language_chosen=True)
            async with gate.background():
                await store.save_conversation(conversation, self._now())
                await self._outbox.enqueue(
                    citizen=conversation.citizen,
                    body={
                        "text": f"{say('chat.language_set', parsed.language)}\n"
                        f"{say('citizen.danger', parsed.language)}",
                        "location_button": text("chat.share_location", parsed.language),
                    },
                    contact_id=conversation.contact_id,
                )
            return Outcome("language")
        if parsed.kind is parse.Kind.LIVE_LOCATION:
            assert parsed.location is not None
            if new:
                return Outcome("ignored")
            async with gate.background():
                moved = await self._runtime.intake.relocate(conversation, parsed.location)
            return Outcome("location", moved)
        return await self._message(parsed, conversation, new, item.attempts)

    async def _conversation(self, parsed: parse.Inbound) -> tuple[Conversation, bool]:
        found = await self._runtime.store.conversation(ChannelKind.TELEGRAM, parsed.key)
        if found is not None:
            return found, False
        citizen = parsed.citizen
        return (
            Conversation(
                channel=ChannelKind.TELEGRAM,
                citizen=parsed.key,
                address=str(citizen.chat_id),
                created_at=self._now(),
                language=citizen.language_hint or language_hint(parsed.text),
                display_name=citizen.display_name,
            ),
            True,
        )

    async def _message(
        self, parsed: parse.Inbound, conversation: Conversation, new: bool, attempts: int
    ) -> Outcome:
        store = self._runtime.store
        attachments, missing = await self._media(parsed, attempts)
        body = parsed.display_text()
        if missing:
            body += " " + " ".join(
                text("chat.media_missing", None).format(reason=reason) for reason in missing
            )
        message = ChatMessage(
            channel=ChannelKind.TELEGRAM,
            external_id=parsed.external_id,
            text=body,
            location=parsed.location,
            attachments=attachments,
        )
        async with self._runtime.gate.background():
            if new:  # the notice of the new contact needs to find where to go
                await store.save_conversation(conversation, self._now())
            taken = await self._runtime.intake.take(conversation, message)
            if taken.contact_id != conversation.contact_id:
                conversation = replace(
                    conversation, contact_id=taken.contact_id, last_inbound_at=self._now()
                )
                await store.save_conversation(conversation, self._now())
        return Outcome("contact" if taken.created else "message", taken.contact_id)

    async def _media(
        self, parsed: parse.Inbound, attempts: int
    ) -> tuple[tuple[tuple[Attachment, bytes], ...], list[str]]:
        attachments: list[tuple[Attachment, bytes]] = []
        missing: list[str] = []
        for index, media in enumerate(parsed.media):
            if media.file_size is not None and media.file_size > self._max_media:
                missing.append(f"{media.kind}: > {self._max_media // (1024 * 1024)} MB")
                continue
            try:
                data = await self._client.fetch_file(media.file_id, self._max_media)
            except MediaError as error:
                if error.retry and attempts + 1 < MEDIA_TRIES:
                    raise RetryLater(f"{media.kind}: {error.reason}") from None
                missing.append(f"{media.kind}: {error.reason}")
                continue
            attachments.append(
                (
                    Attachment(
                        id=attachment_id(parsed.external_id, index),
                        contact_id="",
                        media_type=safe_media_type(media.media_type),
                        size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(),
                        filename=safe_filename(media.file_name),
                    ),
                    data,
                )
            )
        return tuple(attachments), missing
