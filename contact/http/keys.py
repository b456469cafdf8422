"""Typed keys for what the aiohttp app carries (aiohttp's "no singletons" advice)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from contact.http.auth import LoginThrottle, Principal, SessionManager
from contact.http.presence_watch import DisconnectWatch
from contact.http.ws import Hub

if TYPE_CHECKING:
    from contact.bootstrap import Container

CONTAINER: web.AppKey[Container] = web.AppKey("container")
HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
SESSIONS: web.AppKey[SessionManager] = web.AppKey("sessions", SessionManager)
DISCONNECTS: web.AppKey[DisconnectWatch] = web.AppKey("disconnects", DisconnectWatch)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("throttle", LoginThrottle)
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
