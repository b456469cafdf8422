"""How calls end: a leg's Hangup, read against the call it belongs to.

- The caller's leg (the anchor): the call is over. Not talking to anyone yet (waiting, the
  accepting operator's phone ringing, back in the queue): abandoned, with a callback; talking
  (`bridged_at`): wrap-up for the operator.
- Asterisk stopping (after its Shutdown, until the next resync) or the link lost: the calls that
  end are drops, neither party's act; a conversation cut off gets a callback too.
- The operator's leg: her own BYE (normal clearing) ends the call for the caller too; anything
  else (a failed phone, the network) puts the caller back on hold and the contact at the head
  of the queue.
- A transfer target's leg: after a completed transfer, the call is over."""

from __future__ import annotations

import contextlib
import logging

from contact.domain import events as ev
from contact.domain.commands import Abandon, Close, ReturnToQueue
from contact.domain.model import ContactState, new_id
from contact.errors import Conflict, ContactError
from contact.ports import Call, CallState, Recording
from contact.telephony import parse
from contact.telephony.voice.callbacks import Callbacks
from contact.telephony.voice.kit import NOT_ANSWERED, Kit
from contact.telephony.voice.phone import OperatorPhone
from contact.telephony.voice.states import move

log = logging.getLogger(__name__)


class Endings:
    def __init__(self, kit: Kit, phone: OperatorPhone, callbacks: Callbacks) -> None:
        self._k = kit
        self._phone = phone
        self._callbacks = callbacks

    async def hung_up(self, sig: parse.HungUp) -> None:
        k = self._k
        book = k.book
        uid = sig.uniqueid
        book.own_leg_over(uid)
        if book.auto_callback(uid) is not None:
            return  # its OriginateResponse (failure) or its ContactCall tells the story
        caller = book.leg_of(uid)
        if caller is not None and book.early_leg_of(caller) == uid:
            book.early_leg_failed(caller)  # an armed phone that failed before its call came
        call = book.call_of(uid)
        if call is None:
            return
        if book.take_shutdown_end(uid):
            # neither party's act: the caller's leg ends the call; the others just go
            if uid == call.uniqueid:
                await self.call_gone(call, sig.cause, lost="asterisk_shutdown")
            else:
                if call.operator_leg == uid:
                    call.operator_leg = None
                if call.consult_leg == uid:
                    call.consult_leg = None
        elif uid == call.uniqueid:
            await self.call_gone(call, sig.cause)
        elif uid == call.operator_leg:
            await self._operator_leg_gone(call, sig.cause, uid)
        elif uid == call.consult_leg:
            await self._consult_leg_gone(call)
        book.unlink(uid)

    async def call_gone(self, call: Call, cause: int | None, *, lost: str | None = None) -> None:
        """The call is over. `lost`: the system lost it, neither party hung up (asterisk_shutdown:
        after Asterisk's Shutdown; link_lost: gone while contact could not see it).

        Whether the citizen was talking to someone is the call's own fact (`bridged_at`, the
        bridge of the conversation going on), never the contact's state: a contact is
        connected from the accept on, while the operator's phone still rings. Not talking:
        abandoned, with a callback; talking: wrap-up, with a callback if the system dropped it."""
        k = self._k
        dropped = lost is not None
        talking = call.bridged_at is not None
        if lost is not None:
            reason = lost
        elif call.state == CallState.TRANSFERRED:
            reason = "transferred"
        elif k.book.is_ended_by_operator(call.uniqueid):
            reason = "operator_hangup"
        elif call.direction == "out":
            reason = "callback_ended"
        else:
            reason = "caller_hangup"
        move(call, CallState.ENDED, reason)
        call.ended_at = k.now()
        call.end_reason = reason
        call.hangup_cause = cause
        call.dropped = dropped
        legs = [
            leg for leg in (call.operator_leg, call.consult_leg) if leg and leg != call.uniqueid
        ]
        k.book.forget(call)
        await k.repo.save(call)
        if not dropped:
            for leg in legs:
                with contextlib.suppress(ContactError):
                    await k.control.hangup(leg)
        contact = await k.contacts.get(call.contact_id)
        operator_id = contact.operator_id
        callback: str | None = None
        if call.kind == "sos_video":
            pass  # the SOS report stands without its video: the contact is left as it is
        elif call.direction == "in":
            if contact.state in NOT_ANSWERED or (
                contact.state is ContactState.CONNECTED and not talking
            ):
                # waiting, offered, or the accepting operator's phone ringing; or put back in
                # the queue while still bridged (her workplace was lost): nobody has it now
                await self._settle(Abandon(contact_id=contact.id))
            elif contact.state is ContactState.CONNECTED and operator_id is not None:
                await self._settle(
                    Close(
                        contact_id=contact.id,
                        operator_id=operator_id,
                        disposition=contact.disposition or reason,
                        wrap_up=True,
                    )
                )
            if not talking or dropped:
                # never talked to, or cut off mid-conversation by the system: called back
                callback = "dropped" if dropped else "abandoned"
        else:
            if (
                contact.state is ContactState.CONNECTED
                and operator_id is not None
                and call.answered_at is not None
            ):
                await self._settle(
                    Close(
                        contact_id=contact.id,
                        operator_id=operator_id,
                        disposition=contact.disposition or reason,
                        wrap_up=True,
                    )
                )
            if dropped and talking:
                callback = "dropped"
        if callback is not None:
            await self._callbacks.request(contact, call, callback)
        await k.bus.publish(
            ev.CallEnded(
                contact_id=call.contact_id,
                reason=reason,
                cause=cause,
                dropped=dropped,
                operator_id=operator_id,
            )
        )
        k.book.take_recording(call.uniqueid)
        if k.on_recording_closed is not None and call.recording is not None:
            recording = Recording(
                id=new_id(),
                contact_id=call.contact_id,
                call_id=call.id,
                path=call.recording,
                started_at=call.started_at,
                ended_at=call.ended_at,
            )
            k.on_recording_closed(recording)  # stored by its own task (recordings.py)

    async def _settle(self, command: Abandon | Close) -> None:
        """End the contact as the call's end says, unless it moved on since it was read (the
        operator closed it while the caller's BYE was on its way): hers stands, and the call's
        end is still recorded, published and called back as it should be."""
        try:
            await self._k.bus.execute(command)
        except Conflict as error:
            log.info(
                "voice: %s not needed, the contact moved on (%s)",
                command.name,
                error.error_id,
                extra={"contact_id": command.contact_id},
            )

    async def _operator_leg_gone(self, call: Call, cause: int | None, leg: str) -> None:
        k = self._k
        call.operator_leg = None
        state = call.state
        if (
            state in (CallState.RINGING, CallState.CONNECTED)
            and call.direction == "in"
            and cause != parse.NORMAL_CLEARING
            and await self._phone.ended_by_shutdown(leg)
        ):
            return  # a stopping Asterisk took her leg, not her phone: the caller's end decides
        if k.book.call_of(call.uniqueid) is not call or call.state != state:
            return  # the caller's end came meanwhile and decided
        if state == CallState.RINGING and call.direction == "in":
            # the phone was rejected or the leg failed before answering
            await self._phone.not_answered(call, "no_answer")
            return
        if state == CallState.CONNECTED and call.direction == "in":
            if cause == parse.NORMAL_CLEARING:
                # the operator's own BYE: the call is over for the caller too
                k.book.ended_by_operator(call.uniqueid)
                await k.repo.save(call)
                with contextlib.suppress(ContactError):
                    await k.control.hangup(call.uniqueid)
                return
            # the phone failed: the caller is back on hold ([contact-connect]); to the head
            log.warning(
                "operator leg failed (cause %s): caller back to the queue",
                cause,
                extra={"contact_id": call.contact_id},
            )
            operator_id = call.operator_id
            move(call, CallState.HOLDING, "operator_leg_failed")
            call.operator_id = None
            call.bridged_at = None  # cut off: waiting for someone again
            await k.repo.save(call)
            await k.bus.publish(
                ev.CallHeld(contact_id=call.contact_id, operator_id=operator_id, reason="fail_safe")
            )
            await k.bus.execute(ReturnToQueue(contact_id=call.contact_id, reason="operator_failed"))
            return
        if state == CallState.CONSULTING:
            consult = call.consult_leg
            call.consult_leg = None
            k.book.transfer_over(call.uniqueid)
            move(call, CallState.HOLDING, "operator_leg_gone_consulting")
            call.operator_id = None
            call.bridged_at = None
            await k.repo.save(call)
            if consult:
                with contextlib.suppress(ContactError):
                    await k.control.hangup(consult)
            await k.bus.execute(ReturnToQueue(contact_id=call.contact_id, reason="operator_failed"))
            return
        await k.repo.save(call)

    async def _consult_leg_gone(self, call: Call) -> None:
        if call.state == CallState.TRANSFERRED:
            # the service hung up after the transfer: the call is over
            with contextlib.suppress(ContactError):
                await self._k.control.hangup(call.uniqueid)
        # while consulting, the operator's leg reports the end (UserEvent ContactConsult)
