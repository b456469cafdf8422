"""Camera analytics alerts (wanted face or plate, weapon, aggression, crowd) → alert contacts
at the camera's position, with per-kind thresholds and a dedupe window."""

from __future__ import annotations

from contact.channels.camera import openapi, routes
from contact.channels.camera.texts import TEXTS
from contact.config import Settings
from contact.context import Plugin


def _enabled(settings: Settings) -> bool:
    return settings.camera.enabled


PLUGIN = Plugin(
    texts=TEXTS,
    # its intake is the devices plugin's OpenOrJoinContact (no handler without it)
    requires=("devices",),
    name="camera",
    enabled=_enabled,
    routes=routes.setup,
    openapi=openapi.PATHS,
    switch="CONTACT_CAMERA_ENABLED",
)
