"""School panic buttons: POST /api/v1/alarms with a per-site key → a top-priority contact with
the site's place and cameras; sites are imported with `contact sites import FILE`."""

from __future__ import annotations

from contact.channels.alarm import openapi, routes
from contact.config import Settings
from contact.plugins import Plugin


def _enabled(settings: Settings) -> bool:
    return settings.alarm.enabled


PLUGIN = Plugin(name="alarm", enabled=_enabled, routes=routes.setup, openapi=openapi.PATHS)
