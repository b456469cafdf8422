"""The chat channels' webhooks as sub-applications: who may call a messenger's webhook
(Telegram's secret token, WhatsApp's signature of the body) is checked by the sub-application's
middleware, before any handler runs, instead of by a line at the top of each handler.

A request to the prefix that matches no route (a wrong path or method) is left to its 404/405.
Handlers reach the center through `request.config_dict` (their `request.app` is the
sub-application).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from aiohttp import web

from contact.http.errors import Handler
from contact.http.keys import EDGE

Check = Callable[[web.Request], Awaitable[None]]

# the raw body a check has read (WhatsApp's signature is over the bytes as sent)
RAW_BODY = web.RequestKey("chat_raw_body", bytes)


def webhook_app(check: Check, *, methods: Collection[str] = ("POST",)) -> web.Application:
    """A sub-application whose routes answered by `methods` run only after `check` passed
    (it raises a ContactError: 401, 403, 413 …, answered by the center's error middleware)."""

    @web.middleware
    async def checked(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in methods and request.match_info.http_exception is None:
            await check(request)
        return await handler(request)

    app = web.Application(middlewares=[checked])
    app[EDGE] = True  # its own check; no staff session
    return app
