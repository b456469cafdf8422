"""A chat message → the contact it belongs to (Telegram, WhatsApp).

One chat contact per conversation: while the citizen's latest contact is open, their next
messages are appended to it (AddCitizenMessage, under the contact's lock, with attachments in
the same transaction); once it is closed, the next message opens a new contact
(RegisterContact: stored and queued before the command returns, priority by triage).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from contact.bus import MessageBus
from contact.channels.chat.opening import LocalOpening
from contact.channels.chat.ports import (
    ChatContacts,
    ChatMessage,
    Conversation,
    Conversations,
    OpeningLock,
    Taken,
)
from contact.domain import events as ev
from contact.domain.commands import AddCitizenMessage, RegisterContact, UpdateLocation
from contact.domain.model import (
    OPEN_STATES,
    Language,
    Location,
    Message,
    MessageDirection,
    new_id,
)
from contact.errors import Conflict, NotFound

log = logging.getLogger(__name__)

KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")


def attachment_id(external_id: str, index: int) -> str:
    """The same id on every delivery of the same message, so a retry cannot store it twice."""
    return hashlib.sha256(f"{external_id}#{index}".encode()).hexdigest()[:32]


def language_hint(text: str) -> Language | None:
    """Kazakh-only letters say kk, other Cyrillic says ru; anything else says nothing."""
    if any(ch in KAZAKH_LETTERS for ch in text):
        return Language.KK
    if any("\u0400" <= ch <= "\u04ff" for ch in text):
        return Language.RU
    return None


class ChatIntake:
    def __init__(
        self,
        *,
        bus: MessageBus,
        contacts: ChatContacts,
        store: Conversations,
        clock: Callable[[], float] = time.time,
        opening: OpeningLock | None = None,
    ) -> None:
        self._bus = bus
        self._contacts = contacts
        self._store = store
        self._clock = clock
        self._opening: OpeningLock = opening or LocalOpening()

    def register(self, bus: MessageBus) -> None:
        bus.register(AddCitizenMessage, self.add_citizen_message)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def open_contact(self, conversation: Conversation) -> str | None:
        if conversation.contact_id is None:
            return None
        try:
            contact = await self._contacts.get(conversation.contact_id)
        except NotFound:
            return None
        return contact.id if contact.state in OPEN_STATES else None

    async def _append(self, contact_id: str, message: ChatMessage) -> bool:
        """False when that contact is over (or gone)."""
        try:
            await self._bus.execute(
                AddCitizenMessage(
                    contact_id=contact_id,
                    text=message.text,
                    external_id=message.external_id,
                    attachments=message.attachments,
                    location=message.location,
                )
            )
        except Conflict as error:
            if error.error_id != "contact_closed":
                raise
            return False
        except NotFound:
            return False
        return True

    async def take(self, conversation: Conversation, message: ChatMessage) -> Taken:
        """Append to the conversation's open contact, or open a new one: under the
        conversation's lock (opening.py), after looking again, since another node may have
        opened one meanwhile; the conversation names it before the lock is let go."""
        if conversation.contact_id is not None and await self._append(
            conversation.contact_id, message
        ):
            return Taken(conversation.contact_id, created=False)
        async with self._opening.hold(conversation.channel, conversation.citizen):
            forget = getattr(self._store, "forget", None)
            if forget is not None:
                forget(conversation.channel, conversation.citizen)
            latest = await self._store.conversation(conversation.channel, conversation.citizen)
            newer = latest.contact_id if latest is not None else None
            if newer not in (None, conversation.contact_id):
                assert newer is not None
                if await self._append(newer, message):
                    return Taken(newer, created=False)
            registered = await self._bus.execute(
                RegisterContact(
                    channel=message.channel,
                    text=message.text,
                    language=conversation.language,
                    citizen=conversation.citizen,
                    location=message.location,
                    attachments=message.attachments,
                    external_id=message.external_id,
                )
            )
            if registered.contact_id != newer:
                await self._store.save_conversation(
                    replace(latest or conversation, contact_id=registered.contact_id), self._now()
                )
        return Taken(registered.contact_id, created=registered.created)

    async def relocate(self, conversation: Conversation, location: Location) -> str | None:
        """A live location update: moves the open contact, if any."""
        open_id = await self.open_contact(conversation)
        if open_id is not None:
            await self._bus.execute(UpdateLocation(contact_id=open_id, location=location))
        return open_id

    async def add_citizen_message(self, command: AddCitizenMessage) -> Message:
        now = self._now()
        message = Message(
            id=new_id(),
            contact_id=command.contact_id,
            direction=MessageDirection.INBOUND,
            text=command.text,
            created_at=now,
            external_id=command.external_id,
        )
        attachments = tuple(
            (replace(att, contact_id=command.contact_id), data) for att, data in command.attachments
        )
        # one transaction: the look at the contact's state and the message with its files
        if not await self._contacts.add_message_if_open(message, attachments):
            raise Conflict("this contact is closed", error_id="contact_closed")
        if command.location is not None:
            await self._bus.execute(
                UpdateLocation(contact_id=command.contact_id, location=command.location)
            )
        await self._bus.publish(
            ev.MessageReceived(
                contact_id=command.contact_id,
                message_id=message.id,
                text=message.text,
                occurred_at=now,
            )
        )
        return message
