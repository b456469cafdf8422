"""Asterisk: the local runner, AMI client, call control, dialplan contract, 102 voice in the
unified queue, callbacks, recordings and supervision (PLUGIN, on with
CONTACT_ASTERISK_ENABLED=true)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.config import Settings
from contact.plugins import Plugin

if TYPE_CHECKING:
    from contact.bootstrap import Container


def _enabled(settings: Settings) -> bool:
    return settings.asterisk.enabled


def _install(container: Container) -> None:
    from contact.telephony.projection import TelephonyProjection
    from contact.telephony.service import Telephony

    telephony = Telephony(container)
    TelephonyProjection(container.broadcast, container.db.audit).register(container.bus)
    container.services.append(telephony)
    container.extras["telephony"] = telephony


def _routes(app: object) -> None:
    from contact.telephony.routes import setup

    setup(app)  # type: ignore[arg-type]


def _paths() -> dict[str, object]:
    from contact.telephony.openapi import PATHS

    return PATHS


PLUGIN = Plugin(
    name="telephony", enabled=_enabled, install=_install, routes=_routes, openapi=_paths()
)
