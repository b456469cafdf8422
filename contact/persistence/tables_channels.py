"""SQLModel tables for the chat channels (Telegram, WhatsApp): the durable inbox every inbound
item is written to before the messenger gets its 200, each citizen's conversation (language,
latest contact, last message time for WhatsApp's 24-hour window), and the outbound messages
with their delivery state. Migrated by revision 0003.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field

from contact.persistence.tables import Base, UtcDateTime


class ChatInboxRow(Base, table=True):
    """One inbound item exactly as the messenger sent it, stored before it is acknowledged.

    (channel, external_id) is the messenger's own id (Telegram update id, WhatsApp message id
    or status), so a redelivery is stored once. Items of one `lane` (a conversation) are
    handled in `seq` order; `processed_at` is set once the item is in a contact (or was
    deliberately ignored), and a restart handles every row still without it.
    """

    __tablename__ = "chat_inbox"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    seq: int | None = Field(default=None, primary_key=True)
    channel: str
    external_id: str
    lane: str
    payload: str = Field(sa_type=Text)  # JSON
    received_at: datetime = Field(sa_type=UtcDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    outcome: str | None = None  # contact | message | location | ignored | invalid | failed …
    contact_id: str | None = None
    attempts: int = 0


class ChatConversationRow(Base, table=True):
    """A citizen on a messenger: Telegram keyed on the chat id, WhatsApp on the business-scoped
    user id (or the phone number when the payload carries no user id)."""

    __tablename__ = "chat_conversations"

    channel: str = Field(primary_key=True)
    citizen: str = Field(primary_key=True)  # the key; Contact.citizen of its contacts
    address: str  # where messages go: Telegram chat id, WhatsApp user id or phone number
    language: str | None = None  # chosen by the citizen (remembered), else a hint
    language_chosen: bool = False
    contact_id: str | None = Field(default=None, index=True)  # the latest contact
    user_id: str | None = None  # WhatsApp business-scoped user id
    wa_id: str | None = Field(default=None, index=True)  # WhatsApp phone number, when shown
    display_name: str | None = None
    last_inbound_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class ChatDeliveryRow(Base, table=True):
    """A message to a citizen's chat: an operator's reply (id = the message id) or a notice
    the center sends itself (report number, status changes), and how far it got."""

    __tablename__ = "chat_deliveries"
    __table_args__ = (
        Index(None, "channel", "external_id"),
        Index(None, "channel", "status"),
    )

    id: str = Field(primary_key=True)
    channel: str
    contact_id: str | None = Field(default=None, index=True)  # None: before any contact
    citizen: str  # the conversation key
    kind: str  # reply | notice
    body: str = Field(sa_type=Text)  # JSON: text and buttons, as the channel renders them
    status: str  # pending | accepted | sent | delivered | read | failed
    external_id: str | None = None  # the messenger's id of the sent message
    error: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


__all__ = ["ChatConversationRow", "ChatDeliveryRow", "ChatInboxRow"]
