"""GET /healthz (the state of each component) and GET /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from contact.errors import ContactError
from contact.http.keys import CONTAINER, HUB

PROBE_TIMEOUT_S = 2.0


@runtime_checkable
class ReportsHealth(Protocol):
    """A plugin's shared part (container.extras) that reports itself on /healthz. Its
    "status": up | down | disabled, or standby (well, another node does the work)."""

    def health(self) -> Mapping[str, Any]: ...


async def _probe(check: Any) -> dict[str, Any]:
    try:
        await asyncio.wait_for(check(), PROBE_TIMEOUT_S)
    except (ContactError, TimeoutError, OSError) as exc:
        return {"status": "down", "error": getattr(exc, "message", None) or type(exc).__name__}
    return {"status": "up"}


async def healthz(request: web.Request) -> web.Response:
    c = request.app[CONTAINER]
    components: dict[str, Any] = {"database": await _probe(c.db.ping)}
    if c.redis is not None:
        components["redis"] = await _probe(c.store.ping)
    else:
        components["queue"] = {"status": "up", "backend": "in-process"}
    app_settings = c.settings.app
    components["channels"] = {
        "app": {"status": "up" if app_settings.enabled and app_settings.keys() else "disabled"},
    }
    components["websockets"] = {"status": "up", "clients": len(request.app[HUB])}
    for name, extra in c.extras.items():
        if isinstance(extra, ReportsHealth) and name not in components:
            components[name] = dict(extra.health())  # telephony: leader or standby, holder
    down = [
        name for name, v in components.items() if isinstance(v, dict) and v.get("status") == "down"
    ]
    # intake still works without Redis (contacts are durable in the database): degraded;
    # without the database nothing can be accepted safely: down
    status = "down" if "database" in down else "degraded" if down else "up"
    return web.json_response(
        {"status": status, "node": c.node_id, "components": components},
        status=503 if status == "down" else 200,
    )


async def metrics(request: web.Request) -> web.Response:
    c = request.app[CONTAINER]
    try:
        body = await c.metrics.render()
    except ContactError:
        body = c.metrics.render_cached()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
