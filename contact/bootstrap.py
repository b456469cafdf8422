"""The composition root: builds every adapter and service from Settings into a Container.

Nothing in the package creates a client at import time; tests build the same container with
other settings (or other parts through `overrides`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from contact.broadcast import MemoryBroadcast, RedisBroadcast
from contact.bus import MessageBus
from contact.config import Settings
from contact.metrics import Metrics
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import schema_status, upgrade
from contact.ports import AssignmentPolicy, BackgroundService, Broadcast, QueueStore
from contact.redis_keys import RedisKeys
from contact.routing.lifecycle import ContactLifecycle
from contact.routing.memory_store import MemoryQueueStore
from contact.routing.redis_store import RedisQueueStore
from contact.routing.service import RoutingService

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    node_id: str
    db: SqlDatabase
    store: QueueStore
    broadcast: Broadcast
    bus: MessageBus
    routing: RoutingService
    lifecycle: ContactLifecycle
    metrics: Metrics
    redis: aioredis.Redis | None
    clock: Callable[[], float] = time.time
    # background services of plugins (AMI client, Telegram polling …): started after routing
    # in order, stopped before it in reverse order
    services: list[BackgroundService] = field(default_factory=list)
    # what plugins share with their routes (their clients, registries), by plugin name
    extras: dict[str, Any] = field(default_factory=dict)
    _started: bool = False

    async def start(self) -> None:
        await self.broadcast.start()
        await self.routing.start()
        for service in self.services:
            await service.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            for service in reversed(self.services):
                await service.stop()
            await self.routing.stop()
            await self.broadcast.stop()
            self._started = False
        await self.store.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.close()


def policy_from(settings: Settings) -> AssignmentPolicy:
    r = settings.routing
    return AssignmentPolicy(
        offer_timeout_s=r.offer_timeout_s,
        language_fallback_s=r.language_fallback_s,
        scan_depth=r.scan_depth,
        away_on_missed_offer=r.away_on_missed_offer,
    )


async def prepare_database(settings: Settings) -> None:
    """Embedded SQLite migrates itself; a shared PostgreSQL must be migrated on purpose
    (`contact db upgrade`) so several nodes never race a migration."""
    if settings.database.is_sqlite:
        await upgrade(settings.database.url)
        return
    current, head = await schema_status(settings.database.url)
    if current != head:
        raise SystemExit(
            f"database schema is at {current or 'nothing'}, code needs {head}: "
            "run `contact db upgrade` first"
        )


async def build(
    settings: Settings, *, clock: Callable[[], float] = time.time, migrate: bool = True
) -> Container:
    if migrate:
        await prepare_database(settings)
    db = await SqlDatabase.open(settings.database)
    bus = MessageBus()
    policy = policy_from(settings)
    client: aioredis.Redis | None = None
    store: QueueStore
    broadcast: Broadcast
    if settings.redis.url is not None:
        client = aioredis.Redis.from_url(
            settings.redis.url.get_secret_value(),
            socket_timeout=settings.redis.socket_timeout_s,
            socket_connect_timeout=settings.redis.socket_timeout_s,
            health_check_interval=5,
            # fail fast to Unavailable: intake is durable without Redis, waiting is not useful
            retry=Retry(NoBackoff(), 1),
        )
        keys = RedisKeys(settings.redis.key_prefix)
        store = RedisQueueStore(client, keys, policy, clock=clock)
        broadcast = RedisBroadcast(client, keys)
    else:
        store = MemoryQueueStore(policy, clock=clock)
        broadcast = MemoryBroadcast()
    routing = RoutingService(
        store=store,
        contacts=db.contacts,
        operators=db.operators,
        bus=bus,
        settings=settings.routing,
        clock=clock,
    )
    routing.register(bus)
    lifecycle = ContactLifecycle(contacts=db.contacts, routing=routing, bus=bus, clock=clock)
    lifecycle.register(bus)
    metrics = Metrics(store=store, sla_answer_s=settings.routing.sla_answer_s)
    metrics.register(bus)
    container = Container(
        settings=settings,
        node_id=uuid.uuid4().hex[:8],
        db=db,
        store=store,
        broadcast=broadcast,
        bus=bus,
        routing=routing,
        lifecycle=lifecycle,
        metrics=metrics,
        redis=client,
        clock=clock,
    )
    _register_projections(container)
    _install_plugins(container)
    return container


def _install_plugins(container: Container) -> None:
    """Every enabled plugin subscribes its handlers and adds its background services."""
    from contact.plugins import enabled_plugins

    for plugin in enabled_plugins(container.settings):
        if plugin.install is not None:
            plugin.install(container)


def _register_projections(container: Container) -> None:
    from contact.http.projection import TopicProjection
    from contact.persistence.audit_projection import AuditProjection

    # topics first: a browser learns of a change before the audit write's fsync
    TopicProjection(container.db.contacts, container.broadcast).register(container.bus)
    AuditProjection(container.db.audit).register(container.bus)
