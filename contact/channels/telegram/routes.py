"""POST /webhooks/telegram: Telegram's webhook, a sub-application whose middleware checks the
secret token header (missing 401, wrong 403) before the handler runs. The handler bounds the
body (413) and parses it (400/422), checks the citizen's rate (429), commits the update to the
inbox and only then answers 200."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from contact.channels.chat.inbox import Inbox, InboxProcessor
from contact.channels.chat.limiter import CitizenLimiter
from contact.channels.chat.outbox import Outbox
from contact.channels.chat.webhook import webhook_app
from contact.channels.telegram import parse
from contact.channels.telegram.polling import inbox_item
from contact.context import Key
from contact.errors import Forbidden, Unauthorized, Unavailable
from contact.http.edge import json_response, key_matches, read_json_object
from contact.http.keys import CONTAINER

PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


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


# what the webhook and the tests reach of the installed channel
TELEGRAM_PART: Key[TelegramRuntime] = Key("telegram")


def runtime(request: web.Request) -> TelegramRuntime:
    found = request.config_dict[CONTAINER].find(TELEGRAM_PART)
    if found is None:
        raise Unavailable("the Telegram channel is not running", error_id="channel_disabled")
    return found


async def check_secret(request: web.Request) -> None:
    expected = request.config_dict[CONTAINER].settings.telegram.webhook_secret
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
    rt = runtime(request)
    c = request.config_dict[CONTAINER]
    raw = await read_json_object(request, c.settings.telegram.max_body_bytes)
    parsed = parse.parse_update(raw, rt.limits)
    if isinstance(parsed, parse.Ignored):
        return json_response({"ok": True, "ignored": parsed.reason})
    if not rt.limiter.admit([parsed.key])[0]:
        raise rt.limiter.refusal()
    now = datetime.fromtimestamp(c.clock(), UTC)
    [stored] = await rt.inbox.put([inbox_item(raw, parsed, now)])
    if stored:
        rt.limiter.count(parsed.key)
    return json_response({"ok": True, "duplicate": not stored})


def setup(app: web.Application) -> None:
    telegram = webhook_app(check_secret)
    telegram.router.add_post("", webhook)
    app.add_subapp(PATH, telegram)
