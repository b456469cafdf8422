"""Asterisk: the local runner, AMI client, call control, dialplan contract, 102 voice in the
unified queue, callbacks, recordings and supervision (PLUGIN, on with
CONTACT_ASTERISK_ENABLED=true)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.config import Settings
from contact.context import Key, Plugin
from contact.telephony.texts import TEXTS

if TYPE_CHECKING:
    from aiohttp import web

    from contact.context import Container
    from contact.telephony.service import Telephony

# the running telephony, for its routes and for the plugins that require it
TELEPHONY_PART: Key[Telephony] = Key("telephony")


def _enabled(settings: Settings) -> bool:
    return settings.asterisk.enabled


def _install(container: Container) -> None:
    from contact.telephony.projection import TelephonyProjection
    from contact.telephony.service import Telephony

    telephony = Telephony(container)
    TelephonyProjection(container.broadcast, container.db.audit).register(container.bus)
    container.services.append(telephony)
    container.provide(TELEPHONY_PART, telephony)


def _routes(app: web.Application) -> None:
    from contact.telephony.routes import setup

    setup(app)


def _paths() -> dict[str, object]:
    from contact.telephony.openapi import PATHS

    return PATHS


PLUGIN = Plugin(
    texts=TEXTS,
    name="telephony",
    enabled=_enabled,
    install=_install,
    routes=_routes,
    openapi=_paths(),
    switch="CONTACT_ASTERISK_ENABLED",
)
