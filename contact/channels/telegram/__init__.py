"""Telegram (aiogram 3): a bot taking citizens' reports by webhook or long polling.

Each update is stored in the chat inbox before Telegram gets its 200 (deduplicated on its
update id), then becomes the citizen's chat contact in the unified queue. Switched on by
CONTACT_TELEGRAM_TOKEN; CONTACT_TELEGRAM_MODE picks webhook (with
CONTACT_TELEGRAM_WEBHOOK_SECRET) or polling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.channels.chat.inbox import InboxProcessor
from contact.channels.chat.limiter import citizen_limiter
from contact.channels.chat.outbox import Outbox
from contact.channels.chat.runtime import chat_runtime
from contact.channels.telegram import openapi, parse, routes
from contact.channels.telegram.handler import TelegramHandler
from contact.channels.telegram.notify import TelegramNotifier
from contact.channels.telegram.polling import TelegramPoller
from contact.config import Settings
from contact.context import Plugin
from contact.domain.model import ChannelKind

if TYPE_CHECKING:
    from contact.context import Container


def _enabled(settings: Settings) -> bool:
    return settings.telegram.active


def _install(container: Container) -> None:
    # imported here: aiogram takes seconds to import, paid only when the channel is on
    from contact.channels.telegram.client import TelegramClient, TelegramSender

    settings = container.settings.telegram
    chat = chat_runtime(container)
    client = TelegramClient(settings)
    outbox = Outbox(
        ChannelKind.TELEGRAM,
        store=chat.store,
        bus=container.bus,
        sender=TelegramSender(client),
        attempts=settings.send_attempts,
        clock=container.clock,
        gate=chat.gate,
    )
    limits = parse.Limits(max_text_chars=settings.max_text_chars)
    handler = TelegramHandler(
        client=client,
        store=chat.store,
        intake=chat.intake,
        gate=chat.gate,
        outbox=outbox,
        limits=limits,
        max_media_bytes=settings.max_media_bytes,
        clock=container.clock,
    )
    processor = InboxProcessor(
        ChannelKind.TELEGRAM,
        chat.store,
        handler.handle,
        clock=container.clock,
        gate=chat.gate,
        on_failed=container.metrics.inbox_failed_once,
    )
    chat.inbox.attach(processor)
    TelegramNotifier(store=chat.store, outbox=outbox).register(container.bus)
    poller = None
    if settings.mode == "polling":
        poller = TelegramPoller(
            client,
            chat.inbox,
            limits=limits,
            timeout_s=settings.poll_timeout_s,
            clock=container.clock,
        )
    container.services.extend([client, outbox, processor])
    if poller is not None:
        container.services.append(poller)
    runtime = routes.TelegramRuntime(
        inbox=chat.inbox,
        processor=processor,
        outbox=outbox,
        limiter=citizen_limiter(settings.messages_per_minute_per_citizen),
        limits=limits,
        client=client,
        poller=poller,
    )
    container.provide(routes.TELEGRAM_PART, runtime)


PLUGIN = Plugin(
    name="telegram",
    enabled=_enabled,
    install=_install,
    routes=routes.setup,
    openapi=openapi.PATHS,
    switch="CONTACT_TELEGRAM_TOKEN, CONTACT_TELEGRAM_ENABLED",
)
