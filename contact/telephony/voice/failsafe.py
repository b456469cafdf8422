"""Failing safe: after an error while steering a live call, the caller goes back to holding
([contact-hold]) and the contact back to the queue at its place; a call is never hung up by our
error. And the ReturnToQueue command every flow uses to give a contact back to the queue."""

from __future__ import annotations

import contextlib
import logging

from contact.domain import events as ev
from contact.domain.commands import ReturnToQueue, SetPresence
from contact.domain.model import Contact, ContactState, Presence
from contact.errors import ContactError, NotFound
from contact.ports import Call, CallState
from contact.telephony.voice.kit import Kit
from contact.telephony.voice.states import TransferEvent, move

log = logging.getLogger(__name__)

# why an operator's phone did not take the call: she is set away (with away_on_missed_offer),
# so that the call is not sent straight back to it
MISSED = frozenset({"no_answer", "operator_failed", "no_phone", "busy", "failed", "congestion"})


class FailSafe:
    def __init__(self, kit: Kit) -> None:
        self._k = kit

    async def fail_safe(self, call: Call, reason: str) -> None:
        """After an error: the caller back to holding, and (if it was an operator's) the
        contact back to the queue, at its place. Never a hangup."""
        k = self._k
        try:
            transfer = k.book.transfer_over(call.uniqueid)
            if transfer is not None and not transfer.over:
                with contextlib.suppress(Exception):
                    transfer.step(TransferEvent.ERROR)
            if call.direction == "in" and call.state != CallState.ENDED:
                with contextlib.suppress(NotFound):
                    await k.control.hold(call.uniqueid)
                operator_id = call.operator_id
                move(call, CallState.HOLDING, f"fail_safe:{reason}")
                call.operator_id = None
                call.bridged_at = None
                leg, call.operator_leg = call.operator_leg, None
                await k.repo.save(call)
                if leg:
                    with contextlib.suppress(ContactError):
                        await k.control.hangup(leg)
                await k.bus.publish(
                    ev.CallHeld(
                        contact_id=call.contact_id, operator_id=operator_id, reason="fail_safe"
                    )
                )
            await k.bus.execute(ReturnToQueue(contact_id=call.contact_id, reason=reason))
        except Exception:
            log.exception("fail safe failed", extra={"contact_id": call.contact_id})

    async def return_to_queue(self, command: ReturnToQueue) -> Contact:
        """ReturnToQueue handler: CONNECTED → QUEUED at the contact's original place."""
        k = self._k
        contact = await k.contacts.get(command.contact_id)
        if contact.state is not ContactState.CONNECTED:
            return contact
        operator_id = contact.operator_id
        now = k.now()
        call = k.book.live_call(contact.id)
        if call is not None and call.direction == "in" and call.answered_at is None:
            contact.answered_at = None  # accepted, never answered: the next accept answers
        contact.transition(ContactState.QUEUED, now)
        # only while still connected to her: a close or hand-over made meanwhile on another
        # node stands, and there is nothing to put back
        if not await k.contacts.save_if(
            contact, state=ContactState.CONNECTED, operator_id=operator_id
        ):
            return await k.contacts.get(command.contact_id)
        if operator_id is not None:
            await k.bus.publish(
                ev.OfferExpired(contact_id=contact.id, operator_id=operator_id, declined=False)
            )
        await k.bus.publish(ev.ContactQueued.of(contact, now))
        if operator_id is not None:
            # her phone did not take the call (not answered, refused, failed): away, so that the
            # call is not sent straight back to it
            away = command.reason in MISSED and k.settings.routing.away_on_missed_offer
            with contextlib.suppress(ContactError):
                await k.routing.set_presence(
                    SetPresence(
                        operator_id=operator_id, presence=Presence.AWAY if away else Presence.READY
                    )
                )
        log.info(
            "voice contact back in the queue (%s)", command.reason, extra={"contact_id": contact.id}
        )
        return contact
