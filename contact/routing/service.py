"""The routing service: keeps the QueueStore in step with durable contact state and pairs
waiting contacts with operators.

The database is the truth; the QueueStore (in-process or Redis) is a fast projection of it
that can be rebuilt at any time: at start, and whenever the store comes back after an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from contact.bus import MessageBus
from contact.config import RoutingSettings
from contact.domain import events as ev
from contact.domain.commands import Accept, Decline, SetPresence
from contact.domain.model import (
    CHANNEL_CAPABILITY,
    OPEN_STATES,
    Capability,
    Contact,
    ContactState,
    Presence,
    Priority,
)
from contact.domain.triage import queue_score
from contact.errors import Conflict, ContactError, Unavailable
from contact.ports import ContactRepository, Offer, OperatorRepository, QueueEntry, QueueStore

log = logging.getLogger(__name__)
_PRIORITY = frozenset({"priority"})
STOP_WAIT_S = 5.0  # a shutdown waits this long for the loop at most

Clock = Callable[[], float]


def entry_for(contact: Contact) -> QueueEntry:
    queued_at = contact.queued_at or contact.created_at
    return QueueEntry(
        contact_id=contact.id,
        priority=contact.priority,
        capability=contact.capability,
        language=contact.language,
        score=queue_score(contact.priority, queued_at, channel=contact.channel),
        queued_at=queued_at.timestamp(),
    )


def entry_from(event: ev.ContactQueued) -> QueueEntry:
    return QueueEntry(
        contact_id=event.contact_id,
        priority=event.priority,
        capability=CHANNEL_CAPABILITY[event.channel],
        language=event.language,
        score=queue_score(event.priority, event.queued_at, channel=event.channel),
        queued_at=event.queued_at.timestamp(),
    )


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class RoutingService:
    def __init__(
        self,
        *,
        store: QueueStore,
        contacts: ContactRepository,
        operators: OperatorRepository,
        bus: MessageBus,
        settings: RoutingSettings,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._contacts = contacts
        self._operators = operators
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._store_healthy = True
        # SLA deadlines: a heap of (deadline, contact, queued_at, priority); a contact that
        # left the queue is dropped from `_sla_open`, and its heap entry skipped when due
        self._sla_heap: list[tuple[float, str, float, Priority]] = []
        self._sla_open: set[str] = set()
        self._last_timers = 0.0
        self.assignments = 0

    # --- wiring ---------------------------------------------------------------------------

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ContactQueued, self._on_queued)
        bus.subscribe(ev.ContactAbandoned, self._on_left)
        bus.subscribe(ev.ContactClosed, self._on_left)
        bus.subscribe(ev.ContactAccepted, self._on_left_waiting)
        bus.register(Accept, self.accept)
        bus.register(Decline, self.decline)
        bus.register(SetPresence, self.set_presence)

    @property
    def store_healthy(self) -> bool:
        return self._store_healthy

    async def start(self) -> None:
        await self.rebuild()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="routing")

    async def stop(self) -> None:
        """Stop the loop. A cancellation swallowed somewhere below a tick (a driver that
        finishes its query first) still ends the loop at its next turn (`_stopping`); a
        shutdown never waits on it for more than STOP_WAIT_S."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_WAIT_S)
        if not done:
            log.warning("routing loop still busy %.0f s after stop; left behind", STOP_WAIT_S)
        elif not task.cancelled() and task.exception() is not None:
            log.error("routing loop ended with an error", exc_info=task.exception())

    def kick(self) -> None:
        """Something changed (a contact queued, an operator ready): try to assign now."""
        self._wake.set()

    # --- rebuilding the projection --------------------------------------------------------

    async def rebuild(self) -> None:
        """Put every durable waiting contact and ready operator back into the store, in the
        original order. Idempotent; safe while other nodes run."""
        try:
            live_offers = {o.contact_id for o in await self._store.offers()}
            waiting = await self._contacts.in_states(
                frozenset({ContactState.QUEUED, ContactState.OFFERED})
            )
            for contact in waiting:
                if contact.state is ContactState.OFFERED and contact.id not in live_offers:
                    # the offer died with the store or the node that made it (unless it was
                    # accepted or ended meanwhile: then it is no longer waiting)
                    holder = contact.operator_id
                    contact.transition(ContactState.QUEUED, _at(self._clock()))
                    if not await self._contacts.save_if(
                        contact, state=ContactState.OFFERED, operator_id=holder
                    ):
                        continue
                entry = entry_for(contact)
                if contact.id not in live_offers:
                    await self._store.enqueue(entry)
                self._watch(contact.id, entry.queued_at, contact.priority)
            presences = await self._operators.presences()
            known = {s.operator_id for s in await self._store.operators()}
            for operator in await self._operators.all():
                presence = presences.get(operator.id, Presence.AWAY)
                if operator.id in known or presence in (Presence.OFFERED, Presence.BUSY):
                    continue
                if presence is Presence.READY:
                    await self._store.set_presence(
                        operator.id, operator.skills, presence, self._clock()
                    )
            self._store_healthy = True
            log.info("queue rebuilt: %d waiting contacts", len(waiting))
        except Unavailable:
            self._store_healthy = False
            log.warning("queue store unavailable; will rebuild when it is back")
        self.kick()

    def _watch(self, contact_id: str, queued_at: float, priority: Priority) -> None:
        if contact_id in self._sla_open:
            return
        self._sla_open.add(contact_id)
        deadline = queued_at + self._settings.sla_answer_s
        heapq.heappush(self._sla_heap, (deadline, contact_id, queued_at, priority))

    def _unwatch(self, contact_id: str) -> None:
        self._sla_open.discard(contact_id)

    # --- event handlers -------------------------------------------------------------------

    async def _on_queued(self, event: ev.ContactQueued) -> None:
        entry = entry_from(event)
        self._watch(entry.contact_id, entry.queued_at, entry.priority)
        try:
            await self._store.enqueue(entry)
        except Unavailable:
            # durable already; the rebuild after the outage puts it in the queue
            self._store_healthy = False
            log.warning(
                "queue store unavailable; contact kept for rebuild",
                extra={"contact_id": event.contact_id},
            )
            return
        self.kick()

    async def _on_left(self, event: ev.ContactAbandoned | ev.ContactClosed) -> None:
        self._unwatch(event.contact_id)
        with contextlib.suppress(Unavailable):
            await self._store.remove(event.contact_id)
        self.kick()

    async def _on_left_waiting(self, event: ev.ContactAccepted) -> None:
        self._unwatch(event.contact_id)

    # --- commands -------------------------------------------------------------------------

    async def accept(self, command: Accept) -> Contact:
        contact = await self._contacts.get(command.contact_id)
        if contact.state is not ContactState.OFFERED or contact.operator_id != command.operator_id:
            raise Conflict("this contact is not offered to you", error_id="not_offered")
        now = self._clock()
        offer = await self._store.accept(command.contact_id, command.operator_id, now)
        if offer is None:
            raise Conflict("the offer has expired", error_id="offer_expired")
        contact.transition(ContactState.CONNECTED, _at(now))
        if not await self._contacts.save_if(
            contact, state=ContactState.OFFERED, operator_id=command.operator_id
        ):
            # ended meanwhile on another node (the caller hung up): nothing to connect, and
            # she is free again (that node's abandon tells her page)
            await self.set_presence(
                SetPresence(operator_id=command.operator_id, presence=Presence.READY)
            )
            raise Conflict("the contact has just ended", error_id="offer_expired")
        await self._operators.set_presence(command.operator_id, Presence.BUSY)
        waited = now - offer.entry.queued_at
        await self._bus.publish(
            ev.ContactAccepted(
                contact_id=contact.id,
                channel=contact.channel,
                operator_id=command.operator_id,
                waited_s=waited,
                citizen=contact.citizen,
                language=contact.language,
            )
        )
        await self._bus.publish(
            ev.OperatorPresenceChanged(operator_id=command.operator_id, presence=Presence.BUSY)
        )
        return contact

    async def decline(self, command: Decline) -> None:
        now = self._clock()
        offer = await self._store.decline(command.contact_id, command.operator_id, now)
        if offer is None:
            raise Conflict("this contact is not offered to you", error_id="not_offered")
        await self._offer_returned(offer, declined=True, presence=Presence.READY)

    async def set_presence(self, command: SetPresence) -> None:
        if command.presence in (Presence.OFFERED, Presence.BUSY):
            raise Conflict(f"presence {command.presence} is set by the queue, not by hand")
        operator = await self._operators.get(command.operator_id)
        await self._store.set_presence(
            operator.id, operator.skills, command.presence, self._clock()
        )
        await self._operators.set_presence(operator.id, command.presence)
        await self._bus.publish(
            ev.OperatorPresenceChanged(operator_id=operator.id, presence=command.presence)
        )
        if command.presence is Presence.READY:
            self.kick()

    async def log_out(self, operator_id: str) -> None:
        """The operator left: out of the pool; an offer they held goes back to the queue."""
        held = [o for o in await self._store.offers() if o.operator_id == operator_id]
        await self._store.forget_operator(operator_id)
        for offer in held:
            await self._offer_returned(offer, declined=True, presence=Presence.AWAY)
        if not held:
            await self._operators.set_presence(operator_id, Presence.AWAY)
            await self._bus.publish(
                ev.OperatorPresenceChanged(
                    operator_id=operator_id, presence=Presence.AWAY, reason="logout"
                )
            )

    async def release_operator(self, operator_id: str) -> None:
        """The operator finished a contact: wrap-up (timed) or ready at once."""
        presence = Presence.WRAP_UP if self._settings.wrap_up_s > 0 else Presence.READY
        await self.set_presence(SetPresence(operator_id=operator_id, presence=presence))

    async def operator_returned(self, operator_id: str) -> None:
        """The contact an operator was offered left; the store made them READY again."""
        await self._operators.set_presence(operator_id, Presence.READY)
        await self._bus.publish(
            ev.OperatorPresenceChanged(
                operator_id=operator_id, presence=Presence.READY, reason="contact_left"
            )
        )
        self.kick()

    async def _offer_returned(self, offer: Offer, *, declined: bool, presence: Presence) -> None:
        async with self._bus.holding(offer.contact_id):
            contact = await self._contacts.get(offer.contact_id)
            if contact.state is ContactState.OFFERED and contact.operator_id == offer.operator_id:
                contact.transition(ContactState.QUEUED, _at(self._clock()))
                # not over an abandon or an accept another node saved since the read
                await self._contacts.save_if(
                    contact, state=ContactState.OFFERED, operator_id=offer.operator_id
                )
        await self._operators.set_presence(offer.operator_id, presence)
        await self._bus.publish(
            ev.OfferExpired(
                contact_id=offer.contact_id, operator_id=offer.operator_id, declined=declined
            )
        )
        await self._bus.publish(
            ev.OperatorPresenceChanged(
                operator_id=offer.operator_id,
                presence=presence,
                reason="declined" if declined else "missed_offer",
            )
        )
        self.kick()

    async def reprioritise(self, contact_id: str, priority: Priority) -> bool:
        """Move an open contact up to `priority` (never down): durable first, then its place
        in the queue if it is waiting (an offered one keeps its offer; declined or expired,
        it returns with the new score). False: nothing changed (closed, already as urgent)."""
        # the priority alone, while the contact is as read: a transcript or a message raising
        # it must not write back a state that an accept or an abandon changed meanwhile
        async with self._bus.holding(contact_id):
            while True:
                contact = await self._contacts.get(contact_id)
                if priority >= contact.priority or contact.state not in OPEN_STATES:
                    return False
                contact.priority = priority
                if await self._contacts.save_if(
                    contact, state=contact.state, operator_id=contact.operator_id, only=_PRIORITY
                ):
                    break
        if contact.state in (ContactState.QUEUED, ContactState.OFFERED):
            try:
                await self._store.reprioritise(entry_for(contact))
            except Unavailable:
                self._store_healthy = False  # the rebuild reads the new priority back
            self.kick()
        log.info("contact moved up to %s", priority.name.lower(), extra={"contact_id": contact_id})
        return True

    async def longest_idle(
        self, capability: Capability, *, exclude: frozenset[str] | set[str] = frozenset()
    ) -> str | None:
        """The ready operator a new contact needing `capability` (no language yet) would be
        offered to now: the longest idle, as the store's pools order them."""
        ready = [
            (status.since, status.operator_id)
            for status in await self._store.operators()
            if status.presence is Presence.READY
            and capability in status.skills.capabilities
            and status.operator_id not in exclude
        ]
        return min(ready)[1] if ready else None

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.tick_s)
            self._wake.clear()
            now = self._clock()
            timers = now - self._last_timers >= self._settings.tick_s
            if timers:
                self._last_timers = now
            try:
                await self.tick(timers=timers)
            except Unavailable:
                if self._store_healthy:
                    log.warning("queue store unavailable")
                self._store_healthy = False
            except Exception:
                log.exception("routing tick failed")

    async def tick(self, *, timers: bool = True) -> None:
        """One pass: recover the store, assign; with `timers` also expire offers, end
        wrap-ups and raise SLA breaches. A kick (a contact queued, an operator ready) needs
        only the assignment; the timers run every tick_s."""
        if not self._store_healthy:
            await self._store.ping()
            log.info("queue store is back; rebuilding")
            await self.rebuild()
        now = self._clock()
        if timers:
            for expired in await self._store.expire_offers(now):
                presence = Presence.AWAY if self._settings.away_on_missed_offer else Presence.READY
                await self._offer_returned(expired, declined=False, presence=presence)
        while (offer := await self._store.assign(self._clock())) is not None:
            await self._offered(offer)
        if timers:
            await self._end_wrap_ups(now)
            await self._check_sla(now)

    async def _offered(self, offer: Offer) -> None:
        self.assignments += 1
        try:
            # under the contact's lock and conditional on its state: an abandon in the same
            # moment (this node's, or another's) is never overwritten by the offer, which
            # would leave the contact offered with nobody calling
            async with self._bus.holding(offer.contact_id):
                contact = await self._contacts.get(offer.contact_id)
                offered = contact.state is ContactState.QUEUED
                if offered:
                    holder = contact.operator_id
                    contact.transition(ContactState.OFFERED, _at(self._clock()))
                    contact.operator_id = offer.operator_id
                    offered = await self._contacts.save_if(
                        contact, state=ContactState.QUEUED, operator_id=holder
                    )
                if not offered:  # gone meanwhile: give the operator back
                    await self._store.remove(offer.contact_id)
                    return
                await self._operators.set_presence(offer.operator_id, Presence.OFFERED)
        except ContactError:
            log.exception(
                "offer could not be recorded; returning it", extra={"contact_id": offer.contact_id}
            )
            await self._store.decline(offer.contact_id, offer.operator_id, self._clock())
            return
        await self._bus.publish(
            ev.ContactOffered(
                contact_id=offer.contact_id,
                operator_id=offer.operator_id,
                expires_at=_at(offer.expires_at),
            )
        )
        await self._bus.publish(
            ev.OperatorPresenceChanged(operator_id=offer.operator_id, presence=Presence.OFFERED)
        )

    async def _end_wrap_ups(self, now: float) -> None:
        for status in await self._store.operators():
            if (
                status.presence is Presence.WRAP_UP
                and now - status.since >= self._settings.wrap_up_s
            ):
                await self.set_presence(
                    SetPresence(operator_id=status.operator_id, presence=Presence.READY)
                )

    async def _check_sla(self, now: float) -> None:
        heap = self._sla_heap
        while heap and heap[0][0] <= now:
            _, contact_id, queued_at, priority = heapq.heappop(heap)
            if contact_id not in self._sla_open:
                continue  # answered or gone before its deadline
            self._sla_open.discard(contact_id)
            await self._bus.publish(
                ev.SlaBreached(contact_id=contact_id, priority=priority, waited_s=now - queued_at)
            )
