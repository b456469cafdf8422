"""GET /webhooks/whatsapp: the subscription handshake (hub.verify_token → hub.challenge).
POST /webhooks/whatsapp: notifications. The signature is checked on the raw body (missing
401, wrong 403), the body bounded (413) and parsed (400/422); every message and status is
committed to the inbox before the 200. A citizen over their rate gets 429 for the POST
after the others in it are stored (Meta retries it; what was stored is not stored twice)."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from contact.channels.chat import CitizenLimiter
from contact.channels.edge import (
    decode_json_object,
    json_response,
    read_body,
    require_json,
)
from contact.channels.inbox import Inbox, InboxProcessor
from contact.channels.outbox import Outbox
from contact.channels.whatsapp import parse
from contact.domain.model import ChannelKind
from contact.errors import BadRequest, Forbidden, Unavailable
from contact.http.keys import CONTAINER
from contact.ports import InboxItem

PATH = "/webhooks/whatsapp"
EXTRAS_KEY = "whatsapp"


@dataclass
class WhatsAppRuntime:
    inbox: Inbox
    processor: InboxProcessor
    outbox: Outbox
    limiter: CitizenLimiter
    limits: parse.Limits
    client: Any  # GraphClient


def runtime(request: web.Request) -> WhatsAppRuntime:
    found = request.app[CONTAINER].extras.get(EXTRAS_KEY)
    if not isinstance(found, WhatsAppRuntime):
        raise Unavailable("the WhatsApp channel is not running", error_id="channel_disabled")
    return found


async def verify(request: web.Request) -> web.Response:
    settings = request.app[CONTAINER].settings.whatsapp
    mode = request.query.get("hub.mode")
    token = request.query.get("hub.verify_token")
    challenge = request.query.get("hub.challenge")
    if mode != "subscribe" or token is None or challenge is None:
        raise BadRequest(
            "expected hub.mode=subscribe, hub.verify_token and hub.challenge",
            error_id="bad_verification",
        )
    assert settings.verify_token is not None
    expected = settings.verify_token.get_secret_value().encode()
    if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), expected):
        raise Forbidden("wrong hub.verify_token", error_id="bad_verify_token")
    if len(challenge) > 1024:
        raise BadRequest("hub.challenge is too long", error_id="bad_verification")
    return web.Response(text=challenge, content_type="text/plain")


async def notification(request: web.Request) -> web.Response:
    c = request.app[CONTAINER]
    settings = c.settings.whatsapp
    rt = runtime(request)
    raw = await read_body(request, settings.max_body_bytes)
    assert settings.app_secret is not None
    parse.check_signature(
        settings.app_secret.get_secret_value(), raw, request.headers.get(parse.SIGNATURE_HEADER)
    )
    require_json(request)
    items = parse.split(decode_json_object(raw))
    now = datetime.fromtimestamp(c.clock(), UTC)
    admitted = rt.limiter.admit([item.citizen for item in items])
    allowed = [item for item, ok in zip(items, admitted, strict=True) if ok]
    stored = await rt.inbox.put([_inbox_item(item, now) for item in allowed]) if allowed else []
    for item, new in zip(allowed, stored, strict=True):
        if new and item.citizen is not None:
            rt.limiter.count(item.citizen)
    if not all(admitted):
        raise rt.limiter.refusal()
    return json_response({"ok": True, "stored": sum(stored), "duplicates": stored.count(False)})


def _inbox_item(item: parse.Item, now: datetime) -> InboxItem:
    return InboxItem(
        channel=ChannelKind.WHATSAPP,
        external_id=item.external_id,
        lane=item.lane,
        payload=json.dumps(item.payload, ensure_ascii=True, separators=(",", ":")),
        received_at=now,
    )


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, verify)
    app.router.add_post(PATH, notification)
