"""The dispatch plugin: units, suggestions, dispatch, cameras, districts, incidents.

Switched on by CONTACT_DISPATCH_ENABLED (default on). MQTT positions need
CONTACT_DISPATCH_MQTT_URL; road ETAs need CONTACT_DISPATCH_OSRM_URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from contact.config import Settings
from contact.context import Panel, Plugin
from contact.dispatch import DISPATCH_PART, openapi, routes
from contact.dispatch.mqtt import MqttPositions
from contact.dispatch.osrm import OsrmRouter
from contact.dispatch.ports import DISPATCH_STORE
from contact.dispatch.projection import DispatchProjection
from contact.dispatch.routes import DispatchParts
from contact.dispatch.service import DispatchService
from contact.dispatch.snapshots import SnapshotProxy
from contact.dispatch.texts import TEXTS

if TYPE_CHECKING:
    from contact.context import Container


def _enabled(settings: Settings) -> bool:
    return settings.dispatch.enabled


def _install(container: Container) -> None:
    s = container.settings.dispatch
    repo = container.get(DISPATCH_STORE)
    router = (
        OsrmRouter(
            s.osrm_url,
            profile=s.osrm_profile,
            timeout_s=s.osrm_timeout_s,
            backoff_s=s.osrm_backoff_s,
        )
        if s.osrm_url
        else None
    )
    service = DispatchService(
        repo=repo,
        contacts=container.db.contacts,
        bus=container.bus,
        broadcast=container.broadcast,
        settings=s,
        router=router,
        clock=container.clock,
    )
    service.register(container.bus)
    DispatchProjection(
        broadcast=container.broadcast,
        contacts=container.db.contacts,
        repo=repo,
        audit=container.db.audit,
    ).register(container.bus)

    async def record(camera_id: str, ok: bool, error: str | None) -> None:
        await repo.record_snapshot(camera_id, ok, datetime.now(UTC), error)

    snapshots = SnapshotProxy(
        timeout_s=s.snapshot_timeout_s,
        max_bytes=s.snapshot_max_bytes,
        cache_s=s.snapshot_cache_s,
        record=record,
        allow_loopback=s.camera_allow_loopback,
    )
    mqtt = (
        MqttPositions(
            s.mqtt_url.get_secret_value(),
            topic_prefix=s.mqtt_topic_prefix,
            client_id=s.mqtt_client_id or f"contact-{container.node_id}",
            on_position=service.mqtt_position,
        )
        if s.mqtt_url is not None
        else None
    )
    if router is not None:
        container.services.append(router)
    container.services.append(snapshots)
    container.services.append(service)
    if mqtt is not None:
        container.services.append(mqtt)
    container.provide(
        DISPATCH_PART,
        DispatchParts(
            service=service,
            repo=repo,
            snapshots=snapshots,
            router=router,
            mqtt=mqtt,
            centre=s.centre_id,
        ),
    )


PLUGIN = Plugin(
    texts=TEXTS,
    panels=(
        Panel(
            page="operator",
            slot="side",
            template="panels/dispatch_operator.html",
            scripts=(
                "/static/dist/leaflet.min.js",
                "/static/dispatch-map.js",
                "/static/dispatch.js",
            ),
        ),
    ),
    name="dispatch",
    enabled=_enabled,
    install=_install,
    routes=routes.setup,
    openapi=openapi.PATHS,
    switch="CONTACT_DISPATCH_ENABLED",
)
