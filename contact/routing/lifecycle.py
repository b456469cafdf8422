"""A contact's life from intake to close: the command handlers channels and operators use.

Intake is durable before anything is acknowledged: RegisterContact returns only after the
contact, its first message and attachments are committed (state QUEUED), and only then are
events published. Queueing is a projection of that state (see routing/service.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.commands import (
    Abandon,
    Close,
    RegisterContact,
    Registered,
    Reply,
    SetPresence,
    UpdateLocation,
)
from contact.domain.model import (
    OPEN_STATES,
    Attachment,
    Contact,
    ContactState,
    Message,
    MessageDirection,
    Presence,
    Priority,
    new_id,
)
from contact.domain.triage import Verdict, priority_for, raised_priority
from contact.errors import Conflict, ContactError, Unprocessable
from contact.ports import ContactRepository
from contact.routing.attendance import Absence, Attendance
from contact.routing.service import RoutingService
from contact.triage import Triage, default_triage

log = logging.getLogger(__name__)
_LOCATION = frozenset({"location"})

SUMMARY_CHARS = 160


@dataclass(frozen=True, slots=True)
class Intake:
    """A new contact composed from a RegisterContact, not yet stored (ContactLifecycle.compose)."""

    contact: Contact
    message: Message | None
    attachments: tuple[tuple[Attachment, bytes], ...]
    verdict: Verdict
    at: datetime


@dataclass(frozen=True, slots=True)
class Joined:
    contact_id: str
    # its holder was not there: the contact went back to its place in the queue
    requeued: bool = False


class ContactLifecycle:
    def __init__(
        self,
        *,
        contacts: ContactRepository,
        routing: RoutingService,
        bus: MessageBus,
        clock: Callable[[], float] = time.time,
        attendance: Attendance | None = None,
        triage: Triage | None = None,
    ) -> None:
        self._contacts = contacts
        self._routing = routing
        self._bus = bus
        self._clock = clock
        self._attendance = attendance
        self._triage = triage

    @property
    def triage(self) -> Triage:
        """The server's Triage (bootstrap), or the packaged lexicon's for a bare lifecycle."""
        if self._triage is None:
            self._triage = default_triage()
        return self._triage

    def register(self, bus: MessageBus) -> None:
        bus.register(RegisterContact, self.register_contact)
        bus.register(Reply, self.reply)
        bus.register(Close, self.close)
        bus.register(Abandon, self.abandon)
        bus.register(UpdateLocation, self.update_location)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def now(self) -> datetime:
        """The lifecycle's clock, as the time it stamps on what it stores."""
        return self._now()

    async def register_contact(self, command: RegisterContact) -> Registered:
        intake = self.compose(command)
        stored_id = await self._contacts.add(
            intake.contact,
            intake.message,
            intake.attachments,
            external_id=command.external_id,
            fingerprint=command.fingerprint,
            guard=command.guard,
        )
        if stored_id != intake.contact.id:  # lost a race with a retry of the same intake
            return Registered(stored_id, created=False)
        await self.announce(intake)
        return Registered(intake.contact.id, created=True)

    def compose(self, command: RegisterContact) -> Intake:
        """The new contact (queued, triaged), its first message and attachments, not stored:
        the store is the caller's (register_contact, or the device intake, which stores the
        contact with its source in one transaction), then `announce`."""
        now = self._now()
        verdict = self.triage.analyse(
            command.text if command.triage_text is None else command.triage_text
        )
        contact = Contact(
            id=new_id(),
            channel=command.channel,
            priority=priority_for(
                command.channel, verdict, information_only=command.information_only
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
        return Intake(contact, message, attachments, verdict, now)

    async def announce(self, intake: Intake) -> None:
        """The events of a contact just stored by `compose`'s caller."""
        contact, message, verdict, now = intake.contact, intake.message, intake.verdict, intake.at
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
        if verdict.alarming:
            await self._alert(contact.id, verdict, "intake", contact.priority, raised=False)
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

    async def join(
        self, contact_id: str, text: str | None, external_id: str | None = None
    ) -> Joined | None:
        """Something new for a device's open contact (another alarm of a school, another press
        of a kiosk, an app's SOS again): added to it, as long as someone is there to see it.

        A contact held by an operator who is not there (logged out, session expired, away) is
        never joined silently: connected, it goes back to its place in the queue with its
        priority and its whole history (the centre wants the thread the operator left, not a
        second contact beside an orphan), and is offered to someone present; in wrap-up (its
        conversation over), None: the caller opens a new contact, which is offered. None too when
        the contact is over. `text` None: nothing to add (an app's SOS again moves the contact
        to where the phone is now, see UpdateLocation)."""
        contact = await self._contacts.get(contact_id)
        if contact.state not in OPEN_STATES:
            return None
        holder = contact.operator_id
        absence = await self.absent_holder(contact)
        if absence is not None and contact.state is ContactState.WRAP_UP:
            return None
        if text is not None:
            try:
                await self.add_citizen_message(contact_id, text, external_id)
            except Conflict as error:
                if error.error_id != "contact_closed":
                    raise
                return None
        if absence is None or holder is None:
            return Joined(contact_id)
        await self.reclaim(contact_id, holder, absence)
        return Joined(contact_id, requeued=True)

    async def absent_holder(self, contact: Contact) -> Absence | None:
        """Why the operator holding this connected or wrap-up contact is not there, or None
        (she is, nobody holds it, or nobody judges attendance): what `join` decides on."""
        holder = contact.operator_id
        if (
            self._attendance is None
            or holder is None
            or contact.state not in (ContactState.CONNECTED, ContactState.WRAP_UP)
        ):
            return None
        return await self._attendance.absence(holder)

    async def reclaim(self, contact_id: str, holder: str | None, absence: Absence) -> bool:
        """A connected contact whose holder is not there back to its place in the queue; False
        when it was closed or handed on meanwhile (here or on another node)."""
        contact = await self._contacts.get(contact_id)
        if contact.state is not ContactState.CONNECTED or contact.operator_id != holder:
            return False
        now = self._now()
        contact.transition(ContactState.QUEUED, now)  # keeps its first queued_at: its place
        if not await self._contacts.save_if(
            contact, state=ContactState.CONNECTED, operator_id=holder
        ):
            return False
        log.warning(
            "contact taken back from an absent operator (%s)",
            absence.reason,
            extra={"contact_id": contact.id, "operator_id": holder},
        )
        await self._bus.publish(
            ev.ContactReclaimed(
                contact_id=contact.id, operator_id=holder or "", reason=absence.reason
            )
        )
        await self._bus.publish(ev.ContactQueued.of(contact, now))
        if absence.presence is not Presence.AWAY and holder is not None:
            # a session that expired under a busy operator: nobody is at that workplace
            with contextlib.suppress(ContactError):
                await self._routing.set_presence(
                    SetPresence(operator_id=holder, presence=Presence.AWAY)
                )
        return True

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
        await self.triage_words(contact_id, text, "message")
        return message

    async def triage_words(self, contact_id: str, text: str, source: str) -> Verdict:
        """Triage of what a citizen wrote or said on an open contact (a later chat message, a
        transcript segment of a call: `source`): alarming words raise keyword.alert, and a
        contact still waiting moves up to SOS, keeping its place among the SOS by its time."""
        verdict = self.triage.analyse(text)
        if not verdict.alarming:
            return verdict
        contact = await self._contacts.get(contact_id)
        priority = raised_priority(contact.priority, verdict)
        raised = False
        if priority is not None and contact.state in OPEN_STATES:
            raised = await self._routing.reprioritise(contact_id, priority)
        await self._alert(
            contact_id,
            verdict,
            source,
            priority if raised and priority else contact.priority,
            raised=raised,
        )
        return verdict

    async def _alert(
        self, contact_id: str, verdict: Verdict, source: str, priority: Priority, *, raised: bool
    ) -> None:
        assert verdict.category is not None
        log.warning(
            "keyword alert: %s (%s)",
            verdict.category.value,
            source,
            extra={"contact_id": contact_id},
        )
        await self._bus.publish(
            ev.KeywordAlerted(
                contact_id=contact_id,
                category=verdict.category.value,
                words=verdict.words,
                source=source,
                priority=priority,
                raised=raised,
            )
        )

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
                channel=contact.channel,
                citizen=contact.citizen,
            )
        )
        return message

    async def close(self, command: Close) -> Contact:
        # conditional on what was read: a change another node made meanwhile (a supervisor
        # taking the contact, the caller's end) is read again and judged as it now stands
        while True:
            contact = await self._contacts.get(command.contact_id)
            read = contact.state
            if contact.operator_id != command.operator_id:
                raise Conflict("this contact is handled by another operator", error_id="not_yours")
            if read is ContactState.WRAP_UP and command.wrap_up:
                return contact  # already there (a call's end racing the operator's own)
            wrap_up = read is ContactState.CONNECTED and command.wrap_up
            if not wrap_up and not contact.can_become(ContactState.CLOSED):
                raise Conflict(f"a {read} contact cannot be closed", error_id="not_closable")
            wanted = ContactState.WRAP_UP if wrap_up else ContactState.CLOSED
            contact.transition(wanted, self._now())
            contact.disposition = command.disposition or contact.disposition
            if await self._contacts.save_if(contact, state=read, operator_id=command.operator_id):
                break
        if wrap_up:
            await self._bus.publish(
                ev.ContactWrappedUp(contact_id=contact.id, operator_id=command.operator_id)
            )
            return contact
        await self._bus.publish(
            ev.ContactClosed(
                contact_id=contact.id,
                operator_id=command.operator_id,
                disposition=contact.disposition,
                channel=contact.channel,
                citizen=contact.citizen,
                language=contact.language,
            )
        )
        await self._routing.release_operator(command.operator_id)
        return contact

    async def abandon(self, command: Abandon) -> Contact:
        # conditional on what was read: another node's offer or accept in the same moment
        # is read again and abandoned as it now stands, never written over
        while True:
            contact = await self._contacts.get(command.contact_id)
            if contact.state is ContactState.ABANDONED:
                return contact
            previous = contact.state
            if not contact.can_become(ContactState.ABANDONED):
                raise Conflict(f"a {contact.state} contact cannot be abandoned")
            operator_id = contact.operator_id
            contact.transition(ContactState.ABANDONED, self._now())
            if await self._contacts.save_if(contact, state=previous, operator_id=operator_id):
                break
        await self._bus.publish(
            ev.ContactAbandoned(
                contact_id=contact.id,
                previous=previous,
                channel=contact.channel,
                citizen=contact.citizen,
                language=contact.language,
            )
        )
        if previous is ContactState.OFFERED and operator_id is not None:
            # the store gave the operator back on remove; record it durably too
            await self._routing.operator_returned(operator_id)
        elif previous is ContactState.CONNECTED and operator_id is not None:
            # accepted, never answered (the caller left while her phone rang): nothing to wrap
            # up, she is ready for the next one at once, as an ACD member whose ring was
            # cancelled
            with contextlib.suppress(ContactError):
                await self._routing.set_presence(
                    SetPresence(operator_id=operator_id, presence=Presence.READY)
                )
        return contact

    async def update_location(self, command: UpdateLocation) -> Contact:
        # the location alone, while the contact is as read: never its state or holder back
        # over an accept or an abandon made meanwhile on another node
        while True:
            contact = await self._contacts.get(command.contact_id)
            contact.relocated(command.location)
            if await self._contacts.save_if(
                contact, state=contact.state, operator_id=contact.operator_id, only=_LOCATION
            ):
                break
        await self._bus.publish(ev.ContactLocated(contact_id=contact.id, location=command.location))
        return contact
