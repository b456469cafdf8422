"""No contact stays with an operator who is gone.

Every `orphan_sweep_s` the sweeper looks at the contacts in progress (connected, wrap-up) and
asks routing/attendance.py whether each holder is there (not away, a live session). A holder
found gone marks the contact (`orphaned_at`); one who comes back (a reload, a new login)
clears it. Past `orphan_after_s` (CONTACT_ROUTING_ORPHAN_AFTER_S):
- a connected written contact (chat, app report, alarm, camera) goes back to its place in
  the queue with its whole thread (ContactLifecycle.reclaim: `contact.reclaimed`, then
  `contact.queued`);
- a contact in wrap-up (its conversation is over: nothing to answer), a call (its audio is
  bridged to the gone operator's leg: telephony decides its end, a supervisor listens in or
  barges) or one for which a unit was dispatched (requeued it would come before new
  emergencies for something already handled) goes to the supervisors instead
  (`contact.orphaned`, `escalated_at`): the control room lists it first and reassigns, takes
  over or force-closes it.

Several nodes may sweep at once: every write is conditional on the state and the holder read
(ContactRepository.save_if), so a contact is requeued or escalated once, and never over a
change its operator or another node made meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from contact.bus import MessageBus
from contact.config import RoutingSettings
from contact.domain import events as ev
from contact.domain.model import Capability, Contact, ContactState, Presence
from contact.ports import ContactRepository
from contact.routing.attendance import Absence, Attendance
from contact.routing.lifecycle import ContactLifecycle

log = logging.getLogger(__name__)

IN_PROGRESS = frozenset({ContactState.CONNECTED, ContactState.WRAP_UP})
MARKS = frozenset({"orphaned_at", "escalated_at"})
NO_HOLDER = Absence("holder_away", Presence.AWAY)  # a contact in progress with nobody on it


class OrphanSweeper:
    def __init__(
        self,
        *,
        contacts: ContactRepository,
        attendance: Attendance,
        lifecycle: ContactLifecycle,
        bus: MessageBus,
        settings: RoutingSettings,
        dispatched: Callable[[Contact], Awaitable[bool]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._contacts = contacts
        self._attendance = attendance
        self._lifecycle = lifecycle
        self._bus = bus
        self._settings = settings
        self._dispatched = dispatched
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="orphan-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # the database is down: the next pass tries again
                log.exception("orphan sweep failed")
            await asyncio.sleep(self._settings.orphan_sweep_s)

    async def sweep(self) -> int:
        """One pass; how many contacts were requeued or escalated."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        absences: dict[str | None, Absence | None] = {None: NO_HOLDER}
        acted = 0
        for contact in await self._contacts.in_states(IN_PROGRESS):
            holder = contact.operator_id
            if holder not in absences:
                absences[holder] = await self._attendance.absence(holder)  # type: ignore[arg-type]
            absence = absences[holder]
            if absence is None:
                if contact.orphaned_at is not None or contact.escalated_at is not None:
                    contact.orphaned_at = contact.escalated_at = None  # she came back
                    await self._mark(contact)
                continue
            if contact.orphaned_at is None:
                contact.orphaned_at = now
                if await self._mark(contact):
                    log.info(
                        "holder of a contact is gone (%s)",
                        absence.reason,
                        extra={"contact_id": contact.id, "operator_id": holder},
                    )
                continue
            if (now - contact.orphaned_at).total_seconds() < self._settings.orphan_after_s:
                continue
            if (
                contact.state is ContactState.CONNECTED
                and contact.capability is Capability.CHAT
                and not await self._unit_sent(contact)
            ):
                if await self._lifecycle.reclaim(contact.id, holder, absence):
                    acted += 1
                continue
            if contact.escalated_at is None:
                contact.escalated_at = now
                if await self._mark(contact):
                    acted += 1
                    log.warning(
                        "contact of a gone operator handed to the supervisors (%s)",
                        absence.reason,
                        extra={"contact_id": contact.id, "operator_id": holder},
                    )
                    await self._bus.publish(
                        ev.ContactOrphaned(
                            contact_id=contact.id,
                            operator_id=holder,
                            reason=absence.reason,
                            state=contact.state,
                        )
                    )
        return acted

    async def _mark(self, contact: Contact) -> bool:
        return await self._contacts.save_if(
            contact, state=contact.state, operator_id=contact.operator_id, only=MARKS
        )

    async def _unit_sent(self, contact: Contact) -> bool:
        return self._dispatched is not None and await self._dispatched(contact)
