"""Domain events → WebSocket topics on every node (through the Broadcast port).

Topics: `queue` (every operator; no citizen data), `operator:<id>` (that operator's offers,
with the contact's details), `contact:<id>` (messages and changes of one contact, for whoever
was allowed to open it), `supervisor` (the room: queue, presence, SLA breaches).
"""

from __future__ import annotations

from typing import Any

from contact.broadcast import Payload
from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.model import MessageDirection
from contact.http.views import detail, iso, location_json, public_contact, queued_view
from contact.ports import Broadcast, ContactRepository

QUEUE_EVENTS: tuple[type[ev.Event], ...] = (
    ev.ContactQueued,
    ev.ContactOffered,
    ev.OfferExpired,
    ev.ContactReclaimed,
    ev.ContactOrphaned,
    ev.ContactReassigned,
    ev.ContactForceClosed,
    ev.ContactAccepted,
    ev.ContactWrappedUp,
    ev.ContactClosed,
    ev.ContactAbandoned,
)


class TopicProjection:
    def __init__(self, contacts: ContactRepository, broadcast: Broadcast) -> None:
        self._contacts = contacts
        self._broadcast = broadcast

    def register(self, bus: MessageBus) -> None:
        for event_type in QUEUE_EVENTS:
            bus.subscribe(event_type, self._contact_changed)
        bus.subscribe(ev.MessageReceived, self._message)
        bus.subscribe(ev.ReplySent, self._message)
        bus.subscribe(ev.ContactLocated, self._located)
        bus.subscribe(ev.OperatorPresenceChanged, self._presence)
        bus.subscribe(ev.SlaBreached, self._breached)
        bus.subscribe(ev.KeywordAlerted, self._alerted)

    async def _publish(self, topic: str, event: ev.Event, **body: Any) -> None:
        await self._publish_to((topic,), event, **body)

    async def _publish_to(self, topics: tuple[str, ...], event: ev.Event, **body: Any) -> None:
        """One message to several topics, encoded to JSON once for all of them."""
        payload = Payload.encode({"type": event.name, "at": event.occurred_at.isoformat(), **body})
        for topic in topics:
            await self._broadcast.publish(topic, payload)

    async def _contact_changed(self, event: ev.Event) -> None:
        assert event.key is not None
        if isinstance(event, ev.ContactQueued):  # the intake path: no read back
            await self._publish_public(event, queued_view(event))
            return
        contact = await self._contacts.get(event.key)
        await self._publish_public(event, public_contact(contact))
        if isinstance(event, ev.ContactReassigned) and event.to_operator_id is not None:
            # the new holder's page opens it at once (it is in /api/v1/me as well)
            messages = await self._contacts.messages(contact.id)
            await self._publish(
                f"operator:{event.to_operator_id}", event, contact=detail(contact, messages)
            )
        if isinstance(event, ev.ContactOffered):
            messages = await self._contacts.messages(contact.id)
            await self._publish(
                f"operator:{event.operator_id}",
                event,
                contact=detail(contact, messages),
                expires_at=event.expires_at.isoformat(),
            )

    async def _breached(self, event: ev.SlaBreached) -> None:
        """For supervisors only, and without reading the contact back: under overload every
        waiting contact breaches, and the room must not slow down because of it."""
        await self._publish(
            "supervisor",
            event,
            contact_id=event.contact_id,
            priority=int(event.priority),
            priority_name=event.priority.name.lower(),
            waited_s=round(event.waited_s, 1),
        )

    async def _alerted(self, event: ev.KeywordAlerted) -> None:
        """The queue row and the supervisor's room get the category (and the contact as it is
        now: moved up); the contact's own topic the citizen's words too, to highlight."""
        contact = await self._contacts.get(event.contact_id)
        keyword = {"category": event.category, "source": event.source, "raised": event.raised}
        public = public_contact(contact)
        await self._publish_to(("queue", "supervisor"), event, contact=public, keyword=keyword)
        await self._publish(
            f"contact:{event.contact_id}",
            event,
            contact=public,
            keyword={**keyword, "words": list(event.words)},
        )

    async def _publish_public(self, event: ev.Event, public: dict[str, Any]) -> None:
        await self._publish_to(
            ("queue", "supervisor", f"contact:{public['id']}"), event, contact=public
        )

    async def _message(self, event: ev.MessageReceived | ev.ReplySent) -> None:
        await self._publish(
            f"contact:{event.contact_id}",
            event,
            contact_id=event.contact_id,
            message=message_from(event),
        )

    async def _located(self, event: ev.ContactLocated) -> None:
        await self._publish(
            f"contact:{event.contact_id}",
            event,
            contact_id=event.contact_id,
            location=location_json(event.location),
        )

    async def _presence(self, event: ev.OperatorPresenceChanged) -> None:
        body = {
            "operator_id": event.operator_id,
            "presence": event.presence.value,
            "reason": event.reason,
        }
        await self._publish_to(("supervisor", f"operator:{event.operator_id}"), event, **body)


def message_from(event: ev.MessageReceived | ev.ReplySent) -> dict[str, Any]:
    """The same shape as views.message_json, straight from the event (no database read)."""
    outbound = isinstance(event, ev.ReplySent)
    return {
        "id": event.message_id,
        "direction": (MessageDirection.OUTBOUND if outbound else MessageDirection.INBOUND).value,
        "text": event.text,
        "author": event.operator_id if isinstance(event, ev.ReplySent) else None,
        "created_at": iso(event.occurred_at),
    }
