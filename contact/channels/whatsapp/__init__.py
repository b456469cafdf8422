"""WhatsApp Cloud API: citizens' messages by webhook, replies through the Graph API.

Every message and status is stored in the chat inbox before Meta gets its 200 (deduplicated
on its wamid), then becomes the citizen's chat contact in the unified queue. Switched on when
CONTACT_WHATSAPP_VERIFY_TOKEN, _APP_SECRET, _ACCESS_TOKEN and _PHONE_NUMBER_ID are set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.channels.chat.inbox import InboxProcessor
from contact.channels.chat.limiter import citizen_limiter
from contact.channels.chat.outbox import Outbox
from contact.channels.chat.runtime import chat_runtime
from contact.channels.whatsapp import openapi, parse, routes
from contact.channels.whatsapp.client import GraphClient, WhatsAppSender
from contact.channels.whatsapp.handler import WhatsAppHandler
from contact.channels.whatsapp.notify import WhatsAppNotifier
from contact.config import Settings
from contact.context import Plugin
from contact.domain.model import ChannelKind

if TYPE_CHECKING:
    from contact.context import Container


def _enabled(settings: Settings) -> bool:
    return settings.whatsapp.active


def _install(container: Container) -> None:
    settings = container.settings.whatsapp
    chat = chat_runtime(container)
    client = GraphClient(settings)
    outbox = Outbox(
        ChannelKind.WHATSAPP,
        store=chat.store,
        bus=container.bus,
        sender=WhatsAppSender(client, settings, clock=container.clock),
        attempts=settings.send_attempts,
        clock=container.clock,
        gate=chat.gate,
    )
    limits = parse.Limits(max_text_chars=settings.max_text_chars)
    handler = WhatsAppHandler(
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
        ChannelKind.WHATSAPP,
        chat.store,
        handler.handle,
        clock=container.clock,
        gate=chat.gate,
        on_failed=container.metrics.inbox_failed_once,
    )
    chat.inbox.attach(processor)
    WhatsAppNotifier(store=chat.store, outbox=outbox).register(container.bus)
    container.services.extend([client, outbox, processor])
    runtime = routes.WhatsAppRuntime(
        inbox=chat.inbox,
        processor=processor,
        outbox=outbox,
        limiter=citizen_limiter(settings.messages_per_minute_per_citizen),
        limits=limits,
        client=client,
    )
    container.provide(routes.WHATSAPP_PART, runtime)


PLUGIN = Plugin(
    name="whatsapp",
    enabled=_enabled,
    install=_install,
    routes=routes.setup,
    openapi=openapi.PATHS,
    switch="CONTACT_WHATSAPP_* credentials, CONTACT_WHATSAPP_ENABLED",
)
