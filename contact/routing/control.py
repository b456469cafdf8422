"""The control room's hands on contacts in progress: reassign (to an operator present, or back
to the queue at its place), take over (the supervisor becomes the holder), force-close (with a
reason; audited through contact.force_closed).

Each change is conditional on the state and holder the supervisor acted on (save_if): an
operator closing it at the same moment, or another supervisor, wins and the second act is a
409. A call in progress (voice, video) keeps its audio bridged to its operator: it moves only
once it is over (wrap-up), else the supervisor listens in or barges (telephony).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.model import Capability, Contact, ContactState, Presence
from contact.errors import Conflict, ContactError, Unprocessable
from contact.ports import ContactRepository, OperatorRepository, QueueStore
from contact.routing.attendance import Attendance
from contact.routing.service import RoutingService

log = logging.getLogger(__name__)

IN_PROGRESS = frozenset({ContactState.CONNECTED, ContactState.WRAP_UP})
MAX_REASON_CHARS = 500


class ControlRoom:
    def __init__(
        self,
        *,
        contacts: ContactRepository,
        operators: OperatorRepository,
        store: QueueStore,
        routing: RoutingService,
        attendance: Attendance,
        bus: MessageBus,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._contacts = contacts
        self._operators = operators
        self._store = store
        self._routing = routing
        self._attendance = attendance
        self._bus = bus
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _in_progress(self, contact_id: str) -> Contact:
        contact = await self._contacts.get(contact_id)
        if contact.state not in IN_PROGRESS:
            raise Conflict(
                f"a {contact.state} contact is not in progress", error_id="not_in_progress"
            )
        return contact

    async def _commit(self, contact: Contact, state: ContactState, holder: str | None) -> None:
        if not await self._contacts.save_if(contact, state=state, operator_id=holder):
            raise Conflict("the contact changed meanwhile; reload", error_id="contact_changed")

    async def reassign(self, contact_id: str, supervisor_id: str, to: str | None) -> Contact:
        """To operator `to` (present, able to take this channel, holding no other contact),
        or back to the queue (`to` None; connected contacts only)."""
        contact = await self._in_progress(contact_id)
        holder, state = contact.operator_id, contact.state
        self._movable(contact)
        if to is None:
            if state is not ContactState.CONNECTED:
                raise Conflict(
                    "a contact in wrap-up cannot go back to the queue: reassign or close it",
                    error_id="not_requeueable",
                )
            contact.transition(ContactState.QUEUED, self._now())
            await self._commit(contact, state, holder)
            await self._announce(contact, supervisor_id, holder, None, taken_over=False)
            await self._bus.publish(ev.ContactQueued.of(contact))
            await self._release(holder)
            return contact
        if to == holder:
            raise Conflict("the contact is already this operator's", error_id="same_operator")
        operator = await self._operators.get(to)  # NotFound: an unknown operator
        if contact.capability not in operator.skills.capabilities:
            raise Conflict(
                f"this operator does not take {contact.capability} contacts",
                error_id="operator_unable",
            )
        await self._hand_to(contact, supervisor_id, to, taken_over=False)
        return contact

    async def take_over(self, contact_id: str, supervisor_id: str) -> Contact:
        contact = await self._in_progress(contact_id)
        if contact.operator_id == supervisor_id:
            raise Conflict("the contact is already yours", error_id="same_operator")
        self._movable(contact)
        await self._hand_to(contact, supervisor_id, supervisor_id, taken_over=True)
        return contact

    async def force_close(self, contact_id: str, supervisor_id: str, reason: str) -> Contact:
        reason = reason.strip()
        if not reason:
            raise Unprocessable("a reason is required", error_id="missing_reason")
        if len(reason) > MAX_REASON_CHARS:
            raise Unprocessable(
                f"a reason is at most {MAX_REASON_CHARS} characters", error_id="reason_too_long"
            )
        contact = await self._in_progress(contact_id)
        holder, state = contact.operator_id, contact.state
        contact.transition(ContactState.CLOSED, self._now())
        contact.disposition = contact.disposition or "force_closed"
        await self._commit(contact, state, holder)
        log.warning(
            "contact force-closed by a supervisor",
            extra={"contact_id": contact.id, "operator_id": supervisor_id},
        )
        await self._bus.publish(
            ev.ContactForceClosed(
                contact_id=contact.id,
                supervisor_id=supervisor_id,
                operator_id=holder,
                reason=reason,
            )
        )
        await self._bus.publish(
            ev.ContactClosed(
                contact_id=contact.id,
                operator_id=supervisor_id,
                disposition=contact.disposition,
                channel=contact.channel,
                citizen=contact.citizen,
                language=contact.language,
            )
        )
        await self._release(holder)
        return contact

    def _movable(self, contact: Contact) -> None:
        if contact.state is ContactState.CONNECTED and contact.capability is not Capability.CHAT:
            raise Conflict(
                "a call in progress stays with its operator: listen in or barge",
                error_id="live_call",
            )

    async def _hand_to(
        self, contact: Contact, supervisor_id: str, to: str, *, taken_over: bool
    ) -> None:
        holder, state = contact.operator_id, contact.state
        if not taken_over:
            if await self._attendance.absence(to) is not None:
                raise Conflict("this operator is not at her workplace", error_id="operator_absent")
            if await self._contacts.held_by(to):
                raise Conflict("this operator is working on a contact", error_id="operator_busy")
        operator = await self._operators.get(to)
        contact.operator_id = to
        contact.orphaned_at = contact.escalated_at = None
        await self._commit(contact, state, holder)
        # out of the pool: offered nothing while she works on it (a supervisor holding an
        # offer keeps it: the store refuses, and the offer runs its course)
        with contextlib.suppress(ContactError):
            await self._store.set_presence(to, operator.skills, Presence.BUSY, self._clock())
        await self._operators.set_presence(to, Presence.BUSY)
        await self._announce(contact, supervisor_id, holder, to, taken_over=taken_over)
        await self._bus.publish(ev.OperatorPresenceChanged(operator_id=to, presence=Presence.BUSY))
        await self._release(holder)

    async def _announce(
        self,
        contact: Contact,
        supervisor_id: str,
        holder: str | None,
        to: str | None,
        *,
        taken_over: bool,
    ) -> None:
        log.info(
            "contact reassigned by a supervisor",
            extra={"contact_id": contact.id, "operator_id": supervisor_id},
        )
        await self._bus.publish(
            ev.ContactReassigned(
                contact_id=contact.id,
                supervisor_id=supervisor_id,
                from_operator_id=holder,
                to_operator_id=to,
                taken_over=taken_over,
            )
        )

    async def _release(self, holder: str | None) -> None:
        """The former holder, if at her workplace and working on nothing else, is free again."""
        if holder is None or await self._attendance.absence(holder) is not None:
            return
        if await self._contacts.held_by(holder):
            return
        with contextlib.suppress(ContactError):
            await self._routing.release_operator(holder)
