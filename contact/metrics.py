"""Prometheus metrics, one registry per container (no globals, so tests can build many).

Gauges that describe the queue (depth by priority, operators by state) are refreshed from the
QueueStore right before each scrape: the store is the truth, counting events would drift.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.model import ChannelKind, Presence, Priority
from contact.ports import QueueStore

WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self, *, store: QueueStore, sla_answer_s: float) -> None:
        self._store = store
        self._sla = sla_answer_s
        self.registry = CollectorRegistry()
        r = self.registry
        self.depth = Gauge(
            "contact_queue_depth", "Contacts waiting, by priority", ["priority"], registry=r
        )
        self.offered = Gauge(
            "contact_queue_offered", "Contacts offered, not yet accepted", registry=r
        )
        self.operators = Gauge(
            "contact_operators", "Operators by presence", ["presence"], registry=r
        )
        self.wait = Histogram(
            "contact_wait_seconds",
            "Time from queued to accepted",
            ["channel"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.answered = Counter(
            "contact_answered_total", "Contacts accepted by an operator", registry=r
        )
        self.answered_in_sla = Counter(
            "contact_answered_within_sla_total",
            "Contacts accepted within the answer target (10 s by default)",
            registry=r,
        )
        self.sla_share = Gauge(
            "contact_answered_within_sla_ratio",
            "Share of accepted contacts answered within the target",
            registry=r,
        )
        self.received = Counter(
            "contact_received_total", "Contacts received", ["channel"], registry=r
        )
        self.abandoned = Counter("contact_abandoned_total", "Contacts abandoned", registry=r)
        self.sla_breaches = Counter(
            "contact_sla_breaches_total", "Contacts that waited past the answer target", registry=r
        )
        self.inbox_failed = Counter(
            "contact_inbox_failed_total",
            "Chat items that failed every attempt and were passed over (contact inbox failed)",
            ["channel"],
            registry=r,
        )
        for channel in ChannelKind:  # every series exists from the first scrape
            self.wait.labels(channel.value)
            self.received.labels(channel.value)
        self._answered_n = 0
        self._in_sla_n = 0
        self.sla_breach_count = 0

    def inbox_failed_once(self, channel: ChannelKind) -> None:
        self.inbox_failed.labels(channel.value).inc()

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ContactReceived, self._received)
        bus.subscribe(ev.ContactAccepted, self._accepted)
        bus.subscribe(ev.ContactAbandoned, self._abandoned)
        bus.subscribe(ev.SlaBreached, self._breached)

    async def _received(self, event: ev.ContactReceived) -> None:
        self.received.labels(event.channel.value).inc()

    async def _accepted(self, event: ev.ContactAccepted) -> None:
        self.wait.labels(event.channel.value).observe(event.waited_s)
        self.answered.inc()
        self._answered_n += 1
        if event.waited_s <= self._sla:
            self.answered_in_sla.inc()
            self._in_sla_n += 1
        self.sla_share.set(self._in_sla_n / self._answered_n)

    async def _abandoned(self, event: ev.ContactAbandoned) -> None:
        self.abandoned.inc()

    async def _breached(self, event: ev.SlaBreached) -> None:
        self.sla_breaches.inc()
        self.sla_breach_count += 1

    @property
    def answered_count(self) -> int:
        return self._answered_n

    @property
    def answered_within_sla_ratio(self) -> float | None:
        return self._in_sla_n / self._answered_n if self._answered_n else None

    def render_cached(self) -> bytes:
        """The last known figures, when the queue store cannot be read (Redis down)."""
        return generate_latest(self.registry)

    async def render(self) -> bytes:
        waiting = await self._store.waiting()
        counts = dict.fromkeys(Priority, 0)
        for entry in waiting:
            counts[entry.priority] += 1
        for priority, n in counts.items():
            self.depth.labels(priority.name.lower()).set(n)
        self.offered.set(len(await self._store.offers()))
        presences = dict.fromkeys(Presence, 0)
        for status in await self._store.operators():
            presences[status.presence] += 1
        for presence, n in presences.items():
            self.operators.labels(presence.value).set(n)
        return generate_latest(self.registry)
