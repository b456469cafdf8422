"""The citizen app's text reports (with photo and location)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.channels.app import openapi, routes
from contact.channels.app.notify import AppNotifier
from contact.config import Settings
from contact.context import Plugin

if TYPE_CHECKING:
    from contact.context import Container


def _enabled(settings: Settings) -> bool:
    return settings.app.enabled


def _install(container: Container) -> None:
    AppNotifier(container.broadcast).register(container.bus)


PLUGIN = Plugin(
    # its intake is the devices plugin's OpenOrJoinContact (no handler without it)
    requires=("devices",),
    name="app",
    enabled=_enabled,
    install=_install,
    routes=routes.setup,
    openapi=openapi.PATHS,
    switch="CONTACT_APP_ENABLED",
)
