"""The citizen app over HTTP: reports, device registration, SOS with live location, a device's
history, and a WebSocket that pushes replies and status changes.

Authentication: every request carries the app's key (X-Api-Key). A device registers once
(POST /devices) and gets a device token; from then on it sends X-Device-Token, which names the
device (the token is stored only as its sha256). SOS, location updates and the history need the
token. Reports from a device that never registered still work with its device id alone
(X-Device-Id to read them back); once a device id is registered, its reports, report reads and
WebSocket need its token too, so nobody else can act for it.

Answers: a report or an SOS is answered 202 only after it is committed to the database. A
second SOS while the device's SOS contact is open returns that contact (200).

Idempotency-Key (the IETF draft): a replay of a stored report or SOS is answered with the
stored contact (Idempotent-Replayed: true) and never counts against a rate limit; the same key
with a different body is 422, and 409 while the first request with it is still in flight.
New reports and SOS calls are limited per device, per client address and per API key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, web

from contact import text_policy
from contact.channels.app import parse
from contact.channels.app.notify import citizen_status, device_topic
from contact.domain.commands import Abandon, DeviceIntakeResult, Outcome, RegisterContact
from contact.domain.model import ChannelKind, Contact, ContactState, MessageDirection
from contact.errors import (
    BadRequest,
    Conflict,
    ContactError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from contact.http.edge import (
    RateLimiter,
    guard,
    json_response,
    key_matches,
    read_json_object,
    read_multipart,
    remote_address,
)
from contact.http.keys import CONTAINER, EDGE, HUB
from contact.http.views import iso, location_json
from contact.http.ws import Subscriber
from contact.ports import Device

log = logging.getLogger(__name__)

PREFIX = "/api/v1/app"
MAX_FIELD_BYTES = 64 * 1024
MAX_JSON_BYTES = 64 * 1024
APP_CHANNELS = frozenset({ChannelKind.APP, ChannelKind.APP_SOS})
LIMIT = re.compile(r"^[0-9]{1,4}\Z")  # ASCII digits only ("²".isdigit() is True)
OPEN_STATES = frozenset({ContactState.NEW, ContactState.QUEUED, ContactState.OFFERED})


class Limits:
    """The app channel's rate limits (one set per HTTP app)."""

    def __init__(
        self,
        reports_per_minute: int,
        sos_per_hour: int,
        locations: int,
        registrations: int,
        per_address: int = 30,
        per_api_key: int = 600,
    ) -> None:
        self.reports = RateLimiter(reports_per_minute, 60.0, what="reports from this device")
        self.sos = RateLimiter(sos_per_hour, 3600.0, what="SOS calls from this device")
        # new contacts from one address or one app key, whatever device ids they name
        self.addresses = RateLimiter(per_address, 60.0, what="reports from this address")
        self.api_keys = RateLimiter(per_api_key, 60.0, what="reports with this API key")
        self.in_flight: set[str] = set()  # idempotency keys being handled on this node
        self.locations = RateLimiter(locations, 60.0, what="location updates from this device")
        self.registrations = RateLimiter(
            registrations, 60.0, what="device registrations from this address"
        )


LIMITS: web.AppKey[Limits] = web.AppKey("app_limits", Limits)


def _new_contact_limits(
    request: web.Request, device_limiter: RateLimiter, device_id: str
) -> tuple[tuple[RateLimiter, str], ...]:
    limits = request.config_dict[LIMITS]
    key = hashlib.sha256(request.headers.get("X-Api-Key", "").encode("utf-8", "replace"))
    return (
        (device_limiter, device_id),
        (limits.addresses, remote_address(request)),
        (limits.api_keys, key.hexdigest()[:32]),
    )


def admit_new(request: web.Request, device_limiter: RateLimiter, device_id: str) -> None:
    """A new report or SOS is counted by device, client address and API key, or refused (429
    with Retry-After) by the first limit it is over, counting nothing then. A replay of a
    stored one is never counted (take_back_new)."""
    checks = _new_contact_limits(request, device_limiter, device_id)
    for limiter, name in checks:
        limiter.peek(name)
    for limiter, name in checks:
        limiter.check(name)


def take_back_new(request: web.Request, device_limiter: RateLimiter, device_id: str) -> None:
    """Uncount what admit_new counted for a request that made no new contact."""
    for limiter, name in _new_contact_limits(request, device_limiter, device_id):
        limiter.take_back(name)


@contextlib.contextmanager
def handling(request: web.Request, external_id: str | None) -> Iterator[None]:
    """One request per idempotency key at a time on this node: a second one while the first
    is in flight is 409 (the IETF draft), retried by the app after Retry-After."""
    if external_id is None:
        yield
        return
    in_flight = request.config_dict[LIMITS].in_flight
    if external_id in in_flight:
        raise Conflict(
            "a request with this Idempotency-Key is still being handled; retry",
            error_id="idempotency_key_in_flight",
            details={"retry_after_s": 1},
        )
    in_flight.add(external_id)
    try:
        yield
    finally:
        in_flight.discard(external_id)


async def stored_intake(request: web.Request, command: RegisterContact) -> str | None:
    """The contact a replay of this request (same Idempotency-Key) already made, or None when
    the key is new. The same key with another body is 422 (the IETF draft): never folded
    into the first contact, whose text and priority would hide the new one's. The command's
    guard runs first, in the same read."""
    if command.external_id is None and command.guard is None:
        return None
    found = await request.config_dict[CONTAINER].db.contacts.intake_fingerprint(
        command.channel, command.external_id, command.guard
    )
    if found is None:
        return None
    contact_id, stored = found
    if stored is not None and stored != command.fingerprint:
        raise Unprocessable(
            "this Idempotency-Key was used for a different request; send a new key for a "
            "new report",
            error_id="idempotency_key_reused",
            details={"contact_id": contact_id},
        )
    return contact_id


async def app_key(request: web.Request) -> None:
    """Every request of the app channel carries the app's key (X-Api-Key): its guard."""
    settings = request.config_dict[CONTAINER].settings.app
    keys = settings.keys()
    if not settings.enabled or not keys:
        raise Unavailable("the app channel is not configured", error_id="channel_disabled")
    # any bytes may arrive in a header: compared as sent, never a crash on non-ASCII
    if not key_matches(request.headers.get("X-Api-Key", ""), keys):
        raise Unauthorized("missing or wrong X-Api-Key", error_id="bad_api_key")


async def _token_device(request: web.Request, token: str | None) -> Device | None:
    if token is None:
        return None
    device = await request.config_dict[CONTAINER].db.registries.devices.by_token(
        parse.token_hash(token)
    )
    if device is None:
        raise Unauthorized("unknown or replaced device token", error_id="bad_device_token")
    return device


async def registered_device(request: web.Request) -> Device:
    """The device named by X-Device-Token (required)."""
    token = parse.device_token(request.headers.get("X-Device-Token"))
    if token is None:
        raise Unauthorized(
            "register the device and send its X-Device-Token", error_id="device_token_required"
        )
    device = await _token_device(request, token)
    assert device is not None
    return device


async def _acting_for(request: web.Request, device_id: str, token: str | None) -> None:
    """A device id the request acts for: a registered one needs its own token."""
    device = await _token_device(request, token)
    if device is not None:
        if device.id != device_id:
            raise Forbidden("the token belongs to another device", error_id="device_mismatch")
        return
    if await request.config_dict[CONTAINER].db.registries.devices.is_registered(device_id):
        raise _token_required()


def _token_required() -> Unauthorized:
    return Unauthorized(
        "this device is registered: send its X-Device-Token", error_id="device_token_required"
    )


def _unregistered(request: web.Request, device_id: str) -> Callable[[Any], None]:
    """RegisterContact.guard of a report without a token: its device id is not registered."""
    devices = request.config_dict[CONTAINER].db.registries.devices

    def guard(connection: Any) -> None:
        if devices.registered_in(connection, device_id):
            raise _token_required()

    return guard


def _now(request: web.Request) -> datetime:
    return datetime.fromtimestamp(request.config_dict[CONTAINER].clock(), UTC)


# --- reports ------------------------------------------------------------------------------


async def _multipart(
    request: web.Request, max_photo: int
) -> tuple[dict[str, Any], parse.Photo | None]:
    fields: dict[str, Any] = {}
    photo: parse.Photo | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise BadRequest("nested multipart is not supported", error_id="bad_multipart")
        if part.name == "photo":
            if photo is not None:
                raise Unprocessable("one photo per report", error_id="too_many_photos")
            data = bytearray()
            while chunk := await part.read_chunk(65536):
                data += chunk
                if len(data) > max_photo:
                    raise PayloadTooLarge(
                        f"the photo is larger than {max_photo} bytes", error_id="photo_too_large"
                    )
            photo = parse.Photo(bytes(data), part.filename)
        else:
            raw = bytearray()
            while chunk := await part.read_chunk(65536):  # bounded while read, not after
                raw += chunk
                if len(raw) > MAX_FIELD_BYTES:
                    raise PayloadTooLarge(
                        f"field {text_policy.clean(part.name)} is too large",
                        error_id="field_too_large",
                    )
            fields[text_policy.clean(part.name)] = text_policy.decode_bytes(part.decode(bytes(raw)))
    return fields, photo


async def post_report(request: web.Request) -> web.Response:
    c = request.config_dict[CONTAINER]
    limits = parse.Limits(c.settings.app.max_text_chars, c.settings.app.max_photo_bytes)
    if request.content_type == "application/json":
        fields: dict[str, Any] = await read_json_object(request, MAX_JSON_BYTES)
        photo = None
    elif request.content_type == "multipart/form-data":
        fields, photo = await read_multipart(request, _multipart, limits.max_photo_bytes)
    else:
        raise UnsupportedMediaType(
            "send application/json or multipart/form-data", error_id="unsupported_content_type"
        )
    command = parse.report(fields, photo, limits, request.headers.get("Idempotency-Key"))
    device_id = command.citizen
    assert device_id is not None
    token = parse.device_token(request.headers.get("X-Device-Token"))
    if token is not None:
        await _acting_for(request, device_id, token)
    else:  # checked in the intake's own transaction, before its replay look-up
        command = dataclasses.replace(command, guard=_unregistered(request, device_id))
    reports = request.config_dict[LIMITS].reports
    with handling(request, command.external_id):
        # counted before the intake knows it is new, taken back when it is not: one unit of
        # work checks the device, looks the key up and stores the contact
        try:
            admit_new(request, reports, device_id)
        except TooManyRequests:
            # a registered device is still told 401 first, and a replay its stored contact
            contact_id = await stored_intake(request, command)
            if contact_id is None:
                raise
            replayed = True
        else:
            try:
                registered = await c.bus.execute(command)
            except Unauthorized:
                take_back_new(request, reports, device_id)
                raise
            contact_id, replayed = registered.contact_id, not registered.created
            if replayed:  # answered as stored, never counted; the same request?
                take_back_new(request, reports, device_id)
                await stored_intake(request, command)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return web.json_response({"id": contact_id, "status": "queued"}, status=202, headers=headers)


async def _own_contact(request: web.Request, device_id: str, channel: ChannelKind) -> Contact:
    c = request.config_dict[CONTAINER]
    param = "report_id" if channel is ChannelKind.APP else "contact_id"
    try:
        contact = await c.db.contacts.get(request.match_info[param])
    except NotFound:
        contact = None
    if contact is None or contact.channel is not channel or contact.citizen != device_id:
        what = "report" if channel is ChannelKind.APP else "SOS"
        raise NotFound(f"no such {what} for this device", error_id=f"{what.lower()}_not_found")
    return contact


async def _own_report(request: web.Request) -> Contact:
    token = parse.device_token(request.headers.get("X-Device-Token"))
    device = await _token_device(request, token)
    sent_id = request.headers.get("X-Device-Id")
    if device is not None and not sent_id:
        device_id = device.id
    else:
        device_id = parse.device_id(sent_id)
        await _acting_for(request, device_id, token)
    return await _own_contact(request, device_id, ChannelKind.APP)


async def _status_body(request: web.Request, contact: Contact) -> dict[str, Any]:
    messages = await request.config_dict[CONTAINER].db.contacts.messages(contact.id)
    replies = [
        {"id": m.id, "text": m.text, "at": iso(m.created_at)}
        for m in messages
        if m.direction is MessageDirection.OUTBOUND
    ]
    return {
        "id": contact.id,
        **citizen_status(contact),
        "created_at": iso(contact.created_at),
        "closed_at": iso(contact.closed_at),
        "replies": replies,
    }


async def get_report(request: web.Request) -> web.Response:
    contact = await _own_report(request)
    return json_response(await _status_body(request, contact))


# --- devices ------------------------------------------------------------------------------


async def register_device(request: web.Request) -> web.Response:
    """Register a device id and get its token (shown once). With the device's current
    X-Device-Token, the same call replaces the token."""
    c = request.config_dict[CONTAINER]
    request.config_dict[LIMITS].registrations.check(remote_address(request))
    wanted = parse.registration(await read_json_object(request, MAX_JSON_BYTES))
    current = parse.device_token(request.headers.get("X-Device-Token"))
    token = secrets.token_urlsafe(32)
    now = _now(request)
    created = await c.db.registries.devices.register(
        Device(
            id=wanted.device_id,
            registered_at=now,
            platform=wanted.platform,
            language=wanted.language,
            last_seen_at=now,
        ),
        parse.token_hash(token),
        current_token_hash=parse.token_hash(current) if current else None,
    )
    return json_response(
        {"device_id": wanted.device_id, "device_token": token, "registered_at": now.isoformat()},
        status=201 if created else 200,
    )


async def history(request: web.Request) -> web.Response:
    """The device's reports and SOS calls since it registered, newest first."""
    device = await registered_device(request)
    c = request.config_dict[CONTAINER]
    limit = c.settings.app.history_limit
    raw = request.query.get("limit")
    if raw is not None:
        if not LIMIT.match(raw) or not 1 <= int(raw) <= limit:
            raise Unprocessable(f"limit must be 1-{limit}", error_id="invalid_limit")
        limit = int(raw)
    contacts = await c.db.registries.sources.history(
        device.id, APP_CHANNELS, limit=limit, since=device.registered_at
    )
    return json_response(
        {
            "device_id": device.id,
            "contacts": [
                {
                    "id": x.id,
                    "kind": "sos" if x.channel is ChannelKind.APP_SOS else "report",
                    **citizen_status(x),
                    "summary": x.summary,
                    "created_at": iso(x.created_at),
                    "closed_at": iso(x.closed_at),
                }
                for x in contacts
            ],
        }
    )


# --- SOS ----------------------------------------------------------------------------------


def _call(request: web.Request, contact_id: str) -> dict[str, Any]:
    """What the app needs to start its video call to the center (served by the WebRTC side;
    the values come from CONTACT_APP_SOS_*)."""
    settings = request.config_dict[CONTAINER].settings.app
    ice = [u.strip() for u in settings.sos_ice_servers.split(",") if u.strip()]
    return {
        "sip_uri": settings.sos_sip_uri,
        "ws_url": settings.sos_ws_url,
        "ice_servers": [{"urls": u} for u in ice],
        "headers": {"X-Contact-Id": contact_id},
        "video": True,
    }


def _sos_body(request: web.Request, contact: Contact | str, status: str = "queued") -> Any:
    contact_id = contact if isinstance(contact, str) else contact.id
    return {
        "id": contact_id,
        "status": status,
        "call": _call(request, contact_id),
        "location_url": f"{PREFIX}/sos/{contact_id}/location",
        "ws_url": f"{PREFIX}/ws",
    }


async def post_sos(request: web.Request) -> web.Response:
    """An SOS: joins the device's open SOS (200, moved to where the phone is now), else a new
    contact committed with the device as its source (202); see contact.channels.devices."""
    device = await registered_device(request)
    c = request.config_dict[CONTAINER]
    limits = parse.Limits(c.settings.app.max_text_chars, c.settings.app.max_photo_bytes)
    fields = await read_json_object(request, MAX_JSON_BYTES, allow_empty=True)
    command = parse.sos(fields, device.id, limits, request.headers.get("Idempotency-Key"))
    stored = await stored_intake(request, command)  # 422 for a reused key
    intake = parse.sos_intake(command, device.id, device.platform)
    if stored is None:  # a replay is answered as stored, never counted against a limit
        admit = functools.partial(admit_new, request, request.config_dict[LIMITS].sos, device.id)
        intake = dataclasses.replace(intake, admit=admit)
    result: DeviceIntakeResult = await c.bus.execute(intake)
    if result.outcome is Outcome.JOINED:
        contact = await c.db.contacts.get(result.contact_id)
        body = {**_sos_body(request, contact), **citizen_status(contact), "joined": True}
        return json_response({**body, "requeued": result.requeued})
    if result.outcome is Outcome.REPLAYED:
        return json_response(
            _sos_body(request, result.contact_id),
            status=202,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        await c.db.registries.devices.touch(device.id, _now(request))
    except ContactError as exc:
        log.warning("device not touched: %s", exc.message, extra={"contact_id": result.contact_id})
    return json_response(_sos_body(request, result.contact_id), status=202)


async def get_sos(request: web.Request) -> web.Response:
    device = await registered_device(request)
    contact = await _own_contact(request, device.id, ChannelKind.APP_SOS)
    body = await _status_body(request, contact)
    body["location"] = location_json(contact.location)
    if contact.state not in (ContactState.CLOSED, ContactState.ABANDONED):
        body["call"] = _call(request, contact.id)
    return json_response(body)


async def sos_location(request: web.Request) -> web.Response:
    """A live location update during an SOS (while its contact is open)."""
    device = await registered_device(request)
    c = request.config_dict[CONTAINER]
    contact = await _own_contact(request, device.id, ChannelKind.APP_SOS)
    request.config_dict[LIMITS].locations.check(device.id)  # every attempt on its own SOS counts
    command = parse.location_update(await read_json_object(request, MAX_JSON_BYTES), contact.id)
    if contact.state in (ContactState.CLOSED, ContactState.ABANDONED):
        raise Conflict("this SOS is over", error_id="contact_closed")
    updated = await c.bus.execute(command)
    return json_response({"id": contact.id, "location": location_json(updated.location)})


async def cancel_sos(request: web.Request) -> web.Response:
    """Withdraw an SOS pressed by mistake, while no operator has answered it."""
    device = await registered_device(request)
    c = request.config_dict[CONTAINER]
    contact = await _own_contact(request, device.id, ChannelKind.APP_SOS)
    if contact.state is not ContactState.ABANDONED:
        if contact.state not in OPEN_STATES:
            raise Conflict(
                "an operator has this SOS; tell them instead", error_id="not_cancellable"
            )
        contact = await c.bus.execute(Abandon(contact_id=contact.id))
    return json_response({"id": contact.id, **citizen_status(contact)})


# --- WebSocket ----------------------------------------------------------------------------


async def app_ws(request: web.Request) -> web.WebSocketResponse:
    """Replies and status changes of the device's reports and SOS calls. A registered device
    names itself with its token (X-Device-Token or ?device_token=); an unregistered one with
    ?device_id=."""
    token = parse.device_token(
        request.headers.get("X-Device-Token") or request.query.get("device_token")
    )
    device = await _token_device(request, token)
    sent_id = request.query.get("device_id") or request.headers.get("X-Device-Id")
    if device is not None and not sent_id:
        device_id = device.id
    else:
        device_id = parse.device_id(sent_id)
        await _acting_for(request, device_id, token)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.config_dict[HUB]
    subscriber = Subscriber(ws, owner=f"device {device_id[:6]}…")
    hub.subscribe(subscriber, device_topic(device_id))
    return await hub.serve(request, subscriber)


def setup(app: web.Application) -> None:
    """The app channel: a sub-application under /api/v1/app whose guard checks the app's key
    before any handler runs; its rate limits live on the main application (one set per node)."""
    settings = app[CONTAINER].settings.app
    app[LIMITS] = Limits(
        settings.reports_per_minute_per_device,
        settings.sos_per_hour_per_device,
        settings.locations_per_minute_per_device,
        settings.registrations_per_minute_per_address,
        settings.reports_per_minute_per_address,
        settings.reports_per_minute_per_api_key,
    )
    channel = web.Application(middlewares=[guard(app_key)])
    channel[EDGE] = True  # its own check; no staff session
    r = channel.router
    r.add_post("/reports", post_report)
    r.add_get("/reports/{report_id}", get_report)
    r.add_post("/devices", register_device)
    r.add_get("/history", history)
    r.add_post("/sos", post_sos)
    r.add_get("/sos/{contact_id}", get_sos)
    r.add_post("/sos/{contact_id}/location", sos_location)
    r.add_post("/sos/{contact_id}/cancel", cancel_sos)
    r.add_get("/ws", app_ws)
    app.add_subapp(PREFIX, channel)
