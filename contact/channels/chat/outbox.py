"""Messages to citizens' chats (Telegram, WhatsApp): stored, then sent in the background.

`Outbox.enqueue` writes the message with status `pending` and returns: an operator's reply or
an intake never waits for a messenger. A sender task per conversation sends in order, retries
what may pass later (network, 5xx, rate limits) with backoff, and records every change of the
delivery state, published as `message.delivery_changed` on the contact's topic so the operator
sees a failed send. Pending messages left by a restart are sent at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from contact.bus import MessageBus
from contact.channels.chat.inbox import WriteGate
from contact.channels.chat.ports import ChatStore, Conversation, Delivery, DeliveryStatus
from contact.domain import events as ev
from contact.domain.model import ChannelKind, new_id
from contact.errors import Unavailable

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send that did not go through. `retry`: it may pass later (after `retry_after_s`)."""

    def __init__(self, reason: str, *, retry: bool, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Sent:
    external_id: str | None
    status: str  # accepted | sent


class Sender(Protocol):
    async def send(self, delivery: Delivery, conversation: Conversation) -> Sent:
        """Hand the message to the messenger; raise DeliveryError when it did not take it."""
        ...


def advances(current: str, new: str) -> bool:
    """Statuses only move forward (callbacks arrive out of order); failed ends a message that
    was not yet delivered."""
    if current == DeliveryStatus.FAILED:
        return False
    if new == DeliveryStatus.FAILED:
        return DeliveryStatus.RANK[current] < DeliveryStatus.RANK[DeliveryStatus.DELIVERED]
    return DeliveryStatus.RANK.get(new, -1) > DeliveryStatus.RANK[current]


class Outbox:
    def __init__(
        self,
        channel: ChannelKind,
        *,
        store: ChatStore,
        bus: MessageBus,
        sender: Sender,
        attempts: int = 5,
        clock: Callable[[], float] = time.time,
        backoff_s: float = 0.5,
        concurrency: int = 16,
        gate: WriteGate | None = None,
    ) -> None:
        self.channel = channel
        self._gate = gate or WriteGate()
        self._store = store
        self._bus = bus
        self._sender = sender
        self._attempts = attempts
        self._clock = clock
        self._backoff_s = backoff_s
        self._slots = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, deque[Delivery]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._idle = asyncio.Event()
        self._idle.set()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def start(self) -> None:
        self._running = True
        for delivery in await self._store.pending_deliveries(self.channel):
            self._submit(delivery)

    async def stop(self) -> None:
        self._running = False
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._lanes.clear()
        self._idle.set()

    async def drained(self, within_s: float) -> None:
        async with asyncio.timeout(within_s):
            await self._idle.wait()

    async def enqueue(
        self,
        *,
        citizen: str,
        body: Mapping[str, Any],
        contact_id: str | None,
        kind: str = "notice",
        delivery_id: str | None = None,
    ) -> Delivery:
        """Store the message (pending) and have it sent; returns at once after the store."""
        delivery = Delivery(
            id=delivery_id or new_id(),
            channel=self.channel,
            citizen=citizen,
            kind=kind,
            body=dict(body),
            created_at=self._now(),
            contact_id=contact_id,
        )
        await self._store.add_delivery(delivery)
        if self._running:
            self._submit(delivery)
        return delivery

    def _submit(self, delivery: Delivery) -> None:
        self._idle.clear()
        lane = self._lanes.get(delivery.citizen)
        if lane is not None:
            lane.append(delivery)
            return
        self._lanes[delivery.citizen] = deque([delivery])
        # a fresh context: a task started inside an event handler would otherwise inherit
        # the bus's "events of the running handler" list and its events would never be handled
        task = asyncio.create_task(
            self._run_lane(delivery.citizen),
            name=f"{self.channel}-send",
            context=contextvars.Context(),
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_lane(self, citizen: str) -> None:
        lane = self._lanes[citizen]
        try:
            while lane:
                async with self._slots:
                    await self._deliver(lane[0])
                lane.popleft()
        finally:
            if not lane:
                self._lanes.pop(citizen, None)
            if not self._lanes:
                self._idle.set()

    async def _deliver(self, delivery: Delivery) -> None:
        attempts = delivery.attempts
        delay = self._backoff_s
        while True:
            try:
                conversation = await self._store.conversation(self.channel, delivery.citizen)
                if conversation is None:
                    raise DeliveryError("no conversation with this citizen", retry=False)
                sent = await self._sender.send(delivery, conversation)
            except Unavailable as error:  # our database: wait, the message is stored
                log.warning("%s delivery %s waits: %s", self.channel, delivery.id, error.message)
                await asyncio.sleep(min(delay, 5.0))
                continue
            except DeliveryError as error:
                attempts += 1
                if error.retry and attempts < self._attempts:
                    log.info(
                        "%s delivery %s retried: %s",
                        self.channel,
                        delivery.id,
                        error.reason,
                        extra={"contact_id": delivery.contact_id},
                    )
                    await asyncio.sleep(max(delay, error.retry_after_s or 0.0))
                    delay = min(delay * 2, 30.0)
                    continue
                log.warning(
                    "%s delivery %s failed: %s",
                    self.channel,
                    delivery.id,
                    error.reason,
                    extra={"contact_id": delivery.contact_id},
                )
                await self._record(delivery, DeliveryStatus.FAILED, error=error.reason, n=attempts)
                return
            await self._record(delivery, sent.status, external_id=sent.external_id, n=attempts + 1)
            return

    async def _record(
        self,
        delivery: Delivery,
        status: str,
        *,
        external_id: str | None = None,
        error: str | None = None,
        n: int | None = None,
    ) -> None:
        async with self._gate.background():
            await self._store.update_delivery(
                delivery.id,
                status=status,
                at=self._now(),
                external_id=external_id,
                error=error,
                attempts=n,
            )
            await self._publish(replace(delivery, status=status, error=error))

    async def _publish(self, delivery: Delivery) -> None:
        if delivery.contact_id is None:
            return
        await self._bus.publish(
            ev.MessageDeliveryChanged(
                contact_id=delivery.contact_id,
                message_id=delivery.id,
                channel=self.channel,
                status=delivery.status,
                kind=delivery.kind,
                error=delivery.error,
            )
        )

    async def status_callback(self, external_id: str, status: str, error: str | None) -> bool:
        """The messenger reports on a message it took (WhatsApp statuses). False when the
        message is unknown; a status that does not advance it is ignored."""
        delivery = await self._store.delivery_by_external_id(self.channel, external_id)
        if delivery is None:
            return False
        if not advances(delivery.status, status):
            return True
        await self._store.update_delivery(
            delivery.id, status=status, at=self._now(), error=error if status == "failed" else None
        )
        await self._publish(replace(delivery, status=status, error=error))
        return True
