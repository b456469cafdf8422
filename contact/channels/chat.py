"""What the chat channels (Telegram, WhatsApp) share in one container: the store, the durable
inbox (one group-committing writer for both) and the intake into contacts. Built once, by
whichever chat channel installs first."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from contact.bus import MessageBus
from contact.channels.chat_intake import ChatIntake
from contact.channels.inbox import Inbox, WriteGate
from contact.channels.outbox import Outbox
from contact.domain import events as ev
from contact.domain.model import ChannelKind, Contact, Language
from contact.errors import TooManyRequests
from contact.i18n import text
from contact.ports import (
    Broadcast,
    ChatStore,
    ContactRepository,
    Conversation,
    Delivery,
    InboxDone,
    InboxItem,
)

if TYPE_CHECKING:
    from contact.bootstrap import Container

EXTRAS_KEY = "chat"


@dataclass
class ChatRuntime:
    store: CachedChatStore
    inbox: Inbox
    intake: ChatIntake
    gate: WriteGate


def chat_runtime(container: Container) -> ChatRuntime:
    runtime = container.extras.get(EXTRAS_KEY)
    if isinstance(runtime, ChatRuntime):
        return runtime
    store = CachedChatStore(container.db.chats)
    gate = WriteGate()
    runtime = ChatRuntime(
        store=store,
        inbox=Inbox(store, clock=container.clock, gate=gate),
        intake=ChatIntake(
            bus=container.bus, contacts=container.db.contacts, store=store, clock=container.clock
        ),
        gate=gate,
    )
    runtime.intake.register(container.bus)
    DeliveryProjection(container.broadcast).register(container.bus)
    container.services.append(runtime.inbox)
    container.extras[EXTRAS_KEY] = runtime
    return runtime


class MediaError(Exception):
    """A citizen's file that could not be fetched from the messenger; `retry`: it may work
    later (network, the messenger's 5xx), else it never will (too large, gone, wrong hash)."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class CitizenLimiter:
    """Messages per citizen per minute, per node (a flood from one account stays its own).

    Only messages actually stored count: a messenger redelivering what was stored already
    (after a 429 for another message of the same POST, say) does not use up the citizen's
    allowance. `admit` checks a batch (counting its own earlier items), `count` records what
    the inbox stored.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        window_s: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = per_minute
        self._window = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> deque[float]:
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self._window:
            hits.popleft()
        return hits

    def admit(self, keys: Sequence[str | None]) -> list[bool]:
        """For each item of a batch (None: not limited, e.g. a status): may it be stored?"""
        pending: dict[str, int] = {}
        allowed = []
        for key in keys:
            if key is None:
                allowed.append(True)
                continue
            used = len(self._recent(key)) + pending.get(key, 0)
            ok = used < self._limit
            if ok:
                pending[key] = pending.get(key, 0) + 1
            allowed.append(ok)
        return allowed

    def count(self, key: str) -> None:
        self._recent(key).append(self._clock())

    def refusal(self) -> TooManyRequests:
        return TooManyRequests(
            "too many messages from this citizen; retry in a minute",
            error_id="rate_limited",
            details={"retry_after_s": int(self._window)},
        )


def citizen_limiter(per_minute: int) -> CitizenLimiter:
    return CitizenLimiter(per_minute)


def report_number(contact_id: str) -> str:
    """What the citizen is told: short enough to read out on the phone, unique enough."""
    return contact_id[:8].upper()


# what an operator's browser may be handed inline; anything else is served as a download type
SAFE_MEDIA_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/heic",
        "video/mp4",
        "video/3gpp",
        "video/quicktime",
        "video/webm",
        "audio/ogg",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/amr",
        "audio/opus",
        "application/pdf",
        "text/plain",
    }
)


def safe_media_type(declared: str | None, default: str = "application/octet-stream") -> str:
    """The sender declares the type; only harmless ones are kept (no text/html inline)."""
    if not declared:
        return default
    media_type = declared.split(";", 1)[0].strip().lower()
    return media_type if media_type in SAFE_MEDIA_TYPES else "application/octet-stream"


def safe_filename(name: str | None) -> str | None:
    if not name:
        return None
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\\x00"')
    return cleaned.strip()[:200] or None


# --- what citizens are told ------------------------------------------------------------


def say(key: str, language: Language | None, **values: str) -> str:
    """A bot text in the citizen's language; in both (Kazakh first) while it is not known."""
    if language is not None:
        return text(key, language).format(**values)
    return "\n\n".join(text(key, lang).format(**values) for lang in (Language.KK, Language.RU))


def received_text(contact_id: str, language: Language | None) -> str:
    number = report_number(contact_id)
    if language is not None:
        return f"{say('chat.received', language, number=number)}\n{say('citizen.danger', language)}"
    return "\n\n".join(
        f"{say('chat.received', lang, number=number)}\n{say('citizen.danger', lang)}"
        for lang in (Language.KK, Language.RU)
    )


def greeting_text() -> str:
    return "\n\n".join(
        f"{say('chat.greeting', lang)}\n{say('citizen.danger', lang)}"
        for lang in (Language.KK, Language.RU)
    )


LANGUAGE_BUTTONS: list[list[dict[str, str]]] = [
    [
        {"text": text("chat.language_name", Language.KK), "data": "lang:kk"},
        {"text": text("chat.language_name", Language.RU), "data": "lang:ru"},
    ]
]


class ChatNotifier:
    """Tells a chat citizen what happens to their report: its number (with the advice to call
    102 when life is in danger), that an operator took it, that a unit is on its way, that it
    was closed; and the operators' replies. Everything goes through the channel's Outbox."""

    channel: ChannelKind

    def __init__(self, *, contacts: ContactRepository, store: ChatStore, outbox: Outbox) -> None:
        self._contacts = contacts
        self._store = store
        self.outbox = outbox

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ContactReceived, self._received)
        bus.subscribe(ev.ContactAccepted, self._accepted)
        bus.subscribe(ev.UnitDispatched, self._dispatched)
        bus.subscribe(ev.ContactClosed, self._closed)
        bus.subscribe(ev.ReplySent, self._reply)

    async def _mine(self, contact_id: str) -> tuple[Contact, Conversation] | None:
        contact = await self._contacts.get(contact_id)
        if contact.channel is not self.channel or contact.citizen is None:
            return None
        conversation = await self._store.conversation(self.channel, contact.citizen)
        return None if conversation is None else (contact, conversation)

    def received_body(self, contact_id: str, conversation: Conversation) -> dict[str, Any]:
        return {"text": received_text(contact_id, conversation.language)}

    async def notice(self, contact: Contact, conversation: Conversation, key: str) -> None:
        body = {"text": say(key, conversation.language, number=report_number(contact.id))}
        await self.outbox.enqueue(citizen=conversation.citizen, body=body, contact_id=contact.id)

    async def _received(self, event: ev.ContactReceived) -> None:
        if event.channel is not self.channel or event.citizen is None:
            return
        conversation = await self._store.conversation(self.channel, event.citizen)
        if conversation is not None:
            body = self.received_body(event.contact_id, conversation)
            await self.outbox.enqueue(
                citizen=conversation.citizen, body=body, contact_id=event.contact_id
            )

    async def _accepted(self, event: ev.ContactAccepted) -> None:
        if event.channel is self.channel and (found := await self._mine(event.contact_id)):
            await self.notice(*found, "chat.accepted")

    async def _dispatched(self, event: ev.UnitDispatched) -> None:
        if found := await self._mine(event.contact_id):
            await self.notice(*found, "chat.dispatched")

    async def _closed(self, event: ev.ContactClosed) -> None:
        if found := await self._mine(event.contact_id):
            await self.notice(*found, "chat.closed")

    async def _reply(self, event: ev.ReplySent) -> None:
        if found := await self._mine(event.contact_id):
            contact, conversation = found
            await self.outbox.enqueue(
                citizen=conversation.citizen,
                body={"text": event.text},
                contact_id=contact.id,
                kind="reply",
                delivery_id=event.message_id,
            )


class DeliveryProjection:
    """Delivery changes of a chat message → the contact's topic, where its operator (and the
    supervisors watching) see that a reply was delivered, read, or failed and why."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.MessageDeliveryChanged, self._changed)

    async def _changed(self, event: ev.MessageDeliveryChanged) -> None:
        await self._broadcast.publish(
            f"contact:{event.contact_id}",
            {
                "type": event.name,
                "at": event.occurred_at.isoformat(),
                "contact_id": event.contact_id,
                "message_id": event.message_id,
                "channel": event.channel.value,
                "kind": event.kind,
                "status": event.status,
                "error": event.error,
            },
        )


class CachedChatStore:
    """The ChatStore with conversations cached on this node for a short while: the handling
    of every message, its notices and its sends all look the conversation up, and it rarely
    changes. Writes go through (and refresh the cache). Another node's change is seen after
    `ttl_s` at most; the one change that matters at once (a newer contact) is re-read on the
    conflict it causes (see ChatIntake.take)."""

    def __init__(
        self,
        store: ChatStore,
        *,
        ttl_s: float = 30.0,
        max_size: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._max = max_size
        self._clock = clock
        self._cache: OrderedDict[tuple[ChannelKind, str], tuple[float, Conversation]] = (
            OrderedDict()
        )

    def forget(self, channel: ChannelKind, citizen: str) -> None:
        self._cache.pop((channel, citizen), None)

    def _keep(self, conversation: Conversation) -> None:
        key = (conversation.channel, conversation.citizen)
        self._cache[key] = (self._clock() + self._ttl, conversation)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)

    async def conversation(self, channel: ChannelKind, citizen: str) -> Conversation | None:
        found = self._cache.get((channel, citizen))
        if found is not None and found[0] > self._clock():
            return found[1]
        conversation = await self._store.conversation(channel, citizen)
        if conversation is not None:
            self._keep(conversation)
        return conversation

    async def save_conversation(self, conversation: Conversation, at: datetime) -> None:
        try:
            await self._store.save_conversation(conversation, at)
        except BaseException:
            self.forget(conversation.channel, conversation.citizen)
            raise
        self._keep(conversation)

    async def conversation_by_wa_id(self, wa_id: str) -> Conversation | None:
        return await self._store.conversation_by_wa_id(wa_id)

    async def conversation_of_contact(
        self, channel: ChannelKind, contact_id: str
    ) -> Conversation | None:
        return await self._store.conversation_of_contact(channel, contact_id)

    async def inbox_add(self, items: Sequence[InboxItem]) -> list[int | None]:
        return await self._store.inbox_add(items)

    async def inbox_pending(
        self, channel: ChannelKind, *, received_before: datetime | None = None
    ) -> list[InboxItem]:
        return await self._store.inbox_pending(channel, received_before=received_before)

    async def inbox_done(self, done: Sequence[InboxDone], at: datetime) -> None:
        await self._store.inbox_done(done, at)

    async def inbox_attempted(self, seq: int) -> int:
        return await self._store.inbox_attempted(seq)

    async def inbox_has(self, channel: ChannelKind, external_id: str) -> bool:
        return await self._store.inbox_has(channel, external_id)

    async def add_delivery(self, delivery: Delivery) -> None:
        await self._store.add_delivery(delivery)

    async def update_delivery(
        self,
        delivery_id: str,
        *,
        status: str,
        at: datetime,
        external_id: str | None = None,
        error: str | None = None,
        attempts: int | None = None,
    ) -> None:
        await self._store.update_delivery(
            delivery_id,
            status=status,
            at=at,
            external_id=external_id,
            error=error,
            attempts=attempts,
        )

    async def delivery(self, delivery_id: str) -> Delivery | None:
        return await self._store.delivery(delivery_id)

    async def delivery_by_external_id(
        self, channel: ChannelKind, external_id: str
    ) -> Delivery | None:
        return await self._store.delivery_by_external_id(channel, external_id)

    async def pending_deliveries(self, channel: ChannelKind) -> list[Delivery]:
        return await self._store.pending_deliveries(channel)

    async def deliveries(self, contact_id: str) -> list[Delivery]:
        return await self._store.deliveries(contact_id)
