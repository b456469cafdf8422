"""Typed keys for what the aiohttp app carries (aiohttp's "no singletons" advice)."""

from __future__ import annotations

from aiohttp import web

from contact.context import Container
from contact.http.auth import PRINCIPAL, SessionManager
from contact.http.client_address import Network
from contact.http.login_throttle import LoginThrottle
from contact.http.presence_watch import DisconnectWatch
from contact.http.ws import Hub

__all__ = [
    "CONTAINER",
    "DISCONNECTS",
    "EDGE",
    "HUB",
    "PRINCIPAL",
    "PROXIES",
    "SESSIONS",
    "THROTTLE",
]

CONTAINER: web.AppKey[Container] = web.AppKey("container")
HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
SESSIONS: web.AppKey[SessionManager] = web.AppKey("sessions", SessionManager)
DISCONNECTS: web.AppKey[DisconnectWatch] = web.AppKey("disconnects", DisconnectWatch)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("throttle", LoginThrottle)
PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("trusted_proxies")
# a sub-application at the edge (the citizen app, devices, messengers' webhooks): it runs its
# own check (app key, signature …) and no staff session is read for its requests
EDGE: web.AppKey[bool] = web.AppKey("edge", bool)
