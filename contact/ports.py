"""The seams: typing.Protocols that services depend on and adapters implement.

Naming: `<Tech><Port>` is a concrete adapter (RedisQueueStore, SqlContactRepository),
`Memory<Port>` an in-process one, `Fake<Port>` a test double.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from contact.domain.model import (
    Attachment,
    Capability,
    ChannelKind,
    Contact,
    ContactState,
    Incident,
    Language,
    Message,
    Operator,
    Presence,
    Priority,
    Role,
    Skills,
)

# --- routing: the unified queue and operator availability -------------------------------


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """What the queue needs to know about a waiting contact; no citizen data."""

    contact_id: str
    priority: Priority
    capability: Capability
    language: Language | None
    score: float  # triage.queue_score: lower goes first
    queued_at: float  # epoch seconds of first arrival (for waits and language fallback)


@dataclass(frozen=True, slots=True)
class OperatorStatus:
    operator_id: str
    presence: Presence
    since: float  # epoch seconds the presence began (idle-since when READY)
    skills: Skills
    contact_id: str | None = None  # the offer or the contact being worked


@dataclass(frozen=True, slots=True)
class Offer:
    entry: QueueEntry
    operator_id: str
    expires_at: float

    @property
    def contact_id(self) -> str:
        return self.entry.contact_id


@dataclass(frozen=True, slots=True)
class AssignmentPolicy:
    offer_timeout_s: float = 15.0
    language_fallback_s: float = 20.0
    scan_depth: int = 64
    away_on_missed_offer: bool = True


class QueueStore(Protocol):
    """The unified queue plus the operators it may be offered to.

    Both live behind one port because pairing them must be one atomic step: no operator ever
    holds two offers and no contact is offered twice, also across several server processes.
    """

    async def enqueue(self, entry: QueueEntry) -> bool:
        """Add a waiting contact; False (and no change) when it is already waiting or offered."""
        ...

    async def remove(self, contact_id: str) -> QueueEntry | None:
        """Take a contact out (abandoned, closed elsewhere). An offer holder becomes READY."""
        ...

    async def waiting(self, limit: int | None = None) -> list[QueueEntry]:
        """Waiting contacts in queue order (not the offered ones)."""
        ...

    async def offers(self) -> list[Offer]: ...

    async def set_presence(
        self, operator_id: str, skills: Skills, presence: Presence, now: float
    ) -> None:
        """Record an operator's presence. READY joins the ready pool with idle-since = now.
        Not allowed to drop an operator's current offer: use decline for that."""
        ...

    async def forget_operator(self, operator_id: str) -> None:
        """The operator logged out; any offer they held goes back to the queue."""
        ...

    async def operators(self) -> list[OperatorStatus]: ...

    async def assign(self, now: float) -> Offer | None:
        """Atomically offer the first waiting contact that a ready operator can take to the
        longest-idle such operator. None when no pair exists."""
        ...

    async def accept(self, contact_id: str, operator_id: str, now: float) -> Offer | None:
        """Turn the operator's offer into work (operator BUSY). None if no such offer."""
        ...

    async def decline(self, contact_id: str, operator_id: str, now: float) -> Offer | None:
        """The operator passes: the contact returns to its place, the operator is READY."""
        ...

    async def expire_offers(self, now: float) -> list[Offer]:
        """Offers past their deadline: contacts return to their place; operators go AWAY (or
        READY, by policy)."""
        ...

    async def ping(self) -> None:
        """Raise Unavailable when the backing service is down."""
        ...

    async def close(self) -> None: ...


# --- fan-out of projections to every node's WebSocket clients ---------------------------

BroadcastListener = Callable[[str, Mapping[str, Any]], Awaitable[None]]


class Broadcast(Protocol):
    """Topic messages to every node: in-process for one node, Redis pub/sub for several."""

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None: ...

    def listen(self, listener: BroadcastListener) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class BackgroundService(Protocol):
    """A long-running part of a plugin; every start has a stop that cancels and awaits."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# --- persistence --------------------------------------------------------------------------


class ContactRepository(Protocol):
    async def add(
        self,
        contact: Contact,
        message: Message | None = None,
        attachments: Sequence[tuple[Attachment, bytes]] = (),
        external_id: str | None = None,
    ) -> str:
        """Store a new contact with its first message and attachments in one transaction.
        With an external_id already stored for this channel, store nothing and return the
        existing contact's id (idempotent intake)."""
        ...

    async def get(self, contact_id: str) -> Contact:
        """Raise NotFound for an unknown id."""
        ...

    async def save(self, contact: Contact) -> None:
        """Persist state, operator, timestamps, location, language, priority, incident."""
        ...

    async def find_by_external_id(
        self, channel: ChannelKind, external_id: str
    ) -> Contact | None: ...

    async def in_states(self, states: frozenset[ContactState]) -> list[Contact]:
        """Oldest first by queued_at, then created_at (to rebuild the queue after a restart)."""
        ...

    async def recent(self, limit: int = 100) -> list[Contact]: ...

    async def add_message(self, message: Message) -> None: ...

    async def messages(self, contact_id: str) -> list[Message]: ...

    async def attachments(self, contact_id: str) -> list[Attachment]: ...

    async def attachment_content(self, attachment_id: str) -> tuple[Attachment, bytes]: ...


@dataclass(frozen=True, slots=True)
class Credentials:
    operator: Operator
    password_hash: str


class OperatorRepository(Protocol):
    async def add(self, operator: Operator, password_hash: str) -> None:
        """Raise Conflict when the username is taken."""
        ...

    async def get(self, operator_id: str) -> Operator: ...

    async def by_username(self, username: str) -> Credentials | None: ...

    async def all(self) -> list[Operator]: ...

    async def set_password(self, operator_id: str, password_hash: str) -> None: ...

    async def set_presence(self, operator_id: str, presence: Presence) -> None:
        """Remembered so a restarted node (or a Redis that lost its data) can rebuild the pool."""
        ...

    async def presences(self) -> dict[str, Presence]: ...


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str  # sha256 of the cookie value; the raw token is never stored
    operator_id: str
    role: Role
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


class SessionRepository(Protocol):
    async def create(self, session: Session) -> None: ...

    async def get(self, token_hash: str) -> Session | None: ...

    async def touch(self, token_hash: str, at: datetime) -> None: ...

    async def delete(self, token_hash: str) -> None: ...

    async def delete_for_operator(self, operator_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str  # operator id, or "system", or "citizen:<channel>"
    action: str  # "contact.view", "contact.accept", "operator.login" …
    subject: str | None  # the contact, operator or incident acted on
    details: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""


@dataclass(frozen=True, slots=True)
class AuditProblem:
    seq: int
    problem: str  # "edited", "inserted", "deleted", "broken link"


class AuditLog(Protocol):
    async def append(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry: ...

    async def entries(self, subject: str | None = None, limit: int = 100) -> list[AuditEntry]: ...

    async def verify(self) -> list[AuditProblem]:
        """Recompute the hash chain; an empty list means untouched."""
        ...


class IncidentRepository(Protocol):
    async def add(self, incident: Incident) -> None: ...

    async def get(self, incident_id: str) -> Incident: ...

    async def save(self, incident: Incident) -> None: ...


class Database(Protocol):
    """Lifecycle and health of the SQL store behind the repositories."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
