"""The citizen app's text reports (with photo and location)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.channels.app import openapi, routes
from contact.channels.app.notify import AppNotifier
from contact.config import Settings
from contact.plugins import Plugin

if TYPE_CHECKING:
    from contact.bootstrap import Container


def _enabled(settings: Settings) -> bool:
    return settings.app.enabled


def _install(container: Container) -> None:
    AppNotifier(container.db.contacts, container.broadcast).register(container.bus)


PLUGIN = Plugin(
    name="app", enabled=_enabled, install=_install, routes=routes.setup, openapi=openapi.PATHS
)
