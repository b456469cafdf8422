"""The one list of pluggable parts: every intake channel, telephony and dispatch. Each package
exposes `PLUGIN`; config switches it on. Bootstrap calls `install` (bus subscriptions,
background services added to the container), the HTTP app calls `routes`, and the OpenAPI
document merges every enabled plugin's `openapi` paths."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from contact.config import Settings

if TYPE_CHECKING:
    from contact.bootstrap import Container


@dataclass(frozen=True)
class Plugin:
    name: str
    enabled: Callable[[Settings], bool]
    install: Callable[[Container], None] | None = None
    routes: Callable[[web.Application], None] | None = None
    openapi: Mapping[str, Any] = field(default_factory=dict)  # OpenAPI `paths` entries


def all_plugins() -> tuple[Plugin, ...]:
    # imported here: plugin packages import the HTTP layer, which imports bootstrap
    from contact.channels.alarm import PLUGIN as ALARM
    from contact.channels.app import PLUGIN as APP
    from contact.channels.camera import PLUGIN as CAMERA
    from contact.channels.kiosk import PLUGIN as KIOSK
    from contact.channels.sources import PLUGIN as SOURCES
    from contact.channels.telegram import PLUGIN as TELEGRAM
    from contact.channels.whatsapp import PLUGIN as WHATSAPP
    from contact.dispatch.plugin import PLUGIN as DISPATCH
    from contact.telephony import PLUGIN as TELEPHONY

    return (APP, DISPATCH, KIOSK, ALARM, CAMERA, SOURCES, TELEGRAM, WHATSAPP, TELEPHONY)


def enabled_plugins(settings: Settings) -> tuple[Plugin, ...]:
    return tuple(p for p in all_plugins() if p.enabled(settings))
