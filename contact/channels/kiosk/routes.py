"""SOS kiosks over HTTP: signed heartbeats, tamper/door/power events and button presses (for
kiosks without SIP), plus the registry for supervisors.

Authentication (see parse.py for the signature): 401 when the request is not signed, the
signature is malformed or wrong, the kiosk is unknown or the timestamp is outside the window;
403 when a correctly signed request is refused: the kiosk is disabled, or the very same signed
request was already accepted (a replay). A press is answered 202 only after the contact is
committed; a second press while the first contact is open joins it (200).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from contact.channels.kiosk import parse
from contact.channels.kiosk.notify import view
from contact.domain import events as ev
from contact.domain.commands import DeviceIntakeResult, Outcome
from contact.domain.model import Role
from contact.errors import Forbidden, Unauthorized
from contact.http.api import acting
from contact.http.edge import (
    RateLimiter,
    decode_json_object,
    guard,
    json_response,
    read_body,
    require_json,
)
from contact.http.keys import CONTAINER, EDGE
from contact.http.views import iso
from contact.ports import Kiosk, KioskState

log = logging.getLogger(__name__)

PREFIX = "/api/v1/kiosks"
LIMITER: web.AppKey[RateLimiter] = web.AppKey("kiosk_limiter", RateLimiter)


def _now(request: web.Request) -> datetime:
    return datetime.fromtimestamp(request.config_dict[CONTAINER].clock(), UTC)


@dataclass(frozen=True, slots=True)
class Signed:
    """The kiosk that signed a request, and the request's body (what the guard read)."""

    kiosk: Kiosk
    body: bytes


SIGNED: web.RequestKey[Signed] = web.RequestKey("kiosk_signed", Signed)


async def signed(request: web.Request) -> None:
    """The guard of the kiosks' sub-application: every request is signed by its kiosk."""
    kiosk, body = await authenticated(request)
    request[SIGNED] = Signed(kiosk, body)


async def authenticated(request: web.Request) -> tuple[Kiosk, bytes]:
    """The kiosk that signed this request, and the request's body."""
    c = request.config_dict[CONTAINER]
    settings = c.settings.kiosk
    kiosk_id = parse.kiosk_id(request.match_info["kiosk_id"])
    signed = parse.signed_headers(
        request.headers.get("X-Timestamp"), request.headers.get("X-Signature")
    )
    require_json(request, allow_empty=True)
    body = await read_body(request, settings.max_body_bytes)
    registry = c.db.registries.kiosks
    key = await registry.key(kiosk_id)
    kiosk = await registry.get(kiosk_id) if key is not None else None
    if key is None or kiosk is None:
        raise Unauthorized("unknown kiosk", error_id="unknown_kiosk")
    parse.verify(
        key,
        signed,
        request.method,
        request.rel_url.raw_path,
        body,
        now=c.clock(),
        window_s=settings.signature_window_s,
    )
    if not kiosk.enabled:
        raise Forbidden("this kiosk is disabled", error_id="kiosk_disabled")
    request.config_dict[LIMITER].check(kiosk.id)
    expires = datetime.fromtimestamp(signed.timestamp + settings.signature_window_s, UTC)
    if not await c.db.registries.replays.first_use(parse.replay_digest(kiosk.id, signed), expires):
        raise Forbidden(
            "this signed request was already accepted; sign each request anew",
            error_id="replayed_request",
        )
    return kiosk, body


async def heartbeat(request: web.Request) -> web.Response:
    kiosk, body = request[SIGNED].kiosk, request[SIGNED].body
    decode_json_object(body, allow_empty=True)  # a status object is welcome, never required
    c = request.config_dict[CONTAINER]
    now = _now(request)
    came_back = await c.db.registries.kiosks.heartbeat(kiosk.id, now)
    if came_back:
        log.warning("kiosk %s is back online", kiosk.id)
        await c.bus.publish(
            ev.KioskCameOnline(
                kiosk_id=kiosk.id,
                kiosk_name=kiosk.name,
                kiosk=view(kiosk, state=KioskState.ONLINE, heartbeat_at=now),
                occurred_at=now,
            )
        )
    return json_response(
        {
            "kiosk_id": kiosk.id,
            "state": "online",
            "heartbeat_interval_s": c.settings.kiosk.heartbeat_interval_s,
            "server_time": now.isoformat(),
        }
    )


async def kiosk_event(request: web.Request) -> web.Response:
    kiosk, body = request[SIGNED].kiosk, request[SIGNED].body
    c = request.config_dict[CONTAINER]
    event = parse.event(decode_json_object(body), kiosk, _now(request))
    await c.db.registries.kiosks.add_event(event)
    await c.bus.publish(
        ev.KioskAlerted(
            kiosk_id=kiosk.id,
            kiosk_name=kiosk.name,
            event_id=event.id,
            kind=event.kind,
            detail=event.detail,
            kiosk=view(kiosk),
            occurred_at=event.received_at,
        )
    )
    return json_response({"id": event.id, "kind": event.kind}, status=202)


async def sos(request: web.Request) -> web.Response:
    """A press: joins the kiosk's open contact (200), else a new contact, committed with the
    kiosk as its source before the answer (202); see contact.channels.devices."""
    kiosk, body = request[SIGNED].kiosk, request[SIGNED].body
    c = request.config_dict[CONTAINER]
    command = parse.sos(decode_json_object(body, allow_empty=True), kiosk)
    result: DeviceIntakeResult = await c.bus.execute(parse.intake(command, kiosk))
    if result.outcome is Outcome.JOINED:
        return json_response(
            {
                "id": result.contact_id,
                "status": "queued",
                "joined": True,
                "requeued": result.requeued,
            }
        )
    return json_response({"id": result.contact_id, "status": "queued"}, status=202)


async def registry(request: web.Request) -> web.Response:
    """Every kiosk with its state, for supervisors."""
    acting(request, Role.SUPERVISOR)
    kiosks = await request.config_dict[CONTAINER].db.registries.kiosks.all()
    return json_response(
        {
            "kiosks": [
                {
                    "id": k.id,
                    "name": k.name,
                    "partner": k.partner,
                    "address": k.address,
                    "lat": k.lat,
                    "lon": k.lon,
                    "camera_id": k.camera_id,
                    "sip_account": k.sip_account,
                    "enabled": k.enabled,
                    "state": k.state,
                    "last_heartbeat_at": iso(k.last_heartbeat_at),
                }
                for k in kiosks
            ]
        }
    )


def setup(app: web.Application) -> None:
    """The registry for supervisors (their session), and the kiosks' own routes in a
    sub-application whose guard checks each request's signature, replay and rate first."""
    settings = app[CONTAINER].settings.kiosk
    app[LIMITER] = RateLimiter(
        settings.requests_per_minute_per_kiosk, 60.0, what="requests from this kiosk"
    )
    app.router.add_get(PREFIX, registry)
    kiosks = web.Application(middlewares=[guard(signed)])
    kiosks[EDGE] = True  # its own check; no staff session
    kiosks.router.add_post("/{kiosk_id}/heartbeat", heartbeat)
    kiosks.router.add_post("/{kiosk_id}/events", kiosk_event)
    kiosks.router.add_post("/{kiosk_id}/sos", sos)
    app.add_subapp(PREFIX, kiosks)
