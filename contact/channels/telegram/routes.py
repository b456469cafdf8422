"""POST /webhooks/telegram: Telegram's webhook. The secret token header is checked (missing
401, wrong 403), the body bounded (413) and parsed (400/422), the citizen's rate checked
(429); the update is committed to the inbox and only then answered 200."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from contact.channels.chat import CitizenLimiter
from contact.channels.edge import json_response, key_matches, read_json_object
from contact.channels.inbox import Inbox, InboxProcessor
from contact.channels.outbox import Outbox
from contact.channels.telegram import parse
from contact.channels.telegram.polling import inbox_item
from contact.errors import Forbidden, Unauthorized, Unavailable
from contact.http.keys import CONTAINER

PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
EXTRAS_KEY = "telegram"


@dataclass
class TelegramRuntime:
    """What the webhook and the tests reach of the installed channel."""

    inbox: Inbox
    processor: InboxProcessor
    outbox: Outbox
    limiter: CitizenLimiter
    limits: parse.Limits
    client: Any  # TelegramClient (aiogram is imported only when the channel is installed)
    poller: Any | None = None


def runtime(request: web.Request) -> TelegramRuntime:
    found = request.app[CONTAINER].extras.get(EXTRAS_KEY)
    if not isinstance(found, TelegramRuntime):
        raise Unavailable("the Telegram channel is not running", error_id="channel_disabled")
    return found


def check_secret(request: web.Request) -> None:
    expected = request.app[CONTAINER].settings.telegram.webhook_secret
    if expected is None:
        raise Unavailable(
            "CONTACT_TELEGRAM_WEBHOOK_SECRET is not set: webhooks are refused",
            error_id="webhook_not_configured",
        )
    sent = request.headers.get(SECRET_HEADER)
    if sent is None:
        raise Unauthorized(f"missing {SECRET_HEADER}", error_id="missing_secret_token")
    if not key_matches(sent, [expected.get_secret_value()]):
        raise Forbidden(f"wrong {SECRET_HEADER}", error_id="bad_secret_token")


async def webhook(request: web.Request) -> web.Response:
    check_secret(request)
    rt = runtime(request)
    settings = request.app[CONTAINER].settings.telegram
    raw = await read_json_object(request, settings.max_body_bytes)
    parsed = parse.parse_update(raw, rt.limits)
    if isinstance(parsed, parse.Ignored):
        return json_response({"ok": True, "ignored": parsed.reason})
    if not rt.limiter.admit([parsed.key])[0]:
        raise rt.limiter.refusal()
    now = datetime.fromtimestamp(request.app[CONTAINER].clock(), UTC)
    [stored] = await rt.inbox.put([inbox_item(raw, parsed, now)])
    if stored:
        rt.limiter.count(parsed.key)
    return json_response({"ok": True, "duplicate": not stored})


def setup(app: web.Application) -> None:
    app.router.add_post(PATH, webhook)
