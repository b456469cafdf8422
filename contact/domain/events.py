"""Domain events: frozen, past tense, with a dotted wire name (`contact.queued`).

Every event is catalogued in docs/events.md; a unit test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from contact.domain.model import (
    ChannelKind,
    ContactState,
    Language,
    Location,
    Presence,
    Priority,
    utcnow,
)


@dataclass(frozen=True, kw_only=True)
class Event:
    name: ClassVar[str] = "event"
    # citizen data a projection must not copy onto topics visible to every operator
    personal: ClassVar[frozenset[str]] = frozenset()
    occurred_at: datetime = field(default_factory=utcnow)

    @property
    def key(self) -> str | None:
        """Events with the same key are handled in order (per contact)."""
        return getattr(self, "contact_id", None)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = self.name
        return data


# --- contacts ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContactReceived(Event):
    """A new contact was made durable by its channel (before the channel acknowledged it)."""

    name: ClassVar[str] = "contact.received"
    personal: ClassVar[frozenset[str]] = frozenset({"citizen", "location", "summary"})
    contact_id: str
    channel: ChannelKind
    priority: Priority
    language: Language | None
    citizen: str | None
    location: Location | None
    summary: str


@dataclass(frozen=True, kw_only=True)
class ContactQueued(Event):
    name: ClassVar[str] = "contact.queued"
    contact_id: str
    channel: ChannelKind
    priority: Priority
    score: float
    requeued: bool = False


@dataclass(frozen=True, kw_only=True)
class ContactOffered(Event):
    name: ClassVar[str] = "contact.offered"
    contact_id: str
    operator_id: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class OfferExpired(Event):
    """An offer was not accepted in time or was declined; the contact went back to the queue."""

    name: ClassVar[str] = "contact.offer_expired"
    contact_id: str
    operator_id: str
    declined: bool = False


@dataclass(frozen=True, kw_only=True)
class ContactAccepted(Event):
    name: ClassVar[str] = "contact.accepted"
    contact_id: str
    channel: ChannelKind
    operator_id: str
    waited_s: float


@dataclass(frozen=True, kw_only=True)
class ContactWrappedUp(Event):
    name: ClassVar[str] = "contact.wrapped_up"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class ContactClosed(Event):
    name: ClassVar[str] = "contact.closed"
    contact_id: str
    operator_id: str | None
    disposition: str | None


@dataclass(frozen=True, kw_only=True)
class ContactAbandoned(Event):
    """The citizen left (hung up, withdrew) before an operator answered."""

    name: ClassVar[str] = "contact.abandoned"
    contact_id: str
    previous: ContactState


@dataclass(frozen=True, kw_only=True)
class ContactLocated(Event):
    name: ClassVar[str] = "contact.located"
    personal: ClassVar[frozenset[str]] = frozenset({"location"})
    contact_id: str
    location: Location


@dataclass(frozen=True, kw_only=True)
class SlaBreached(Event):
    """A contact has waited longer than the answer target (10 s by default)."""

    name: ClassVar[str] = "contact.sla_breached"
    contact_id: str
    priority: Priority
    waited_s: float


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MessageReceived(Event):
    name: ClassVar[str] = "message.received"
    personal: ClassVar[frozenset[str]] = frozenset({"text"})
    contact_id: str
    message_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class ReplySent(Event):
    name: ClassVar[str] = "message.sent"
    personal: ClassVar[frozenset[str]] = frozenset({"text"})
    contact_id: str
    message_id: str
    operator_id: str
    text: str


# --- operators --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OperatorPresenceChanged(Event):
    name: ClassVar[str] = "operator.presence_changed"
    operator_id: str
    presence: Presence
    reason: str | None = None


ALL_EVENTS: tuple[type[Event], ...] = (
    ContactReceived,
    ContactQueued,
    ContactOffered,
    OfferExpired,
    ContactAccepted,
    ContactWrappedUp,
    ContactClosed,
    ContactAbandoned,
    ContactLocated,
    SlaBreached,
    MessageReceived,
    ReplySent,
    OperatorPresenceChanged,
)
