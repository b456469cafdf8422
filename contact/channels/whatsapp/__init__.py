"""WhatsApp Cloud API: citizens' messages by webhook, replies through the Graph API.

Every message and status is stored in the chat inbox before Meta gets its 200 (deduplicated
on its wamid), then becomes the citizen's chat contact in the unified queue. Switched on when
CONTACT_WHATSAPP_VERIFY_TOKEN, _APP_SECRET, _ACCESS_TOKEN and _PHONE_NUMBER_ID are set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.channels.whatsapp import openapi, routes
from contact.config import Settings
from contact.plugins import Plugin

if TYPE_CHECKING:
    from contact.bootstrap import Container


def _enabled(settings: Settings) -> bool:
    return settings.whatsapp.active


def _install(container: Container) -> None:
    from contact.channels.chat import chat_runtime, citizen_limiter
    from contact.channels.inbox import InboxProcessor
    from contact.channels.outbox import Outbox
    from contact.channels.whatsapp import parse
    from contact.channels.whatsapp.client import GraphClient, WhatsAppSender
    from contact.channels.whatsapp.handler import WhatsAppHandler
    from contact.channels.whatsapp.notify import WhatsAppNotifier
    from contact.domain.model import ChannelKind

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
        runtime=chat,
        outbox=outbox,
        limits=limits,
        max_media_bytes=settings.max_media_bytes,
        clock=container.clock,
    )
    processor = InboxProcessor(
        ChannelKind.WHATSAPP, chat.store, handler.handle, clock=container.clock, gate=chat.gate
    )
    chat.inbox.attach(processor)
    WhatsAppNotifier(contacts=container.db.contacts, store=chat.store, outbox=outbox).register(
        container.bus
    )
    container.services.extend([client, outbox, processor])
    container.extras[routes.EXTRAS_KEY] = routes.WhatsAppRuntime(
        inbox=chat.inbox,
        processor=processor,
        outbox=outbox,
        limiter=citizen_limiter(settings.messages_per_minute_per_citizen),
        limits=limits,
        client=client,
    )


PLUGIN = Plugin(
    name="whatsapp", enabled=_enabled, install=_install, routes=routes.setup, openapi=openapi.PATHS
)
