"""The chat feature's ports: what the inbox, the conversations and the outbound deliveries of
Telegram and WhatsApp are, and the store that keeps them (SqlChatStore in sql.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from contact.domain.model import Attachment, ChannelKind, Contact, Language, Location, Message


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One inbound item of a messenger (a Telegram update, a WhatsApp message or status), as
    stored before the messenger is answered. `lane`: items of one lane are handled in order."""

    channel: ChannelKind
    external_id: str
    lane: str
    payload: str  # JSON, as the messenger sent it (a WhatsApp item with its contact entry)
    received_at: datetime
    seq: int | None = None  # assigned when stored
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class InboxDone:
    seq: int
    outcome: str  # contact | message | location | language | start | status | ignored …
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboxFailure:
    """An item passed over after failing every attempt (what `contact inbox failed` shows:
    never the citizen's text)."""

    seq: int
    channel: ChannelKind
    lane: str  # the conversation it belongs to
    received_at: datetime
    failed_at: datetime | None
    attempts: int


@dataclass(frozen=True, slots=True)
class Conversation:
    """A citizen on a messenger: what the center remembers between their contacts."""

    channel: ChannelKind
    citizen: str  # the key: Telegram chat id, WhatsApp user id (or phone number)
    address: str  # where messages go
    created_at: datetime
    language: Language | None = None
    language_chosen: bool = False  # the citizen chose it (else a hint)
    contact_id: str | None = None  # the latest contact
    user_id: str | None = None
    wa_id: str | None = None
    display_name: str | None = None
    last_inbound_at: datetime | None = None


class DeliveryStatus:
    PENDING = "pending"  # stored, not yet handed to the messenger
    ACCEPTED = "accepted"  # the messenger's API took it (WhatsApp: before its callbacks)
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    RANK = {
        PENDING: 0,
        ACCEPTED: 1,
        SENT: 2,
        DELIVERED: 3,
        READ: 4,
        FAILED: 5,
    }


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message to a citizen's chat: an operator's reply or a notice of the center."""

    id: str
    channel: ChannelKind
    citizen: str
    kind: str  # reply | notice
    body: Mapping[str, Any]  # {"text": …, "buttons": [[{"text", "data"}]], "template": bool}
    created_at: datetime
    contact_id: str | None = None  # None: a notice before any contact (the /start greeting)
    status: str = DeliveryStatus.PENDING
    external_id: str | None = None
    error: str | None = None
    attempts: int = 0
    updated_at: datetime | None = None


class ChatStore(Protocol):
    """The chat channels' inbox, conversations and outbound deliveries."""

    async def inbox_add(self, items: Sequence[InboxItem]) -> list[int | None]:
        """Store items in one transaction: each one's seq, None for one already stored
        (the messenger's id was seen before)."""
        ...

    async def inbox_pending(
        self,
        channel: ChannelKind,
        *,
        received_before: datetime | None = None,
        external_ids: Sequence[str] | None = None,
    ) -> list[InboxItem]:
        """Items not yet handled, in seq order (only those ids, when given)."""
        ...

    async def inbox_done(self, done: Sequence[InboxDone], at: datetime) -> None: ...

    async def inbox_attempted(self, seq: int) -> int:
        """Count one more failed attempt at an item; the new count."""
        ...

    async def inbox_failed(self, limit: int = 100) -> list[InboxFailure]:
        """Items passed over after failing every attempt, newest first."""
        ...

    async def inbox_retry(self, seq: int) -> bool:
        """Make a failed item pending again (handled at the next sweep or start); False when
        there is no failed item with this seq."""
        ...

    async def inbox_has(self, channel: ChannelKind, external_id: str) -> bool: ...

    async def conversation(self, channel: ChannelKind, citizen: str) -> Conversation | None: ...

    async def conversation_by_wa_id(self, wa_id: str) -> Conversation | None: ...

    async def conversation_of_contact(
        self, channel: ChannelKind, contact_id: str
    ) -> Conversation | None: ...

    async def save_conversation(self, conversation: Conversation, at: datetime) -> None:
        """Insert or replace the conversation's row."""
        ...

    async def add_delivery(self, delivery: Delivery) -> None: ...

    async def update_delivery(
        self,
        delivery_id: str,
        *,
        status: str,
        at: datetime,
        external_id: str | None = None,
        error: str | None = None,
        attempts: int | None = None,
    ) -> None: ...

    async def delivery(self, delivery_id: str) -> Delivery | None: ...

    async def delivery_by_external_id(
        self, channel: ChannelKind, external_id: str
    ) -> Delivery | None: ...

    async def pending_deliveries(self, channel: ChannelKind) -> list[Delivery]: ...

    async def deliveries(self, contact_id: str) -> list[Delivery]: ...


# --- what the shared handler and notifiers depend on (fakes in tests/unit implement them) ---


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """What a channel's handler makes of one citizen message, media already downloaded."""

    channel: ChannelKind
    external_id: str  # the messenger's id of this message (dedupe)
    text: str  # never empty: media-only messages carry a label
    location: Location | None = None
    attachments: tuple[tuple[Attachment, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Taken:
    contact_id: str
    created: bool  # a new contact (else appended to the open one, or a redelivery)


class Conversations(Protocol):
    """The conversations a handler and a notifier look up and save (the ChatStore, cached)."""

    async def conversation(self, channel: ChannelKind, citizen: str) -> Conversation | None: ...

    async def conversation_by_wa_id(self, wa_id: str) -> Conversation | None: ...

    async def save_conversation(self, conversation: Conversation, at: datetime) -> None: ...


class OpeningLock(Protocol):
    """Held while a conversation's new contact is opened, on every node (opening.py)."""

    def hold(self, channel: ChannelKind, citizen: str) -> AbstractAsyncContextManager[None]: ...


class ChatContacts(Protocol):
    """What the chat intake needs of the contacts (the kernel's ContactRepository)."""

    async def get(self, contact_id: str) -> Contact:
        """Raise NotFound for an unknown id."""
        ...

    async def save(self, contact: Contact) -> None: ...

    async def add_message_if_open(
        self, message: Message, attachments: Sequence[tuple[Attachment, bytes]] = ()
    ) -> bool:
        """The message with its files, in one transaction with a look at the contact: False
        (nothing stored) when the contact is closed, abandoned or unknown."""
        ...


class Intake(Protocol):
    """A citizen's message into their contact (ChatIntake)."""

    async def take(self, conversation: Conversation, message: ChatMessage) -> Taken:
        """Append to the conversation's open contact, or open a new one."""
        ...

    async def relocate(self, conversation: Conversation, location: Location) -> str | None:
        """Move the open contact (a live location); its id, None when there is none."""
        ...


class Messages(Protocol):
    """A channel's outbound messages (its Outbox)."""

    async def enqueue(
        self,
        *,
        citizen: str,
        body: Mapping[str, Any],
        contact_id: str | None,
        kind: str = "notice",
        delivery_id: str | None = None,
    ) -> Delivery:
        """Store the message (pending) and have it sent in the background."""
        ...

    async def status_callback(self, external_id: str, status: str, error: str | None) -> bool:
        """The messenger reports on a message it took; False when it is unknown."""
        ...
