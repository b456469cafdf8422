"""The composition root: builds every adapter and service from Settings into a Container and
installs the enabled plugins into it. With `contact/plugins.py` (the list of plugins), the CLI
and the demo, it is the only code that knows every feature; no feature imports it.

Nothing in the package creates a client at import time; tests build the same container with
other settings (or other parts through `overrides`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from contact.broadcast import MemoryBroadcast, RedisBroadcast
from contact.bus import MessageBus
from contact.config import Settings
from contact.context import Container
from contact.dispatch import DISPATCH_PART
from contact.dispatch.grouping import categorize
from contact.dispatch.ports import DISPATCH_STORE
from contact.dispatch.service import DispatchService
from contact.dispatch.sql import SqlDispatchRepository
from contact.domain.model import Contact, IncidentState
from contact.errors import NotFound
from contact.http.place import CITY_MAP, district_json
from contact.http.projection import TopicProjection
from contact.http.softphone import SIP_ACCOUNTS, SipAccounts
from contact.http.supervisor_stats import ARRIVALS, CATEGORY_OF, DISPATCH_FIGURES
from contact.metrics import Metrics
from contact.persistence.audit_projection import AuditProjection
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import prepare_database
from contact.plugins import enabled_plugins
from contact.ports import AssignmentPolicy, Broadcast, QueueStore
from contact.redis_keys import RedisKeys
from contact.routing.attendance import Attendance
from contact.routing.control import ControlRoom
from contact.routing.lifecycle import ContactLifecycle
from contact.routing.memory_store import MemoryQueueStore
from contact.routing.orphans import OrphanSweeper
from contact.routing.redis_store import RedisQueueStore
from contact.routing.service import RoutingService
from contact.telephony.runner import DEFAULT_CONFIG_DIR, AsteriskError, AsteriskRunner
from contact.triage import Triage
from contact.triage.editor import LexiconEditor

log = logging.getLogger(__name__)

__all__ = ["Container", "build", "install_plugins", "policy_from", "prepare_database"]


def policy_from(settings: Settings) -> AssignmentPolicy:
    r = settings.routing
    return AssignmentPolicy(
        offer_timeout_s=r.offer_timeout_s,
        language_fallback_s=r.language_fallback_s,
        scan_depth=r.scan_depth,
        away_on_missed_offer=r.away_on_missed_offer,
    )


async def build(
    settings: Settings, *, clock: Callable[[], float] = time.time, migrate: bool = True
) -> Container:
    enabled_plugins(settings)  # refuse a plugin switched on without what it requires, first
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
    # sessions are stamped with the wall clock (auth.SessionManager): judged by it too
    attendance = Attendance(db.operators, db.sessions, settings.auth)
    # one lexicon per node, edited by admins (LexiconEditor: database, broadcast, version check)
    triage = Triage()
    lexicon = LexiconEditor(
        triage=triage, store=db.triage_lexicon, audit=db.audit, broadcast=broadcast, clock=clock
    )
    lifecycle = ContactLifecycle(
        contacts=db.contacts,
        routing=routing,
        bus=bus,
        clock=clock,
        attendance=attendance,
        triage=triage,
    )
    lifecycle.register(bus)

    async def dispatched(contact: Contact) -> bool:
        if contact.incident_id is None:
            return False
        try:
            incident = await db.incidents.get(contact.incident_id)
        except NotFound:
            return False
        return incident.state is IncidentState.DISPATCHED

    sweeper = OrphanSweeper(
        contacts=db.contacts,
        attendance=attendance,
        lifecycle=lifecycle,
        bus=bus,
        settings=settings.routing,
        dispatched=dispatched,
        clock=clock,
    )
    control = ControlRoom(
        contacts=db.contacts,
        operators=db.operators,
        store=store,
        routing=routing,
        attendance=attendance,
        bus=bus,
        clock=clock,
    )
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
        control=control,
        sweeper=sweeper,
        metrics=metrics,
        redis=client,
        triage=triage,
        lexicon=lexicon,
        clock=clock,
        services=[lexicon],  # the stored lexicon before the first plugin takes intake
    )
    _register_projections(container)
    container.provide(SIP_ACCOUNTS, sip_accounts(settings))
    container.provide(CATEGORY_OF, categorize)
    dispatch_store = SqlDispatchRepository(db.store)
    container.provide(DISPATCH_STORE, dispatch_store)
    container.provide(ARRIVALS, dispatch_store)
    install_plugins(container)
    if (dispatch := container.find(DISPATCH_PART)) is not None:
        container.provide(DISPATCH_FIGURES, _DispatchFigures(dispatch.service))
        container.provide(CITY_MAP, _CityMap(dispatch.service))
    return container


class _DispatchFigures:
    """The supervisor's figures of a running dispatch (http/supervisor_stats)."""

    def __init__(self, service: DispatchService) -> None:
        self._service = service

    def district_names(self, district_id: str) -> tuple[str | None, str | None, str | None] | None:
        record = self._service.district_record(district_id)
        return (record.name_kk, record.name_ru, record.name_en) if record else None

    def unit_statuses(self) -> list[str]:
        return [unit.as_unit().status.value for unit in self._service.units()]


class _CityMap:
    """Dispatch's districts and cameras, as the operator's page reads them (http/place)."""

    def __init__(self, service: DispatchService) -> None:
        self._service = service

    def district(self, lat: float, lon: float, *, outline: bool) -> dict[str, Any] | None:
        found = self._service.locate(lat, lon)
        return None if found is None else district_json(found, outline)

    def nearest_camera(self, lat: float, lon: float) -> tuple[str, float] | None:
        view = self._service.cameras_around(lat, lon)
        sightings = [*view.seeing, *view.others]
        if not sightings:
            return None
        best = min(sightings, key=lambda s: float(s.distance_m))
        return best.camera.id, float(best.distance_m)


def sip_accounts(settings: Settings) -> SipAccounts:
    """The operators' softphone accounts, from the Asterisk run directory's secrets."""
    runner = AsteriskRunner(settings.asterisk, DEFAULT_CONFIG_DIR)

    def password(auth_section: str) -> str | None:
        # only passwords `contact asterisk up` already made: a GET never creates secrets
        if not (runner.run_dir / "secrets.json").is_file():
            return None
        try:
            return runner.sip_password(auth_section)
        except AsteriskError:
            return None

    return SipAccounts(DEFAULT_CONFIG_DIR, password)


def install_plugins(container: Container) -> None:
    """Every enabled plugin, after those it requires, subscribes its handlers, adds its
    background services and provides its parts; the HTTP app then mounts their routes."""
    plugins = enabled_plugins(container.settings)  # a ConfigError before anything is built
    for plugin in plugins:
        if plugin.install is not None:
            plugin.install(container)
    container.plugins = plugins


def _register_projections(container: Container) -> None:
    # topics first: a browser learns of a change before the audit write's fsync
    TopicProjection(container.db.contacts, container.broadcast).register(container.bus)
    AuditProjection(container.db.audit).register(container.bus)
