"""Chat citizens told what happens to their report, and the operators told what happened to
their replies (delivery changes on the contact's topic).

The events carry the contact's channel and citizen: a notifier decides from them whether a
contact is its own, and finds the conversation (cached) from the citizen, never reading the
contact back."""

from __future__ import annotations

from typing import Any

from contact.bus import MessageBus
from contact.channels.chat.ports import Conversation, Conversations, Messages
from contact.channels.chat.texts import received_text, report_number, say
from contact.domain import events as ev
from contact.domain.model import ChannelKind
from contact.ports import Broadcast


class ChatNotifier:
    """Tells a chat citizen what happens to their report: its number (with the advice to call
    102 when life is in danger), that an operator took it, that a unit is on its way, that it
    was closed; and the operators' replies. Everything goes through the channel's Outbox."""

    channel: ChannelKind

    def __init__(self, *, store: Conversations, outbox: Messages) -> None:
        self._store = store
        self.outbox = outbox

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ContactReceived, self._received)
        bus.subscribe(ev.ContactAccepted, self._accepted)
        bus.subscribe(ev.UnitDispatched, self._dispatched)
        bus.subscribe(ev.ContactClosed, self._closed)
        bus.subscribe(ev.ReplySent, self._reply)

    async def _mine(self, channel: ChannelKind | None, citizen: str | None) -> Conversation | None:
        """The conversation of a contact of this channel (from the event's fields)."""
        if channel is not self.channel or citizen is None:
            return None
        return await self._store.conversation(self.channel, citizen)

    def received_body(self, contact_id: str, conversation: Conversation) -> dict[str, Any]:
        return {"text": received_text(contact_id, conversation.language)}

    async def notice(self, contact_id: str, conversation: Conversation, key: str) -> None:
        body = {"text": say(key, conversation.language, number=report_number(contact_id))}
        await self.outbox.enqueue(citizen=conversation.citizen, body=body, contact_id=contact_id)

    async def _received(self, event: ev.ContactReceived) -> None:
        if conversation := await self._mine(event.channel, event.citizen):
            body = self.received_body(event.contact_id, conversation)
            await self.outbox.enqueue(
                citizen=conversation.citizen, body=body, contact_id=event.contact_id
            )

    async def _accepted(self, event: ev.ContactAccepted) -> None:
        if conversation := await self._mine(event.channel, event.citizen):
            await self.notice(event.contact_id, conversation, "chat.accepted")

    async def _dispatched(self, event: ev.UnitDispatched) -> None:
        if conversation := await self._mine(event.channel, event.citizen):
            await self.notice(event.contact_id, conversation, "chat.dispatched")

    async def _closed(self, event: ev.ContactClosed) -> None:
        if conversation := await self._mine(event.channel, event.citizen):
            await self.notice(event.contact_id, conversation, "chat.closed")

    async def _reply(self, event: ev.ReplySent) -> None:
        if conversation := await self._mine(event.channel, event.citizen):
            await self.outbox.enqueue(
                citizen=conversation.citizen,
                body={"text": event.text},
                contact_id=event.contact_id,
                kind="reply",
                delivery_id=event.message_id,
            )


class DeliveryProjection:
    """Delivery changes of a chat message → the contact's topic, where its operator (and the
    supervisors watching) see that a reply was delivered, read, or failed and why."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.MessageDeliveryChanged, self._changed)

    async def _changed(self, event: ev.MessageDeliveryChanged) -> None:
        await self._broadcast.publish(
            f"contact:{event.contact_id}",
            {
                "type": event.name,
                "at": event.occurred_at.isoformat(),
                "contact_id": event.contact_id,
                "message_id": event.message_id,
                "channel": event.channel.value,
                "kind": event.kind,
                "status": event.status,
                "error": event.error,
            },
        )
