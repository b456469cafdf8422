"""What the center does with each stored WhatsApp item (the inbox processor's handler).

A message becomes (or joins) the citizen's chat contact: text, a shared location (the
contact's location), images, audio and voice notes, videos, documents and stickers downloaded
from the Graph API with their sha256 checked, interactive and button replies as text. A press
of a language button is remembered. A status callback moves the delivery state of the
operator's message it is about.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Protocol

from contact import text_policy
from contact.channels.chat.handler import ChatHandler
from contact.channels.chat.inbox import Outcome
from contact.channels.chat.intake import language_hint
from contact.channels.chat.ports import Conversation, InboxItem
from contact.channels.whatsapp import parse
from contact.domain.model import ChannelKind
from contact.errors import ContactError


class MediaSource(Protocol):
    async def fetch_media(
        self, media_id: str, expected_sha256: str | None, max_bytes: int
    ) -> bytes: ...


class WhatsAppHandler(ChatHandler[MediaSource, parse.Limits, parse.Media]):
    channel = ChannelKind.WHATSAPP
    # the last message time feeds the 24-hour window; rewriting it more often buys nothing
    touch_every = timedelta(minutes=5)

    async def handle(self, item: InboxItem) -> Outcome:
        try:
            # the edge's policy again: items stored before it (or by hand) are taken the same way
            payload = text_policy.loads(item.payload, finite=False)
        except (ValueError, ContactError):
            return Outcome("invalid")
        if isinstance(payload, dict) and "status" in payload:
            return await self._status(payload)
        parsed = parse.message(payload, self._limits)
        if isinstance(parsed, parse.Ignored):
            return Outcome("ignored")
        conversation, new = await self._conversation(parsed)
        now = self.now()
        if parsed.kind is parse.Kind.LANGUAGE:
            assert parsed.language is not None
            return await self.choose_language(conversation, parsed.language, now)
        return await self.take_message(
            conversation,
            new,
            external_id=parsed.id,
            body=parsed.display_text(),
            location=parsed.location,
            media=parsed.media,
            attempts=item.attempts,
            now=now,
        )

    async def fetch(self, media: parse.Media) -> bytes:
        return await self._client.fetch_media(media.media_id, media.sha256, self._max_media)

    async def _conversation(self, parsed: parse.Message) -> tuple[Conversation, bool]:
        store = self._store
        found = await store.conversation(ChannelKind.WHATSAPP, parsed.citizen)
        if found is None and parsed.wa_id:
            # known by phone number before a user id came along: the same citizen
            found = await store.conversation_by_wa_id(parsed.wa_id)
        if found is not None:
            if parsed.user_id and found.user_id != parsed.user_id:
                found = replace(found, user_id=parsed.user_id)
                async with self._gate.background():
                    await store.save_conversation(found, self.now())
            return found, False
        return (
            Conversation(
                channel=ChannelKind.WHATSAPP,
                citizen=parsed.citizen,
                address=parsed.user_id or parsed.wa_id or parsed.citizen,
                created_at=self.now(),
                language=language_hint(parsed.text),
                user_id=parsed.user_id,
                wa_id=parsed.wa_id,
                display_name=parsed.display_name,
            ),
            True,
        )

    async def _status(self, payload: object) -> Outcome:
        found = parse.status(payload)
        if isinstance(found, parse.Ignored):
            return Outcome("ignored")
        async with self._gate.background():
            known = await self._outbox.status_callback(found.id, found.status, found.error)
        return Outcome("status" if known else "status_unknown")
