"""The aiohttp application: middlewares, the kernel's routes, the routes of the plugins the
container has installed (this module knows none by name), the operator WebSocket, and the
lifecycle that starts and stops the container with the server."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from contact.context import Container
from contact.domain.model import Role
from contact.errors import ContactError, Forbidden, NotFound
from contact.http import (
    admin_pages,
    api,
    health,
    map_tiles,
    openapi,
    pages,
    rota,
    softphone,
    supervisor_stats,
    triage_api,
    workspace,
)
from contact.http.auth import SessionManager, check_origin, need_principal
from contact.http.client_address import parse_networks
from contact.http.error_pages import page_for
from contact.http.errors import ERROR_PAGE, Handler, errors_middleware, security_headers
from contact.http.keys import (
    CONTAINER,
    DISCONNECTS,
    EDGE,
    HUB,
    PRINCIPAL,
    PROXIES,
    SESSIONS,
    THROTTLE,
)
from contact.http.login_throttle import LoginThrottle
from contact.http.presence_watch import DisconnectWatch
from contact.http.views import public_contact
from contact.http.ws import Hub, Subscriber
from contact.http.ws_session import start_keeping, stop_keeping

log = logging.getLogger(__name__)

# the kernel's own paths without a staff session; the channels' edges mark their sub-apps
# (EDGE). /healthz reads the session too: a logged-in supervisor sees its details
NO_SESSION_PREFIXES = ("/metrics", "/static/")


def _at_edge(request: web.Request) -> bool:
    # the apps the request was routed through (config_dict stops at the current app, the
    # main one in this middleware, and would be cached that way for the handler)
    return any(app.get(EDGE, False) for app in request.match_info.apps)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/healthz":  # must answer while the database is down
        with contextlib.suppress(ContactError):
            request[PRINCIPAL] = await request.app[SESSIONS].principal(request)
    elif not _at_edge(request) and not request.path.startswith(NO_SESSION_PREFIXES):
        request[PRINCIPAL] = await request.app[SESSIONS].principal(request)
    return await handler(request)


async def operator_ws(request: web.Request) -> web.WebSocketResponse:
    """Operators get `queue` and their own `operator:<id>`; supervisors also `supervisor`.
    `{"op": "subscribe", "topic": "contact:<id>"}` adds one contact they may see (audited)."""
    principal = need_principal(request)
    check_origin(request)
    c = request.app[CONTAINER]
    hub = request.app[HUB]
    auth = c.settings.auth
    ws = web.WebSocketResponse(heartbeat=auth.ws_heartbeat_s)
    await ws.prepare(request)
    supervisor = principal.role.at_least(Role.SUPERVISOR)
    subscriber = Subscriber(
        ws,
        owner=principal.operator_id,
        session=principal.token_hash,
        sees_every_contact=supervisor,
    )
    hub.subscribe(subscriber, "queue")
    hub.subscribe(subscriber, f"operator:{principal.operator_id}")
    if supervisor:
        hub.subscribe(subscriber, "supervisor")
    keeper = start_keeping(hub, subscriber, request.app[SESSIONS], auth.touch_every_s)
    await _push_working(request, subscriber)

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
        await stop_keeping(keeper)
        request.app[DISCONNECTS].disconnected(principal.operator_id)


async def _push_working(request: web.Request, subscriber: Subscriber) -> None:
    """On every (re)connect the page is told what its operator is working on, from the
    contacts themselves (the same answer as /api/v1/me): it opens that contact again."""
    c = request.app[CONTAINER]
    operator_id = subscriber.owner
    try:
        held = await c.db.contacts.held_by(operator_id)
    except ContactError as exc:  # the database is down: the page asks /api/v1/me later
        log.warning("working set not pushed: %s", exc.message)
        return
    working = [x for x in held if x.state in api.IN_PROGRESS]
    data = {
        "type": "operator.working",
        "contact_id": working[0].id if working else None,
        "contacts": [public_contact(x) for x in held],
    }
    subscriber.offer(
        json.dumps({"topic": f"operator:{operator_id}", "data": data}, ensure_ascii=False)
    )


def create_app(container: Container, *, manage_container: bool = True) -> web.Application:
    app = web.Application(
        client_max_size=container.settings.http.max_body_bytes,
        middlewares=[security_headers, errors_middleware, session_middleware],
    )
    app[CONTAINER] = container
    app[ERROR_PAGE] = page_for
    app[HUB] = Hub()
    app[SESSIONS] = SessionManager(
        container.db.sessions, container.settings.auth, container.settings.http.secure_cookies
    )
    app[THROTTLE] = LoginThrottle(container.settings.auth)
    app[PROXIES] = parse_networks(container.settings.http.trusted_proxies)
    app[DISCONNECTS] = DisconnectWatch(
        app[HUB], container.store, container.bus, container.settings.routing.disconnect_grace_s
    )
    container.broadcast.listen(app[HUB].deliver)
    health.setup(app)
    api.setup(app)
    softphone.setup(app)
    map_tiles.setup(app)
    triage_api.setup(app)
    supervisor_stats.setup(app)
    workspace.setup(app)
    admin_pages.setup(app)
    rota.setup(app)
    channel_paths: dict[str, Any] = {
        **supervisor_stats.OPENAPI,
        **workspace.OPENAPI,
        **admin_pages.OPENAPI,
        **rota.OPENAPI,
    }
    for plugin in container.plugins:  # installed by the composition root
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
