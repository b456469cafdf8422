"""Camera analytics alerts (wanted face or plate, weapon, aggression, crowd) → alert contacts
at the camera's position, with per-kind thresholds and a dedupe window."""

from __future__ import annotations

from contact.channels.camera import openapi, routes
from contact.config import Settings
from contact.plugins import Plugin


def _enabled(settings: Settings) -> bool:
    return settings.camera.enabled


PLUGIN = Plugin(name="camera", enabled=_enabled, routes=routes.setup, openapi=openapi.PATHS)
