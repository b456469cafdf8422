"""Transfers of a connected call to a service (CONTACT_ASTERISK_TARGETS: 101, 103, 112 …).

Blind: the caller is sent to [contact-dial] and hears the service's phone ring; the operator is
done at once. The call: CONNECTED/HELD → TRANSFERRING → TRANSFERRED (answered) | HOLDING (not
answered: the dialplan took the caller back to holding; the contact to the head of the queue).

Attended: the operator's leg dials the service ([contact-consult]) while the caller holds. The
call: CONNECTED/HELD → CONSULTING → TRANSFERRED (completed: the caller bridged to the service)
| RINGING → CONNECTED (cancelled, not answered, or the service hung up: back to the operator).

The transfer itself (states.Transfer, kept in the call book while it goes on) has explicit
states: DIALING → CONSULTING (answered, attended) → COMPLETING → COMPLETED; CANCELLING →
CANCELLED; FAILED."""

from __future__ import annotations

import contextlib
import logging

from contact.domain import events as ev
from contact.domain.commands import Close, ReturnToQueue
from contact.domain.model import ContactState
from contact.errors import Conflict, ContactError, Unprocessable
from contact.ports import Call, CallState
from contact.telephony import parse
from contact.telephony.voice.failsafe import FailSafe
from contact.telephony.voice.kit import Kit
from contact.telephony.voice.phone import OperatorPhone
from contact.telephony.voice.states import (
    IllegalStep,
    Transfer,
    TransferEvent,
    TransferState,
    move,
)

log = logging.getLogger(__name__)


class Transfers:
    def __init__(self, kit: Kit, phone: OperatorPhone, failsafe: FailSafe) -> None:
        self._k = kit
        self._phone = phone
        self._failsafe = failsafe

    def of(self, call: Call) -> Transfer | None:
        """The call's transfer going on (rebuilt from its row on a restarted node)."""
        book = self._k.book
        transfer = book.transfer(call.uniqueid)
        if transfer is None:
            transfer = Transfer.of(call)
            if transfer is not None:
                book.transfer_started(call.uniqueid, transfer)
        return transfer

    def _step(self, call: Call, event: TransferEvent) -> TransferState | None:
        transfer = self.of(call)
        if transfer is None:
            return None
        try:
            after = transfer.step(event)
        except IllegalStep as error:
            log.warning("%s", error, extra={"contact_id": call.contact_id})
            return transfer.state
        if transfer.over:
            self._k.book.transfer_over(call.uniqueid)
        return after

    async def _incident_of(self, call: Call) -> str:
        contact = await self._k.contacts.get(call.contact_id)
        return contact.incident_id or contact.id

    # --- the operator's actions (under the call's lock) -----------------------------------------

    async def transfer(self, call: Call, target: str, mode: str) -> None:
        k = self._k
        if target not in k.asterisk.targets:
            raise Unprocessable(
                f"transfers go to {', '.join(k.asterisk.targets)}", error_id="bad_target"
            )
        if call.direction != "in" or call.state not in (CallState.CONNECTED, CallState.HELD):
            raise Conflict(
                "only a connected call can be transferred", error_id="call_not_connected"
            )
        if mode not in ("blind", "attended"):
            raise Unprocessable("mode is blind or attended", error_id="bad_mode")
        incident = await self._incident_of(call)
        call.transfer_target = target
        k.book.transfer_started(call.uniqueid, Transfer(mode, target))
        if mode == "blind":
            move(call, CallState.TRANSFERRING, "blind_transfer")
            await k.repo.save(call)
            leg = call.operator_leg
            try:
                await k.control.blind_transfer(call.uniqueid, target, incident)
            except ContactError:
                await self._failsafe.fail_safe(call, "error")
                raise
            if leg:  # the operator is done with this call
                call.operator_leg = None
                await k.repo.save(call)
                with contextlib.suppress(ContactError):
                    await k.control.hangup(leg)
        else:
            if call.operator_leg is None:
                k.book.transfer_over(call.uniqueid)
                raise Conflict("the operator's phone is not on the call", error_id="no_leg")
            move(call, CallState.CONSULTING, "attended_transfer")
            await k.repo.save(call)
            try:
                await k.control.consult(call.uniqueid, call.operator_leg, target, incident)
            except ContactError:
                await self._failsafe.fail_safe(call, "error")
                raise
            await k.bus.publish(
                ev.CallHeld(
                    contact_id=call.contact_id, operator_id=call.operator_id, reason="consult"
                )
            )
        await k.bus.publish(
            ev.CallTransferred(
                contact_id=call.contact_id,
                operator_id=call.operator_id,
                target=target,
                mode=mode,
                outcome="started",
                incident_id=incident,
            )
        )

    async def complete(self, call: Call) -> None:
        if call.state != CallState.CONSULTING or call.consult_leg is None:
            raise Conflict("no answered consultation to complete", error_id="no_consultation")
        self._step(call, TransferEvent.COMPLETE)
        await self._phone.connect(call, call.consult_leg)

    async def cancel(self, call: Call) -> None:
        if call.state != CallState.CONSULTING:
            raise Conflict("no consultation to cancel", error_id="no_consultation")
        self._step(call, TransferEvent.CANCEL)
        if call.consult_leg is not None:
            await self._k.control.hangup(call.consult_leg)
        # the operator's Dial ends ([contact-consult]): ContactConsult reconnects the caller

    # --- the PBX's news -------------------------------------------------------------------------

    async def completed(self, call: Call, mode: str) -> None:
        """The caller talks to the service: contact's part is done (wrap-up)."""
        k = self._k
        self._step(call, TransferEvent.BRIDGED)
        k.book.transfer_over(call.uniqueid)
        call.bridged_at = k.now()  # a conversation with the service
        move(call, CallState.TRANSFERRED, f"{mode}_transfer_answered")
        operator_id, leg = call.operator_id, call.operator_leg
        call.operator_leg = None
        await k.repo.save(call)
        if leg and mode == "attended":
            with contextlib.suppress(ContactError):
                await k.control.hangup(leg)
        contact = await k.contacts.get(call.contact_id)
        target = call.transfer_target or "?"
        if contact.state is ContactState.CONNECTED and contact.operator_id is not None:
            await k.bus.execute(
                Close(
                    contact_id=contact.id,
                    operator_id=contact.operator_id,
                    disposition=f"transferred:{target}",
                    wrap_up=True,
                )
            )
        await k.bus.publish(
            ev.CallTransferred(
                contact_id=call.contact_id,
                operator_id=operator_id,
                target=target,
                mode=mode,
                outcome="completed",
                incident_id=contact.incident_id or contact.id,
            )
        )

    async def dial_started(self, call: Call, sig: parse.DialStarted) -> None:
        """The service's leg is dialled: from the operator's leg (attended) or the caller's
        (blind)."""
        if (sig.uniqueid, call.state) not in (
            (call.operator_leg, CallState.CONSULTING),
            (call.uniqueid, CallState.TRANSFERRING),
        ):
            return
        call.consult_leg = sig.dest_uniqueid
        self._k.book.link(sig.dest_uniqueid, call.uniqueid)
        await self._k.repo.save(call)

    async def dial_answered(self, call: Call, sig: parse.DialEnded) -> None:
        """The service answered (DialEnd ANSWER)."""
        if sig.uniqueid == call.uniqueid and call.state == CallState.TRANSFERRING:
            await self.completed(call, "blind")
        elif sig.uniqueid == call.operator_leg and call.state == CallState.CONSULTING:
            self._step(call, TransferEvent.ANSWERED)
            await self._k.bus.publish(
                ev.CallTransferred(
                    contact_id=call.contact_id,
                    operator_id=call.operator_id,
                    target=call.transfer_target or "?",
                    mode="attended",
                    outcome="consulting",
                    incident_id=await self._incident_of(call),
                )
            )

    async def dialplan_result(self, call: Call, sig: parse.DialplanResult) -> None:
        """[contact-dial] (blind) or [contact-consult] (attended) is over."""
        if sig.kind == "transfer" and call.state == CallState.TRANSFERRING:
            if sig.result == "ANSWER":
                return  # done at DialEnd; this is the end of their conversation
            await self._blind_failed(call, sig)
        elif sig.kind == "consult" and sig.uniqueid == call.operator_leg:
            await self._consultation_over(call, sig)

    async def _blind_failed(self, call: Call, sig: parse.DialplanResult) -> None:
        """Not answered: the dialplan took the caller back to holding; to the head."""
        k = self._k
        self._step(call, TransferEvent.ENDED)
        operator_id = call.operator_id
        move(call, CallState.HOLDING, "blind_transfer_failed")
        call.consult_leg = None
        call.operator_id = None
        call.bridged_at = None  # back in the queue: waiting for someone again
        await k.repo.save(call)
        await k.bus.publish(
            ev.CallTransferred(
                contact_id=call.contact_id,
                operator_id=operator_id,
                target=sig.target or call.transfer_target or "?",
                mode="blind",
                outcome="failed",
                incident_id=await self._incident_of(call),
            )
        )
        await k.bus.execute(ReturnToQueue(contact_id=call.contact_id, reason="transfer_failed"))

    async def _consultation_over(self, call: Call, sig: parse.DialplanResult) -> None:
        k = self._k
        completing = call.consult_leg is not None and (
            k.book.bridging_to(call.uniqueid) == call.consult_leg
        )
        if call.state == CallState.CONSULTING and not completing:
            # cancelled, not answered, or the service hung up: back to the operator
            transfer = self.of(call)
            cancelled = transfer is not None and transfer.state is TransferState.CANCELLING
            self._step(call, TransferEvent.ENDED)
            k.book.transfer_over(call.uniqueid)
            call.consult_leg = None
            move(call, CallState.RINGING, "consultation_over")
            await k.repo.save(call)
            await self._phone.connect(call, sig.uniqueid)
            await k.bus.publish(
                ev.CallTransferred(
                    contact_id=call.contact_id,
                    operator_id=call.operator_id,
                    target=sig.target or call.transfer_target or "?",
                    mode="attended",
                    outcome="cancelled" if cancelled else "failed",
                    incident_id=await self._incident_of(call),
                )
            )
        else:
            with contextlib.suppress(ContactError):
                await k.control.hangup(sig.uniqueid)
