"""GET /healthz (the state of each component) and GET /metrics (Prometheus text).

Anonymous callers (load balancers, orchestrators) get the overall status and each component's
status only: no host, node, leader or client counts to map the deployment with. The details
need the metrics token (CONTACT_HTTP_METRICS_TOKEN, as Bearer, or as the password of Basic
auth) or a logged-in supervisor/admin. /metrics needs the token; without one configured it is
refused to everyone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from contact.domain.model import Role
from contact.errors import ContactError, Unauthorized
from contact.http.keys import CONTAINER, HUB, PRINCIPAL

PROBE_TIMEOUT_S = 2.0


@runtime_checkable
class ReportsHealth(Protocol):
    """A part a plugin provides (`Container.provide`) that reports itself on /healthz. Its
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
    for name, part in c.parts():
        if isinstance(part, ReportsHealth) and name not in components:
            components[name] = dict(part.health())  # telephony: leader or standby, holder
    down = [
        name for name, v in components.items() if isinstance(v, dict) and v.get("status") == "down"
    ]
    # intake still works without Redis (contacts are durable in the database): degraded;
    # without the database nothing can be accepted safely: down
    status = "down" if "database" in down else "degraded" if down else "up"
    body: dict[str, Any] = {"status": status, "node": c.node_id, "components": components}
    if not _may_see_details(request):
        body = {"status": status, "components": statuses_only(components)}
    return web.json_response(body, status=503 if status == "down" else 200)


def statuses_only(components: Mapping[str, Any]) -> dict[str, Any]:
    """Each component's (and sub-component's) status, nothing else."""
    kept: dict[str, Any] = {}
    for name, value in components.items():
        if not isinstance(value, Mapping):
            continue
        if "status" in value:
            kept[name] = {"status": value["status"]}
        else:  # a group, like channels
            kept[name] = statuses_only(value)
    return kept


def _bearer_ok(request: web.Request) -> bool:
    token = request.app[CONTAINER].settings.http.metrics_token
    if token is None:
        return False
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    sent = credentials.strip()
    if scheme.lower() == "basic":  # Prometheus basic_auth: any user name, the token as password
        try:
            sent = base64.b64decode(sent, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    elif scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(sent.encode(), token.get_secret_value().encode())


def _may_see_details(request: web.Request) -> bool:
    if _bearer_ok(request):
        return True
    principal = request.get(PRINCIPAL)
    return principal is not None and principal.role.at_least(Role.SUPERVISOR)


async def metrics(request: web.Request) -> web.Response:
    c = request.app[CONTAINER]
    if not _bearer_ok(request):
        hint = (
            "send the metrics token (Authorization: Bearer …)"
            if c.settings.http.metrics_token is not None
            else "metrics are off: set CONTACT_HTTP_METRICS_TOKEN and send it as a Bearer token"
        )
        raise Unauthorized(hint, error_id="metrics_token_required")
    try:
        body = await c.metrics.render()
    except ContactError:
        body = c.metrics.render_cached()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
