"""Telegram and WhatsApp through their webhooks, as the messengers deliver them.

Telegram: an update POSTed to `/webhooks/telegram` with `X-Telegram-Bot-Api-Secret-Token`
(the center's `CONTACT_TELEGRAM_WEBHOOK_SECRET`); WhatsApp: a notification POSTed to
`/webhooks/whatsapp`, signed `X-Hub-Signature-256: sha256=HMAC-SHA256(app secret, body)` (the
center's `CONTACT_WHATSAPP_APP_SECRET`). Each citizen of the run has a chat of their own; the
text of their contact's kind and language comes first, then, for a contact that needs a unit,
their shared location (it joins the same contact, so the operator can send a patrol there).
A retry resends the same update id / message id, which the center takes once.

What the center answers its citizens goes to the local stand-in of the Bot API / Graph API
(`contact.simulate.standins`), started on the address the center is configured to call
(`CONTACT_TELEGRAM_API_BASE`, `CONTACT_WHATSAPP_API_BASE`): an edge is opened only when that
address is a loopback `http://host:port` (a run never talks to the real messengers).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp

from contact.config import TelegramSettings, WhatsAppSettings
from contact.simulate.edges import TEXTS, Sent, post_until_accepted
from contact.simulate.standins.telegram import BotApiStandIn
from contact.simulate.standins.whatsapp import GraphApiStandIn, sign
from contact.simulate.traffic import Arrival

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def loopback_address(url: str) -> tuple[str, int] | None:
    """(host, port) of an `http://` URL on this machine with an explicit port, else None."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname, port) if parts.hostname and port else None


class TelegramEdge:
    name = "telegram"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Sequence[str],
        standin: BotApiStandIn,
        secret: str,
        tag: int,
        stop_at: float,
    ) -> None:
        self._session, self._bases, self.standin = session, list(bases), standin
        self._secret, self.stop_at = secret, stop_at
        self.prefix = f"9{tag % 1_000_000:06d}"  # chat ids of this run: 9TTTTTTNNNNN
        self._n = itertools.count()

    async def _deliver(self, item: Sent, update: dict[str, object]) -> bool:
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": self._secret,
            "Content-Type": "application/json",
        }
        body = json.dumps(update, ensure_ascii=False).encode()
        answer = await post_until_accepted(
            self._session,
            self._bases,
            item,
            "/webhooks/telegram",
            body,
            lambda: headers,
            self.stop_at,
        )
        return answer is not None and answer.status in (200, 202)

    async def send(self, arrival: Arrival) -> Sent:
        chat_id = int(f"{self.prefix}{next(self._n):05d}")
        update = self.standin.message(
            chat_id, TEXTS[(arrival.kind, arrival.language)], language_code=arrival.language
        )
        key = f"tg-{update['update_id']}"
        item = Sent(arrival, key=key, device_id=str(chat_id), edge=self.name)
        if await self._deliver(item, update) and arrival.needs_unit:
            # the contact is accepted; a lost location only costs the dispatch
            await self._deliver(item, self.standin.location(chat_id, arrival.lat, arrival.lon))
        return item


class WhatsAppEdge:
    name = "whatsapp"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Sequence[str],
        standin: GraphApiStandIn,
        app_secret: str,
        run: str,
        stop_at: float,
    ) -> None:
        self._session, self._bases, self.standin = session, list(bases), standin
        self._secret, self.stop_at = app_secret, stop_at
        self.prefix = f"{run}-w"  # the citizens' business-scoped user ids
        self._n = itertools.count()

    async def _deliver(
        self, item: Sent, contact: dict[str, object], message: dict[str, object]
    ) -> bool:
        body = json.dumps(
            self.standin.notification(messages=[message], contacts=[contact]), ensure_ascii=False
        ).encode()
        headers = {
            "X-Hub-Signature-256": sign(body, self._secret),
            "Content-Type": "application/json",
        }
        answer = await post_until_accepted(
            self._session,
            self._bases,
            item,
            "/webhooks/whatsapp",
            body,
            lambda: headers,
            self.stop_at,
        )
        return answer is not None and answer.status in (200, 202)

    async def send(self, arrival: Arrival) -> Sent:
        user = f"{self.prefix}{next(self._n)}"
        contact = self.standin.sender(user_id=user)
        message = self.standin.text(contact, TEXTS[(arrival.kind, arrival.language)])
        item = Sent(arrival, key=str(message["id"]), device_id=user, edge=self.name)
        if await self._deliver(item, contact, message) and arrival.needs_unit:
            # the contact is accepted; a lost location only costs the dispatch
            where = self.standin.location(contact, arrival.lat, arrival.lon)
            await self._deliver(item, contact, where)
        return item


async def open_telegram(
    session: aiohttp.ClientSession,
    bases: Sequence[str],
    settings: TelegramSettings,
    tag: int,
    stop_at: float,
) -> tuple[TelegramEdge | None, str]:
    """The Telegram edge with its Bot API stand-in listening where the center calls it, or
    None and why not."""
    if not settings.active or settings.token is None:
        return None, "the center has no Telegram bot (CONTACT_TELEGRAM_TOKEN)"
    if settings.mode != "webhook" or settings.webhook_secret is None:
        return None, "the center takes no Telegram webhook (CONTACT_TELEGRAM_WEBHOOK_SECRET)"
    where = loopback_address(settings.api_base)
    if where is None:
        return None, "CONTACT_TELEGRAM_API_BASE is not a local stand-in (http://127.0.0.1:PORT)"
    secret = settings.webhook_secret.get_secret_value()
    standin = BotApiStandIn(settings.token.get_secret_value(), secret)
    try:
        await standin.start(*where)
    except OSError as exc:
        return None, f"the Bot API stand-in cannot listen on {where[0]}:{where[1]}: {exc}"
    return TelegramEdge(session, bases, standin, secret, tag, stop_at), ""


async def open_whatsapp(
    session: aiohttp.ClientSession,
    bases: Sequence[str],
    settings: WhatsAppSettings,
    run: str,
    stop_at: float,
) -> tuple[WhatsAppEdge | None, str]:
    """The WhatsApp edge with its Graph API stand-in, or None and why not."""
    if not settings.active:
        return None, "the center has no WhatsApp number (CONTACT_WHATSAPP_* secrets)"
    assert settings.app_secret is not None and settings.access_token is not None
    assert settings.phone_number_id is not None
    where = loopback_address(settings.api_base)
    if where is None:
        return None, "CONTACT_WHATSAPP_API_BASE is not a local stand-in (http://127.0.0.1:PORT)"
    secret = settings.app_secret.get_secret_value()
    standin = GraphApiStandIn(
        access_token=settings.access_token.get_secret_value(),
        app_secret=secret,
        phone_number_id=settings.phone_number_id,
    )
    try:
        await standin.start(*where)
    except OSError as exc:
        return None, f"the Graph API stand-in cannot listen on {where[0]}:{where[1]}: {exc}"
    return WhatsAppEdge(session, bases, standin, secret, run, stop_at), ""
