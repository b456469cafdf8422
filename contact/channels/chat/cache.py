"""The chat store with conversations cached on this node for a short while."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime

from contact.channels.chat.ports import (
    ChatStore,
    Conversation,
    Delivery,
    InboxDone,
    InboxFailure,
    InboxItem,
)
from contact.domain.model import ChannelKind


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
        if conversation.contact_id is None:  # the row may name a contact: read it next time
            self.forget(conversation.channel, conversation.citizen)
        else:
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
        self,
        channel: ChannelKind,
        *,
        received_before: datetime | None = None,
        external_ids: Sequence[str] | None = None,
    ) -> list[InboxItem]:
        return await self._store.inbox_pending(
            channel, received_before=received_before, external_ids=external_ids
        )

    async def inbox_done(self, done: Sequence[InboxDone], at: datetime) -> None:
        await self._store.inbox_done(done, at)

    async def inbox_attempted(self, seq: int) -> int:
        return await self._store.inbox_attempted(seq)

    async def inbox_failed(self, limit: int = 100) -> list[InboxFailure]:
        return await self._store.inbox_failed(limit)

    async def inbox_retry(self, seq: int) -> bool:
        return await self._store.inbox_retry(seq)

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
