"""What the chat channels (Telegram, WhatsApp) share in one container: the store, the durable
inbox (one group-committing writer for both) and the intake into contacts. Built once, by
whichever chat channel installs first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from contact.channels.chat.cache import CachedChatStore
from contact.channels.chat.inbox import Inbox, WriteGate
from contact.channels.chat.intake import ChatIntake
from contact.channels.chat.notify import DeliveryProjection
from contact.channels.chat.opening import LeasedOpening, LocalOpening
from contact.channels.chat.sql import SqlChatStore
from contact.context import Key
from contact.persistence.leases import SqlLeaseStore

if TYPE_CHECKING:
    from contact.context import Container


@dataclass
class ChatRuntime:
    store: CachedChatStore
    inbox: Inbox
    intake: ChatIntake
    gate: WriteGate


# the chat channels' shared runtime: the first chat channel installed creates it
CHAT_PART: Key[ChatRuntime] = Key("chat")


def chat_runtime(container: Container) -> ChatRuntime:
    found = container.find(CHAT_PART)
    if found is not None:
        return found
    store = CachedChatStore(SqlChatStore(container.db.store))
    gate = WriteGate()
    runtime = ChatRuntime(
        store=store,
        inbox=Inbox(store, clock=container.clock, gate=gate),
        intake=ChatIntake(
            bus=container.bus,
            contacts=container.db.contacts,
            store=store,
            clock=container.clock,
            # one node on SQLite; nodes on PostgreSQL share the lock through the database
            opening=LocalOpening()
            if container.db.store.is_sqlite
            else LeasedOpening(SqlLeaseStore(container.db.store)),
        ),
        gate=gate,
    )
    runtime.intake.register(container.bus)
    DeliveryProjection(container.broadcast).register(container.bus)
    container.services.append(runtime.inbox)
    container.provide(CHAT_PART, runtime)
    return runtime
