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
from datetime import UTC, datetime

from aiohttp import web

from contact.bus import KeyedLocks
from contact.channels.edge import (
    RateLimiter,
    decode_json_object,
    json_response,
    read_body,
    require_json,
)
from contact.channels.kiosk import parse
from contact.domain import events as ev
from contact.domain.model import ChannelKind, Role
from contact.errors import ContactError, Forbidden, Unauthorized
from contact.http.api import acting
from contact.http.keys import CONTAINER
from contact.http.views import iso
from contact.ports import IntakeSource, Kiosk

log = logging.getLogger(__name__)

PREFIX = "/api/v1/kiosks"
LIMITER: web.AppKey[RateLimiter] = web.AppKey("kiosk_limiter", RateLimiter)
LOCKS: web.AppKey[KeyedLocks] = web.AppKey("kiosk_locks", KeyedLocks)


def _now(request: web.Request) -> datetime:
    return datetime.fromtimestamp(request.app[CONTAINER].clock(), UTC)


async def authenticated(request: web.Request) -> tuple[Kiosk, bytes]:
    """The kiosk that signed this request, and the request's body."""
    c = request.app[CONTAINER]
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
    request.app[LIMITER].check(kiosk.id)
    expires = datetime.fromtimestamp(signed.timestamp + settings.signature_window_s, UTC)
    if not await c.db.registries.replays.first_use(parse.replay_digest(kiosk.id, signed), expires):
        raise Forbidden(
            "this signed request was already accepted; sign each request anew",
            error_id="replayed_request",
        )
    return kiosk, body


async def heartbeat(request: web.Request) -> web.Response:
    kiosk, body = await authenticated(request)
    decode_json_object(body, allow_empty=True)  # a status object is welcome, never required
    c = request.app[CONTAINER]
    now = _now(request)
    came_back = await c.db.registries.kiosks.heartbeat(kiosk.id, now)
    if came_back:
        log.warning("kiosk %s is back online", kiosk.id)
        await c.bus.publish(
            ev.KioskCameOnline(kiosk_id=kiosk.id, kiosk_name=kiosk.name, occurred_at=now)
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
    kiosk, body = await authenticated(request)
    c = request.app[CONTAINER]
    event = parse.event(decode_json_object(body), kiosk, _now(request))
    await c.db.registries.kiosks.add_event(event)
    await c.bus.publish(
        ev.KioskAlerted(
            kiosk_id=kiosk.id,
            kiosk_name=kiosk.name,
            event_id=event.id,
            kind=event.kind,
            detail=event.detail,
            occurred_at=event.received_at,
        )
    )
    return json_response({"id": event.id, "kind": event.kind}, status=202)


async def sos(request: web.Request) -> web.Response:
    kiosk, body = await authenticated(request)
    c = request.app[CONTAINER]
    command = parse.sos(decode_json_object(body, allow_empty=True), kiosk)
    citizen = parse.citizen_of(kiosk.id)
    async with request.app[LOCKS].hold(citizen):
        open_contact = await c.db.registries.sources.open_contact(ChannelKind.KIOSK, citizen)
        if open_contact is not None:
            await c.lifecycle.add_citizen_message(open_contact.id, command.text)
            return json_response({"id": open_contact.id, "status": "queued", "joined": True})
        registered = await c.bus.execute(command)
    if registered.created:
        await _after_intake(request, kiosk, registered.contact_id)
    return json_response({"id": registered.contact_id, "status": "queued"}, status=202)


async def _after_intake(request: web.Request, kiosk: Kiosk, contact_id: str) -> None:
    """Enrichment after the contact is durable: where it came from, and units wanted now.
    A failure here is logged; the intake stands."""
    c = request.app[CONTAINER]
    cameras = (kiosk.camera_id,) if kiosk.camera_id else ()
    try:
        await c.db.registries.sources.add(
            IntakeSource(
                contact_id=contact_id,
                kind="kiosk",
                source_id=kiosk.id,
                camera_ids=cameras,
                details={
                    "name": kiosk.name,
                    "partner": kiosk.partner,
                    "address": kiosk.address,
                    "sip_account": kiosk.sip_account,
                },
            )
        )
    except ContactError as exc:
        log.warning("kiosk source not stored: %s", exc.message, extra={"contact_id": contact_id})
    await c.bus.publish(
        ev.SuggestionRequested(
            contact_id=contact_id,
            location=parse.location_of(kiosk),
            camera_ids=cameras,
            reason="kiosk_sos",
        )
    )


async def registry(request: web.Request) -> web.Response:
    """Every kiosk with its state, for supervisors."""
    acting(request, Role.SUPERVISOR)
    kiosks = await request.app[CONTAINER].db.registries.kiosks.all()
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
    settings = app[CONTAINER].settings.kiosk
    app[LIMITER] = RateLimiter(
        settings.requests_per_minute_per_kiosk, 60.0, what="requests from this kiosk"
    )
    app[LOCKS] = KeyedLocks()
    app.router.add_get(PREFIX, registry)
    app.router.add_post(f"{PREFIX}/{{kiosk_id}}/heartbeat", heartbeat)
    app.router.add_post(f"{PREFIX}/{{kiosk_id}}/events", kiosk_event)
    app.router.add_post(f"{PREFIX}/{{kiosk_id}}/sos", sos)
