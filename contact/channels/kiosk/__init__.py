"""SOS kiosks: signed heartbeats (kiosk.offline after missed ones), tamper/door/power events
and the SOS button over HTTP for kiosks without SIP; the registry is imported with
`contact kiosks import FILE`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.channels.kiosk import openapi, routes
from contact.channels.kiosk.monitor import HeartbeatMonitor
from contact.channels.kiosk.notify import KioskNotifier
from contact.config import Settings
from contact.context import Key, Plugin

if TYPE_CHECKING:
    from contact.context import Container

# the heartbeat monitor (it reports itself on /healthz)
KIOSK_PART: Key[HeartbeatMonitor] = Key("kiosk")


def _enabled(settings: Settings) -> bool:
    return settings.kiosk.enabled


def _install(container: Container) -> None:
    registries = container.db.registries
    KioskNotifier(container.broadcast).register(container.bus)
    monitor = HeartbeatMonitor(
        kiosks=registries.kiosks,
        replays=registries.replays,
        bus=container.bus,
        settings=container.settings.kiosk,
        clock=container.clock,
    )
    container.services.append(monitor)
    container.provide(KIOSK_PART, monitor)


PLUGIN = Plugin(
    # its intake is the devices plugin's OpenOrJoinContact (no handler without it)
    requires=("devices",),
    name="kiosk",
    enabled=_enabled,
    install=_install,
    routes=routes.setup,
    openapi=openapi.PATHS,
    switch="CONTACT_KIOSK_ENABLED",
)
