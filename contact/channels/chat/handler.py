"""What the chat channels' inbox handlers (Telegram, WhatsApp) do alike with a stored item.

A language choice is remembered in the conversation and confirmed to the citizen. A citizen
message has its files fetched (a fetch that may work later is retried once, through the
inbox; after that the message is taken without the file and says why), then becomes (or
joins) the citizen's chat contact, with the conversation saved first when it is new: the
notice of the new contact looks it up to know where to go.

Each channel's `handler.py` keeps what is its own: parsing its payloads, finding its
conversations, fetching its files, and what only it does (Telegram's /start and live
locations, WhatsApp's delivery statuses).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from contact.channels.chat.inbox import Outcome, RetryLater, WriteGate
from contact.channels.chat.intake import attachment_id
from contact.channels.chat.media import MediaError, safe_filename, safe_media_type
from contact.channels.chat.ports import ChatMessage, Conversation, Conversations, Intake, Messages
from contact.channels.chat.texts import say
from contact.domain.model import Attachment, ChannelKind, Language, Location
from contact.i18n import text

MEDIA_TRIES = 2  # attempts at fetching files before the message is taken without them


class ChatMedia(Protocol):
    """A file a citizen's message carries, as a channel's parse.py describes it."""

    @property
    def kind(self) -> str: ...

    @property
    def media_type(self) -> str: ...

    @property
    def file_name(self) -> str | None: ...


ClientT = TypeVar("ClientT")
LimitsT = TypeVar("LimitsT")
MediaT = TypeVar("MediaT", bound=ChatMedia)


class ChatHandler(Generic[ClientT, LimitsT, MediaT]):
    """The inbox processor's handler of one chat channel; a channel's subclass parses the
    item in `handle` and fetches its files in `fetch`."""

    channel: ChannelKind
    # a channel that needs the time of the citizen's last message (WhatsApp's 24-hour window)
    # keeps Conversation.last_inbound_at current, rewriting it once it is older than this;
    # None: it is written only with a new contact
    touch_every: timedelta | None = None

    def __init__(
        self,
        *,
        client: ClientT,
        store: Conversations,
        intake: Intake,
        gate: WriteGate,
        outbox: Messages,
        limits: LimitsT,
        max_media_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._store = store
        self._intake = intake
        self._gate = gate
        self._outbox = outbox
        self._limits = limits
        self._max_media = max_media_bytes
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def fetch(self, media: MediaT) -> bytes:
        """The file's bytes (at most max_media_bytes); raises MediaError."""
        raise NotImplementedError

    def language_body(self, language: Language) -> dict[str, Any]:
        """What the citizen is told once they chose their language."""
        return {"text": f"{say('chat.language_set', language)}\n{say('citizen.danger', language)}"}

    async def answer(self, conversation: Conversation, body: dict[str, Any], at: datetime) -> None:
        """Save the conversation and queue a text to the citizen."""
        async with self._gate.background():
            await self._store.save_conversation(conversation, at)
            await self._outbox.enqueue(
                citizen=conversation.citizen, body=body, contact_id=conversation.contact_id
            )

    async def choose_language(
        self, conversation: Conversation, language: Language, now: datetime
    ) -> Outcome:
        chosen = self._touched(replace(conversation, language=language, language_chosen=True), now)
        await self.answer(chosen, self.language_body(language), now)
        return Outcome("language")

    async def take_message(
        self,
        conversation: Conversation,
        new: bool,
        *,
        external_id: str,
        body: str,
        location: Location | None,
        media: Sequence[MediaT],
        attempts: int,
        now: datetime,
    ) -> Outcome:
        """The citizen's message (as the operator reads it) into their contact."""
        attachments, missing = await self._attachments(external_id, media, attempts)
        if missing:
            body += " " + " ".join(
                text("chat.media_missing", None).format(reason=reason) for reason in missing
            )
        message = ChatMessage(
            channel=self.channel,
            external_id=external_id,
            text=body,
            location=location,
            attachments=attachments,
        )
        store = self._store
        async with self._gate.background():
            if new or (self.touch_every is not None and conversation.last_inbound_at is None):
                # saved first: the notice of the new contact looks up where to send it
                conversation = self._touched(conversation, now)
                await store.save_conversation(conversation, now)
            taken = await self._intake.take(conversation, message)
            if taken.contact_id != conversation.contact_id or self._stale(conversation, now):
                await store.save_conversation(
                    replace(conversation, contact_id=taken.contact_id, last_inbound_at=now), now
                )
        return Outcome("contact" if taken.created else "message", taken.contact_id)

    def _touched(self, conversation: Conversation, now: datetime) -> Conversation:
        if self.touch_every is None:
            return conversation
        return replace(conversation, last_inbound_at=now)

    def _stale(self, conversation: Conversation, now: datetime) -> bool:
        if self.touch_every is None:
            return False
        return now - (conversation.last_inbound_at or now) > self.touch_every

    async def _attachments(
        self, external_id: str, media: Sequence[MediaT], attempts: int
    ) -> tuple[tuple[tuple[Attachment, bytes], ...], list[str]]:
        attachments: list[tuple[Attachment, bytes]] = []
        missing: list[str] = []
        for index, item in enumerate(media):
            try:
                data = await self.fetch(item)
            except MediaError as error:
                if error.retry and attempts + 1 < MEDIA_TRIES:
                    raise RetryLater(f"{item.kind}: {error.reason}") from None
                missing.append(f"{item.kind}: {error.reason}")
                continue
            attachments.append(
                (
                    Attachment(
                        id=attachment_id(external_id, index),
                        contact_id="",
                        media_type=safe_media_type(item.media_type),
                        size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(),
                        filename=safe_filename(item.file_name),
                    ),
                    data,
                )
            )
        return tuple(attachments), missing
