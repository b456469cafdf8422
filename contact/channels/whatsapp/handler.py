"""What the center does with each stored WhatsApp item (the inbox processor's handler).

A message becomes (or joins) the citizen's chat contact: text, a shared location (the
contact's location), images, audio and voice notes, videos, documents and stickers downloaded
from the Graph API with their sha256 checked, interactive and button replies as text. A press
of a language button is remembered. A status callback moves the delivery state of the
operator's message it is about.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from contact.channels.chat import ChatRuntime, MediaError, safe_filename, safe_media_type, say
from contact.channels.chat_intake import ChatMessage, attachment_id, language_hint
from contact.channels.inbox import Outcome, RetryLater
from contact.channels.outbox import Outbox
from contact.channels.whatsapp import parse
from contact.domain.model import Attachment, ChannelKind
from contact.i18n import text
from contact.ports import Conversation, InboxItem

MEDIA_TRIES = 2
# the last message time feeds the 24-hour window; rewriting it more often buys nothing
TOUCH_EVERY = timedelta(minutes=5)


class MediaSource(Protocol):
    async def fetch_media(
        self, media_id: str, expected_sha256: str | None, max_bytes: int
    ) -> bytes: ...


class WhatsAppHandler:
    def __init__(
        self,
        *,
        client: MediaSource,
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
            payload = json.loads(item.payload)
        except ValueError:
            return Outcome("invalid")
        if isinstance(payload, dict) and "status" in payload:
            return await self._status(payload)
        parsed = parse.message(payload, self._limits)
        if isinstance(parsed, parse.Ignored):
            return Outcome("ignored")
        conversation, new = await self._conversation(parsed)
        store = self._runtime.store
        now = self._now()
        if parsed.kind is parse.Kind.LANGUAGE:
            assert parsed.language is not None
            conversation = replace(
                conversation, language=parsed.language, language_chosen=True, last_inbound_at=now
            )
            async with self._runtime.gate.background():
                await store.save_conversation(conversation, now)
                await self._outbox.enqueue(
                    citizen=conversation.citizen,
                    body={
                        "text": f"{say('chat.language_set', parsed.language)}\n"
                        f"{say('citizen.danger', parsed.language)}"
                    },
                    contact_id=conversation.contact_id,
                )
            return Outcome("language")
        attachments, missing = await self._media(parsed, item.attempts)
        body = parsed.display_text()
        if missing:
            body += " " + " ".join(
                text("chat.media_missing", None).format(reason=reason) for reason in missing
            )
        message = ChatMessage(
            channel=ChannelKind.WHATSAPP,
            external_id=parsed.id,
            text=body,
            location=parsed.location,
            attachments=attachments,
        )
        async with self._runtime.gate.background():
            if new or conversation.last_inbound_at is None:
                # saved first: the notice of the new contact looks up where to send it
                conversation = replace(conversation, last_inbound_at=now)
                await store.save_conversation(conversation, now)
            taken = await self._runtime.intake.take(conversation, message)
            stale = now - (conversation.last_inbound_at or now) > TOUCH_EVERY
            if taken.contact_id != conversation.contact_id or stale:
                await store.save_conversation(
                    replace(conversation, contact_id=taken.contact_id, last_inbound_at=now), now
                )
        return Outcome("contact" if taken.created else "message", taken.contact_id)

    async def _conversation(self, parsed: parse.Message) -> tuple[Conversation, bool]:
        store = self._runtime.store
        found = await store.conversation(ChannelKind.WHATSAPP, parsed.citizen)
        if found is None and parsed.wa_id:
            # known by phone number before a user id came along: the same citizen
            found = await store.conversation_by_wa_id(parsed.wa_id)
        if found is not None:
            if parsed.user_id and found.user_id != parsed.user_id:
                found = replace(found, user_id=parsed.user_id)
                async with self._runtime.gate.background():
                    await store.save_conversation(found, self._now())
            return found, False
        return (
            Conversation(
                channel=ChannelKind.WHATSAPP,
                citizen=parsed.citizen,
                address=parsed.user_id or parsed.wa_id or parsed.citizen,
                created_at=self._now(),
                language=language_hint(parsed.text),
                user_id=parsed.user_id,
                wa_id=parsed.wa_id,
                display_name=parsed.display_name,
            ),
            True,
        )

    async def _media(
        self, parsed: parse.Message, attempts: int
    ) -> tuple[tuple[tuple[Attachment, bytes], ...], list[str]]:
        attachments: list[tuple[Attachment, bytes]] = []
        missing: list[str] = []
        for index, media in enumerate(parsed.media):
            try:
                data = await self._client.fetch_media(media.media_id, media.sha256, self._max_media)
            except MediaError as error:
                if error.retry and attempts + 1 < MEDIA_TRIES:
                    raise RetryLater(f"{media.kind}: {error.reason}") from None
                missing.append(f"{media.kind}: {error.reason}")
                continue
            attachments.append(
                (
                    Attachment(
                        id=attachment_id(parsed.id, index),
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

    async def _status(self, payload: object) -> Outcome:
        found = parse.status(payload)
        if isinstance(found, parse.Ignored):
            return Outcome("ignored")
        async with self._runtime.gate.background():
            known = await self._outbox.status_callback(found.id, found.status, found.error)
        return Outcome("status" if known else "status_unknown")
