"""School panic buttons: POST /api/v1/alarms with a per-site key → a top-priority contact with
the site's place and cameras; sites are imported with `contact sites import FILE`."""

from __future__ import annotations

from contact.channels.alarm import openapi, routes
from contact.channels.alarm.texts import TEXTS
from contact.config import Settings
from contact.context import Plugin


def _enabled(settings: Settings) -> bool:
    return settings.alarm.enabled


PLUGIN = Plugin(
    texts=TEXTS,
    # its intake is the devices plugin's OpenOrJoinContact (no handler without it)
    requires=("devices",),
    name="alarm",
    enabled=_enabled,
    routes=routes.setup,
    openapi=openapi.PATHS,
    switch="CONTACT_ALARM_ENABLED",
)
