"""GET /webhooks/whatsapp: the subscription handshake (hub.verify_token → hub.challenge).
POST /webhooks/whatsapp: notifications. A sub-application: its middleware reads the body
(bounded, 413) and checks the signature on the raw bytes (missing 401, wrong 403) before the
handler runs. The handler parses it (400/415/422) and commits every message and status to the
inbox before the 200. A citizen over their rate gets 429 for the POST after the others in it
are stored (Meta retries it; what was stored is not stored twice)."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from contact.channels.chat.inbox import Inbox, InboxProcessor
from contact.channels.chat.limiter import CitizenLimiter
from contact.channels.chat.outbox import Outbox
from contact.channels.chat.ports import InboxItem
from contact.channels.chat.webhook import RAW_BODY, webhook_app
from contact.channels.whatsapp import parse
from contact.context import Key
from contact.domain.model import ChannelKind
from contact.errors import BadRequest, Forbidden, Unavailable
from contact.http.edge import (
    decode_json_object,
    json_response,
    read_body,
    require_json,
)
from contact.http.keys import CONTAINER

PATH = "/webhooks/whatsapp"


@dataclass
class WhatsAppRuntime:
    inbox: Inbox
    processor: InboxProcessor
    outbox: Outbox
    limiter: CitizenLimiter
    limits: parse.Limits
    client: Any  # GraphClient


# what the webhook and the tests reach of the installed channel
WHATSAPP_PART: Key[WhatsAppRuntime] = Key("whatsapp")


def runtime(request: web.Request) -> WhatsAppRuntime:
    found = request.config_dict[CONTAINER].find(WHATSAPP_PART)
    if found is None:
        raise Unavailable("the WhatsApp channel is not running", error_id="channel_disabled")
    return found


async def verify(request: web.Request) -> web.Response:
    settings = request.config_dict[CONTAINER].settings.whatsapp
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


async def check_signature(request: web.Request) -> None:
    settings = request.config_dict[CONTAINER].settings.whatsapp
    raw = await read_body(request, settings.max_body_bytes)
    assert settings.app_secret is not None
    parse.check_signature(
        settings.app_secret.get_secret_value(), raw, request.headers.get(parse.SIGNATURE_HEADER)
    )
    request[RAW_BODY] = raw


async def notification(request: web.Request) -> web.Response:
    c = request.config_dict[CONTAINER]
    rt = runtime(request)
    require_json(request)
    items = parse.split(decode_json_object(request[RAW_BODY]))
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
    whatsapp = webhook_app(check_signature)  # the handshake (GET) carries no signature
    whatsapp.router.add_get("", verify)
    whatsapp.router.add_post("", notification)
    app.add_subapp(PATH, whatsapp)
