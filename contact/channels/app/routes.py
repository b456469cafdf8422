"""Citizen app reports over HTTP: POST a report, GET its status and replies, and a WebSocket
that pushes replies and status changes. The app authenticates with its API key (X-Api-Key);
a report is readable only with the device id it was sent from (X-Device-Id).

A report is answered 202 only after it is committed to the database.
"""

from __future__ import annotations

import hmac
import json
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import BodyPartReader, web

from contact.channels.app import parse
from contact.channels.app.notify import citizen_status, device_topic
from contact.domain.model import ChannelKind, MessageDirection
from contact.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from contact.http.api import json_body
from contact.http.keys import CONTAINER, HUB
from contact.http.views import iso
from contact.http.ws import Subscriber

PREFIX = "/api/v1/app"
MAX_FIELD_BYTES = 64 * 1024
THROTTLE: web.AppKey[DeviceThrottle] = web.AppKey("app_throttle")


class DeviceThrottle:
    """Reports per device per minute, in-process (a flood from one phone stays one phone's)."""

    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def check(self, device_id: str) -> None:
        now = time.monotonic()
        window = self._seen[device_id]
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self._limit:
            raise TooManyRequests(
                "too many reports from this device; wait a minute", error_id="rate_limited"
            )
        window.append(now)


def _check_key(request: web.Request) -> None:
    settings = request.app[CONTAINER].settings.app
    keys = settings.keys()
    if not settings.enabled or not keys:
        raise Unavailable("the app channel is not configured", error_id="channel_disabled")
    sent = request.headers.get("X-Api-Key", "")
    if not any(hmac.compare_digest(sent.encode(), k.encode()) for k in keys):
        raise Unauthorized("missing or wrong X-Api-Key", error_id="bad_api_key")


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
            raw = await part.read(decode=True)
            if len(raw) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"field {part.name} is too large", error_id="field_too_large")
            try:
                fields[part.name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(
                    f"field {part.name} is not UTF-8", error_id="bad_encoding"
                ) from None
    return fields, photo


async def post_report(request: web.Request) -> web.Response:
    _check_key(request)
    c = request.app[CONTAINER]
    limits = parse.Limits(c.settings.app.max_text_chars, c.settings.app.max_photo_bytes)
    if request.content_type == "application/json":
        fields: dict[str, Any] = await json_body(request)
        photo = None
    elif request.content_type == "multipart/form-data":
        try:
            fields, photo = await _multipart(request, limits.max_photo_bytes)
        except ValueError as exc:  # aiohttp's multipart parser on malformed bodies
            raise BadRequest(f"malformed multipart body: {exc}", error_id="bad_multipart") from None
    else:
        raise UnsupportedMediaType(
            "send application/json or multipart/form-data", error_id="unsupported_content_type"
        )
    command = parse.report(fields, photo, limits, request.headers.get("Idempotency-Key"))
    assert command.citizen is not None
    request.app[THROTTLE].check(command.citizen)
    registered = await c.bus.execute(command)
    headers = {} if registered.created else {"Idempotent-Replayed": "true"}
    return web.json_response(
        {"id": registered.contact_id, "status": "queued"}, status=202, headers=headers
    )


async def _own_report(request: web.Request) -> Any:
    _check_key(request)
    device = parse.device_id(request.headers.get("X-Device-Id"))
    c = request.app[CONTAINER]
    try:
        contact = await c.db.contacts.get(request.match_info["report_id"])
    except NotFound:
        contact = None
    if contact is None or contact.channel is not ChannelKind.APP or contact.citizen != device:
        raise NotFound("no such report for this device", error_id="report_not_found")
    return contact


async def get_report(request: web.Request) -> web.Response:
    contact = await _own_report(request)
    messages = await request.app[CONTAINER].db.contacts.messages(contact.id)
    replies = [
        {"id": m.id, "text": m.text, "at": iso(m.created_at)}
        for m in messages
        if m.direction is MessageDirection.OUTBOUND
    ]
    return web.json_response(
        {
            "id": contact.id,
            **citizen_status(contact),
            "created_at": iso(contact.created_at),
            "closed_at": iso(contact.closed_at),
            "replies": replies,
        },
        dumps=_dumps,
    )


async def app_ws(request: web.Request) -> web.WebSocketResponse:
    _check_key(request)
    device = parse.device_id(request.query.get("device_id") or request.headers.get("X-Device-Id"))
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.app[HUB]
    subscriber = Subscriber(ws, owner=f"device {device[:6]}…")
    hub.subscribe(subscriber, device_topic(device))
    return await hub.serve(request, subscriber)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def setup(app: web.Application) -> None:
    settings = app[CONTAINER].settings.app
    app[THROTTLE] = DeviceThrottle(settings.reports_per_minute_per_device)
    app.router.add_post(f"{PREFIX}/reports", post_report)
    app.router.add_get(f"{PREFIX}/reports/{{report_id}}", get_report)
    app.router.add_get(f"{PREFIX}/ws", app_ws)
