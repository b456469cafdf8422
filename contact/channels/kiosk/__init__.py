"""SOS kiosks: signed heartbeats (kiosk.offline after missed ones), tamper/door/power events
and the SOS button over HTTP for kiosks without SIP; the registry is imported with
`contact kiosks import FILE`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.channels.kiosk import openapi, routes
from contact.channels.kiosk.monitor import HeartbeatMonitor
from contact.channels.kiosk.notify import KioskNotifier
from contact.config import Settings
from contact.plugins import Plugin

if TYPE_CHECKING:
    from contact.bootstrap import Container


def _enabled(settings: Settings) -> bool:
    return settings.kiosk.enabled


def _install(container: Container) -> None:
    registries = container.db.registries
    KioskNotifier(registries.kiosks, container.broadcast).register(container.bus)
    monitor = HeartbeatMonitor(
        kiosks=registries.kiosks,
        replays=registries.replays,
        bus=container.bus,
        settings=container.settings.kiosk,
        clock=container.clock,
    )
    container.services.append(monitor)
    container.extras["kiosk"] = monitor


PLUGIN = Plugin(
    name="kiosk", enabled=_enabled, install=_install, routes=routes.setup, openapi=openapi.PATHS
)
