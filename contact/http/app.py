"""The aiohttp application: middlewares, routes of every part, the operator WebSocket, and the
lifecycle that starts and stops the container with the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from contact.bootstrap import Container
from contact.domain.model import Role
from contact.errors import Forbidden, NotFound
from contact.http import api, health, map_tiles, openapi, pages, softphone
from contact.http.auth import LoginThrottle, SessionManager, check_origin, need_principal
from contact.http.errors import Handler, errors_middleware, security_headers
from contact.http.keys import CONTAINER, DISCONNECTS, HUB, PRINCIPAL, SESSIONS, THROTTLE
from contact.http.presence_watch import DisconnectWatch
from contact.http.ws import Hub, Subscriber
from contact.plugins import enabled_plugins

NO_SESSION_PREFIXES = ("/api/v1/app/", "/webhooks/", "/healthz", "/metrics", "/static/")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(NO_SESSION_PREFIXES):
        request[PRINCIPAL] = await request.app[SESSIONS].principal(request)
    return await handler(request)


async def operator_ws(request: web.Request) -> web.WebSocketResponse:
    """Operators get `queue` and their own `operator:<id>`; supervisors also `supervisor`.
    `{"op": "subscribe", "topic": "contact:<id>"}` adds one contact they may see (audited)."""
    principal = need_principal(request)
    check_origin(request)
    c = request.app[CONTAINER]
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    subscriber = Subscriber(ws, owner=principal.operator_id)
    hub.subscribe(subscriber, "queue")
    hub.subscribe(subscriber, f"operator:{principal.operator_id}")
    if principal.role.at_least(Role.SUPERVISOR):
        hub.subscribe(subscriber, "supervisor")

    async def on_message(sub: Subscriber, data: dict[str, Any]) -> dict[str, Any] | None:
        topic = data.get("topic")
        if data.get("op") != "subscribe" or not isinstance(topic, str):
            return {"error": {"id": "bad_request", "message": "expected op subscribe"}}
        if not topic.startswith("contact:"):
            return {"error": {"id": "forbidden", "message": "unknown topic"}}
        contact_id = topic.removeprefix("contact:")
        try:
            contact = await c.db.contacts.get(contact_id)
        except NotFound:
            return {"error": {"id": "not_found", "message": "no such contact"}}
        mine = contact.operator_id == principal.operator_id
        if not mine and not principal.role.at_least(Role.SUPERVISOR):
            return {"error": {"id": "forbidden", "message": Forbidden("not yours").message}}
        hub.subscribe(sub, topic)
        await c.db.audit.append(principal.operator_id, "contact.subscribe", contact_id)
        return {"subscribed": topic}

    try:
        return await hub.serve(request, subscriber, on_message)
    finally:
        request.app[DISCONNECTS].disconnected(principal.operator_id)


def create_app(container: Container, *, manage_container: bool = True) -> web.Application:
    app = web.Application(
        client_max_size=container.settings.http.max_body_bytes,
        middlewares=[security_headers, errors_middleware, session_middleware],
    )
    app[CONTAINER] = container
    app[HUB] = Hub()
    app[SESSIONS] = SessionManager(
        container.db.sessions, container.settings.auth, container.settings.http.secure_cookies
    )
    app[THROTTLE] = LoginThrottle(container.settings.auth.login_attempts_per_minute)
    app[DISCONNECTS] = DisconnectWatch(
        app[HUB], container.store, container.bus, container.settings.routing.disconnect_grace_s
    )
    container.broadcast.listen(app[HUB].deliver)
    health.setup(app)
    api.setup(app)
    softphone.setup(app)
    map_tiles.setup(app)
    channel_paths: dict[str, Any] = {}
    for plugin in enabled_plugins(container.settings):
        if plugin.routes is not None:
            plugin.routes(app)
        channel_paths.update(plugin.openapi)
    pages.setup(app)
    app.router.add_get("/ws", operator_ws)
    openapi.setup(app, channel_paths)

    async def close_watch(app: web.Application) -> None:
        await app[DISCONNECTS].close()

    app.on_cleanup.append(close_watch)
    if manage_container:

        async def lifecycle(app: web.Application) -> AsyncIterator[None]:
            await container.start()
            yield
            await container.stop()

        app.cleanup_ctx.append(lifecycle)
    return app
