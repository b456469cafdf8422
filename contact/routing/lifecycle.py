"""A contact's life from intake to close: the command handlers channels and operators use.

Intake is durable before anything is acknowledged: RegisterContact returns only after the
contact, its first message and attachments are committed (state QUEUED), and only then are
events published. Queueing is a projection of that state (see routing/service.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.commands import Abandon, Close, RegisterContact, Reply, UpdateLocation
from contact.domain.model import (
    Contact,
    ContactState,
    Message,
    MessageDirection,
    new_id,
)
from contact.domain.triage import priority_for
from contact.errors import Conflict, Unprocessable
from contact.ports import ContactRepository
from contact.routing.service import RoutingService

log = logging.getLogger(__name__)

SUMMARY_CHARS = 160


@dataclass(frozen=True, slots=True)
class Registered:
    contact_id: str
    created: bool  # False: an idempotent retry matched a stored contact


class ContactLifecycle:
    def __init__(
        self,
        *,
        contacts: ContactRepository,
        routing: RoutingService,
        bus: MessageBus,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._contacts = contacts
        self._routing = routing
        self._bus = bus
        self._clock = clock

    def register(self, bus: MessageBus) -> None:
        bus.register(RegisterContact, self.register_contact)
        bus.register(Reply, self.reply)
        bus.register(Close, self.close)
        bus.register(Abandon, self.abandon)
        bus.register(UpdateLocation, self.update_location)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def register_contact(self, command: RegisterContact) -> Registered:
        now = self._now()
        contact = Contact(
            id=new_id(),
            channel=command.channel,
            priority=priority_for(
                command.channel, command.text, information_only=command.information_only
            ),
            created_at=now,
            language=command.language,
            citizen=command.citizen,
            location=command.location,
            summary=command.text[:SUMMARY_CHARS],
        )
        contact.transition(ContactState.QUEUED, now)
        message = (
            Message(
                id=new_id(),
                contact_id=contact.id,
                direction=MessageDirection.INBOUND,
                text=command.text,
                created_at=now,
                external_id=command.external_id,
            )
            if command.text
            else None
        )
        attachments = tuple(
            (replace(att, contact_id=contact.id), data) for att, data in command.attachments
        )
        stored_id = await self._contacts.add(
            contact, message, attachments, external_id=command.external_id
        )
        if stored_id != contact.id:  # lost a race with a retry of the same intake
            return Registered(stored_id, created=False)
        log.info(
            "contact registered", extra={"contact_id": contact.id, "channel": contact.channel.value}
        )
        # the queue first: a plugin slow on contact.received never delays the screen
        await self._bus.publish(
            ev.ContactQueued(
                contact_id=contact.id,
                channel=contact.channel,
                priority=contact.priority,
                language=contact.language,
                created_at=contact.created_at,
                queued_at=now,
                has_location=contact.location is not None,
                occurred_at=now,
            )
        )
        await self._bus.publish(
            ev.ContactReceived(
                contact_id=contact.id,
                channel=contact.channel,
                priority=contact.priority,
                language=contact.language,
                citizen=contact.citizen,
                location=contact.location,
                summary=contact.summary,
                occurred_at=now,
            )
        )
        if message is not None:
            await self._bus.publish(
                ev.MessageReceived(
                    contact_id=contact.id, message_id=message.id, text=message.text, occurred_at=now
                )
            )
        return Registered(contact.id, created=True)

    async def add_citizen_message(
        self, contact_id: str, text: str, external_id: str | None = None
    ) -> Message:
        """A follow-up message from the citizen on an open contact."""
        contact = await self._contacts.get(contact_id)
        if contact.state in (ContactState.CLOSED, ContactState.ABANDONED):
            raise Conflict("this contact is closed", error_id="contact_closed")
        message = Message(
            id=new_id(),
            contact_id=contact_id,
            direction=MessageDirection.INBOUND,
            text=text,
            created_at=self._now(),
            external_id=external_id,
        )
        await self._contacts.add_message(message)
        await self._bus.publish(
            ev.MessageReceived(
                contact_id=contact_id,
                message_id=message.id,
                text=text,
                occurred_at=message.created_at,
            )
        )
        return message

    async def reply(self, command: Reply) -> Message:
        text = command.text.strip()
        if not text:
            raise Unprocessable("a reply needs text", error_id="empty_reply")
        contact = await self._contacts.get(command.contact_id)
        if contact.state not in (ContactState.CONNECTED, ContactState.WRAP_UP):
            raise Conflict("accept the contact before replying", error_id="not_connected")
        if contact.operator_id != command.operator_id:
            raise Conflict("this contact is handled by another operator", error_id="not_yours")
        message = Message(
            id=new_id(),
            contact_id=contact.id,
            direction=MessageDirection.OUTBOUND,
            text=text,
            created_at=self._now(),
            author=command.operator_id,
        )
        await self._contacts.add_message(message)
        await self._bus.publish(
            ev.ReplySent(
                contact_id=contact.id,
                message_id=message.id,
                operator_id=command.operator_id,
                text=text,
            )
        )
        return message

    async def close(self, command: Close) -> Contact:
        contact = await self._contacts.get(command.contact_id)
        if contact.operator_id != command.operator_id:
            raise Conflict("this contact is handled by another operator", error_id="not_yours")
        if contact.state is ContactState.CONNECTED and command.wrap_up:
            contact.transition(ContactState.WRAP_UP, self._now())
            contact.disposition = command.disposition or contact.disposition
            await self._contacts.save(contact)
            await self._bus.publish(
                ev.ContactWrappedUp(contact_id=contact.id, operator_id=command.operator_id)
            )
            return contact
        if not contact.can_become(ContactState.CLOSED):
            raise Conflict(f"a {contact.state} contact cannot be closed", error_id="not_closable")
        contact.transition(ContactState.CLOSED, self._now())
        contact.disposition = command.disposition or contact.disposition
        await self._contacts.save(contact)
        await self._bus.publish(
            ev.ContactClosed(
                contact_id=contact.id,
                operator_id=command.operator_id,
                disposition=contact.disposition,
            )
        )
        await self._routing.release_operator(command.operator_id)
        return contact

    async def abandon(self, command: Abandon) -> Contact:
        contact = await self._contacts.get(command.contact_id)
        if contact.state is ContactState.ABANDONED:
            return contact
        previous = contact.state
        if not contact.can_become(ContactState.ABANDONED):
            raise Conflict(f"a {contact.state} contact cannot be abandoned")
        operator_id = contact.operator_id
        contact.transition(ContactState.ABANDONED, self._now())
        await self._contacts.save(contact)
        await self._bus.publish(ev.ContactAbandoned(contact_id=contact.id, previous=previous))
        if previous is ContactState.OFFERED and operator_id is not None:
            # the store gave the operator back on remove; record it durably too
            await self._routing.operator_returned(operator_id)
        return contact

    async def update_location(self, command: UpdateLocation) -> Contact:
        contact = await self._contacts.get(command.contact_id)
        contact.relocated(command.location)
        await self._contacts.save(contact)
        await self._bus.publish(ev.ContactLocated(contact_id=contact.id, location=command.location))
        return contact
