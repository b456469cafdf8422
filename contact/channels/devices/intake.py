"""The one intake of the device channels (app SOS, kiosks, school alarms, camera alerts):
join the open contact of the source, or open a new one with its source, atomically.

The handler of OpenOrJoinContact, run by the bus like every command (one source at a time on a
node: the command's key). Across nodes the database decides (DeviceIntakeStore): a join stores
its message only while the contact is still the source's open one and not over; an opening
stores the contact, its message, attachments and source in one transaction, only while the
source's open contact is still the one this intake saw. An intake that loses a race decides
again with what the winner wrote, so two nodes receiving the same device's alarm at the same
instant make one contact, and both alarms are on it.

What a join does is ContactLifecycle.join's rule: something new for a device's open contact is
added to it as long as someone is there to see it; held by an operator who is not there, a
connected contact goes back to its place in the queue, and one in wrap-up is left to her (a new
contact is opened)."""

from __future__ import annotations

import logging

from contact.bus import MessageBus
from contact.channels.devices.ports import DeviceIntakeStore, Joining
from contact.domain import events as ev
from contact.domain.commands import (
    DeviceIntakeResult,
    OpenOrJoinContact,
    Outcome,
    UpdateLocation,
)
from contact.domain.model import (
    OPEN_STATES,
    Contact,
    ContactState,
    Message,
    MessageDirection,
    new_id,
)
from contact.errors import NotFound, Unavailable
from contact.ports import ContactRepository
from contact.routing.lifecycle import ContactLifecycle

log = logging.getLogger(__name__)

ATTEMPTS = 8  # each lost race means another intake of the source won: the next try joins it


class DeviceIntake:
    def __init__(
        self,
        *,
        store: DeviceIntakeStore,
        contacts: ContactRepository,
        lifecycle: ContactLifecycle,
        bus: MessageBus,
    ) -> None:
        self._store = store
        self._contacts = contacts
        self._lifecycle = lifecycle
        self._bus = bus

    def register(self, bus: MessageBus) -> None:
        bus.register(OpenOrJoinContact, self.open_or_join)

    async def open_or_join(self, command: OpenOrJoinContact) -> DeviceIntakeResult:
        admitted = False
        for _ in range(ATTEMPTS):
            current = await self._store.current(command.source_key)
            contact = await self._contact(current)
            if contact is not None:
                joined = await self._join(command, contact)
                if joined is not None:
                    return joined
                if command.sticky:  # the window's contact stays the one, over or not
                    return DeviceIntakeResult(contact.id, Outcome.COLLAPSED)
            if not admitted and command.admit is not None:
                command.admit()  # a refusal (429) leaves nothing written
            admitted = True
            opened = await self._open(command, current)
            if opened is not None:
                return opened
        raise Unavailable("this device's intake kept racing; retry", error_id="intake_contended")

    async def _contact(self, contact_id: str | None) -> Contact | None:
        if contact_id is None:
            return None
        try:
            return await self._contacts.get(contact_id)
        except NotFound:
            return None

    async def _join(
        self, command: OpenOrJoinContact, contact: Contact
    ) -> DeviceIntakeResult | None:
        """The intake added to `contact`; None when it cannot take it (over, its operator gone
        in wrap-up, or no longer the source's): decide again."""
        if contact.state not in OPEN_STATES:
            return None
        absence = await self._lifecycle.absent_holder(contact)
        if absence is not None and contact.state is ContactState.WRAP_UP:
            return None
        message = (
            None
            if command.join_text is None
            else Message(
                id=new_id(),
                contact_id=contact.id,
                direction=MessageDirection.INBOUND,
                text=command.join_text,
                created_at=self._lifecycle.now(),
                external_id=command.join_external_id,
            )
        )
        joining = await self._store.join(command.source_key, contact.id, message)
        if joining is Joining.MOVED:
            return None
        if message is not None and joining is Joining.JOINED:
            await self._bus.publish(
                ev.MessageReceived(
                    contact_id=contact.id,
                    message_id=message.id,
                    text=message.text,
                    occurred_at=message.created_at,
                )
            )
            await self._lifecycle.triage_words(contact.id, message.text, "message")
        if command.relocate and command.open.location is not None:
            await self._bus.execute(
                UpdateLocation(contact_id=contact.id, location=command.open.location)
            )
        if absence is None:
            return DeviceIntakeResult(contact.id, Outcome.JOINED)
        await self._lifecycle.reclaim(contact.id, contact.operator_id, absence)
        return DeviceIntakeResult(contact.id, Outcome.JOINED, requeued=True)

    async def _open(
        self, command: OpenOrJoinContact, expected: str | None
    ) -> DeviceIntakeResult | None:
        intake = self._lifecycle.compose(command.open)
        stored = await self._store.open(
            command.source_key,
            expected,
            intake.contact,
            intake.message,
            intake.attachments,
            command.source,
            external_id=command.open.external_id,
            fingerprint=command.open.fingerprint,
        )
        if stored is None:
            return None  # another intake of the source opened first
        if stored != intake.contact.id:
            return DeviceIntakeResult(stored, Outcome.REPLAYED)
        await self._lifecycle.announce(intake)
        location = intake.contact.location
        if command.suggest is not None and location is not None:
            await self._bus.publish(
                ev.SuggestionRequested(
                    contact_id=intake.contact.id,
                    location=location,
                    camera_ids=command.source.camera_ids,
                    reason=command.suggest,
                )
            )
        return DeviceIntakeResult(intake.contact.id, Outcome.OPENED)
