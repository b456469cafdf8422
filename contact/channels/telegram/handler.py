"""What the bot does with each stored update (the inbox processor's handler for Telegram).

/start greets in both languages and offers them as buttons; the choice is remembered in the
conversation. A citizen message becomes (or joins) their chat contact, with a shared location
as the contact's location and photos, videos, voice notes and documents downloaded from the
Bot API as attachments. A live-location update moves the open contact.
"""

from __future__ import annotations

from typing import Any, Protocol

from contact import text_policy
from contact.channels.chat.handler import ChatHandler
from contact.channels.chat.inbox import Outcome
from contact.channels.chat.intake import language_hint
from contact.channels.chat.media import MediaError
from contact.channels.chat.ports import Conversation, InboxItem
from contact.channels.chat.texts import LANGUAGE_BUTTONS, greeting_text
from contact.channels.telegram import parse
from contact.domain.model import ChannelKind, Language
from contact.errors import ContactError
from contact.i18n import text


class FileFetcher(Protocol):
    async def fetch_file(self, file_id: str, max_bytes: int) -> bytes: ...

    async def answer_callback(self, query_id: str) -> None: ...


class TelegramHandler(ChatHandler[FileFetcher, parse.Limits, parse.Media]):
    channel = ChannelKind.TELEGRAM

    async def handle(self, item: InboxItem) -> Outcome:
        try:
            # the edge's policy again: items stored before it (or by hand) are taken the same way
            parsed = parse.parse_update(text_policy.loads(item.payload, finite=False), self._limits)
        except (ValueError, ContactError):
            return Outcome("invalid")  # the webhook validated it: only a hand-edited row
        if isinstance(parsed, parse.Ignored):
            return Outcome("ignored")
        conversation, new = await self._conversation(parsed)
        if parsed.kind is parse.Kind.START:
            body = {"text": greeting_text(), "buttons": LANGUAGE_BUTTONS}
            await self.answer(conversation, body, self.now())
            return Outcome("start")
        if parsed.kind is parse.Kind.LANGUAGE:
            assert parsed.language is not None
            if parsed.callback_id is not None:
                await self._client.answer_callback(parsed.callback_id)
            return await self.choose_language(conversation, parsed.language, self.now())
        if parsed.kind is parse.Kind.LIVE_LOCATION:
            assert parsed.location is not None
            if new:
                return Outcome("ignored")
            async with self._gate.background():
                moved = await self._intake.relocate(conversation, parsed.location)
            return Outcome("location", moved)
        return await self.take_message(
            conversation,
            new,
            external_id=parsed.external_id,
            body=parsed.display_text(),
            location=parsed.location,
            media=parsed.media,
            attempts=item.attempts,
            now=self.now(),
        )

    def language_body(self, language: Language) -> dict[str, Any]:
        return {
            **super().language_body(language),
            "location_button": text("chat.share_location", language),
        }

    async def fetch(self, media: parse.Media) -> bytes:
        if media.file_size is not None and media.file_size > self._max_media:
            raise MediaError(f"> {self._max_media // (1024 * 1024)} MB", retry=False)
        return await self._client.fetch_file(media.file_id, self._max_media)

    async def _conversation(self, parsed: parse.Inbound) -> tuple[Conversation, bool]:
        found = await self._store.conversation(ChannelKind.TELEGRAM, parsed.key)
        if found is not None:
            return found, False
        citizen = parsed.citizen
        return (
            Conversation(
                channel=ChannelKind.TELEGRAM,
                citizen=parsed.key,
                address=str(citizen.chat_id),
                created_at=self.now(),
                language=citizen.language_hint or language_hint(parsed.text),
                display_name=citizen.display_name,
            ),
            True,
        )
